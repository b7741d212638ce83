import { table } from './table.repo.js';

/** One row of net_floatingips. */
export interface FloatingIpRow {
  id: string;
  project_id: string;
  floating_network_id: string;
  floating_port_id: string;
  floating_ip_address: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  status: string;
  description: string;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const floatingIpsRepo = table<FloatingIpRow>({
  table: 'net_floatingips',
  cols: [
    'id',
    'project_id',
    'floating_network_id',
    'floating_port_id',
    'floating_ip_address',
    'port_id',
    'fixed_ip_address',
    'router_id',
    'status',
    'description',
    'tags',
    'revision_number',
    'created_at',
    'updated_at',
  ],
  jsons: ['tags'],
});
