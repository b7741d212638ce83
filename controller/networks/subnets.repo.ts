import type { Pool } from './ipam.js';
import { table } from './table.repo.js';

export interface HostRouteT {
  destination: string;
  nexthop: string;
}

/** One row of net_subnets. */
export interface SubnetRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  ip_version: 4 | 6;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  allocation_pools: Pool[];
  dns_nameservers: string[];
  host_routes: HostRouteT[];
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const subnetsRepo = table<SubnetRow>({
  table: 'net_subnets',
  cols: [
    'id',
    'network_id',
    'project_id',
    'name',
    'description',
    'ip_version',
    'cidr',
    'gateway_ip',
    'enable_dhcp',
    'allocation_pools',
    'dns_nameservers',
    'host_routes',
    'ipv6_ra_mode',
    'ipv6_address_mode',
    'tags',
    'revision_number',
    'created_at',
    'updated_at',
  ],
  bools: ['enable_dhcp'],
  jsons: ['allocation_pools', 'dns_nameservers', 'host_routes', 'tags'],
});
