import type { Db } from '../db/open.js';
import { table } from './table.repo.js';

/** One row of net_networks. */
export interface NetworkRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: boolean;
  status: string;
  shared: boolean;
  router_external: boolean;
  is_default: boolean;
  network_type: 'vxlan' | 'flat';
  physical_network: string | null;
  segmentation_id: number | null;
  mtu: number;
  port_security_enabled: boolean;
  availability_zone_hints: string[];
  dns_domain: string;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const networksRepo = table<NetworkRow>({
  table: 'net_networks',
  cols: [
    'id',
    'project_id',
    'name',
    'description',
    'admin_state_up',
    'status',
    'shared',
    'router_external',
    'is_default',
    'network_type',
    'physical_network',
    'segmentation_id',
    'mtu',
    'port_security_enabled',
    'availability_zone_hints',
    'dns_domain',
    'tags',
    'revision_number',
    'created_at',
    'updated_at',
  ],
  bools: ['admin_state_up', 'shared', 'router_external', 'is_default', 'port_security_enabled'],
  jsons: ['availability_zone_hints', 'tags'],
});

/** The VNIs vxlan networks use (the allocator in vxlan.ts). */
export const vniRepo = {
  /** Used VNIs in [min, max], ascending. */
  usedBetween(db: Db, min: number, max: number): number[] {
    return db
      .prepare(
        `SELECT segmentation_id AS v FROM net_networks WHERE network_type = 'vxlan' AND segmentation_id BETWEEN ? AND ? ORDER BY segmentation_id`,
      )
      .pluck()
      .all(min, max) as number[];
  },
  taken(db: Db, vni: number): boolean {
    return !!db.prepare(`SELECT 1 FROM net_networks WHERE network_type = 'vxlan' AND segmentation_id = ?`).get(vni);
  },
};
