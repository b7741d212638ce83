import type { Db } from '../db/open.js';
import type { HostRouteT } from './subnets.repo.js';
import { table } from './table.repo.js';

/** One row of net_routers (interfaces are ports with device_owner network:router_interface). */
export interface RouterRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: boolean;
  status: string;
  gw_network_id: string | null;
  gw_port_id: string | null;
  enable_snat: boolean;
  routes: HostRouteT[];
  host: string;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const routersRepo = table<RouterRow>({
  table: 'net_routers',
  cols: [
    'id',
    'project_id',
    'name',
    'description',
    'admin_state_up',
    'status',
    'gw_network_id',
    'gw_port_id',
    'enable_snat',
    'routes',
    'host',
    'tags',
    'revision_number',
    'created_at',
    'updated_at',
  ],
  bools: ['admin_state_up', 'enable_snat'],
  jsons: ['routes', 'tags'],
});

/** Lets go of the router's gateway port (the row references it) before the port is deleted. */
export function clearGateway(db: Db, routerId: string): void {
  db.prepare('UPDATE net_routers SET gw_port_id = NULL, gw_network_id = NULL WHERE id = ?').run(routerId);
}
