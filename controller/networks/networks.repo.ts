import { table } from './table.js';

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
