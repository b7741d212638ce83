import type { Db } from '../db/open.js';
import { table } from './table.repo.js';

export interface AddressPairT {
  ip_address: string;
  mac_address: string;
}
export interface FixedIpT {
  subnet_id: string;
  ip_address: string;
}

/** One row of net_ports (fixed IPs and security groups live in their own tables). */
export interface PortRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  device_id: string;
  device_owner: string;
  binding_host_id: string;
  binding_vnic_type: string;
  binding_profile: Record<string, unknown>;
  port_security_enabled: boolean;
  allowed_address_pairs: AddressPairT[];
  extra_dhcp_opts: unknown[];
  dns_name: string;
  /** Made by compute for a server (deleted when the server releases its ports). */
  auto_delete: boolean;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const portsRepo = table<PortRow>({
  table: 'net_ports',
  cols: [
    'id',
    'network_id',
    'project_id',
    'name',
    'description',
    'mac_address',
    'admin_state_up',
    'status',
    'device_id',
    'device_owner',
    'binding_host_id',
    'binding_vnic_type',
    'binding_profile',
    'port_security_enabled',
    'allowed_address_pairs',
    'extra_dhcp_opts',
    'dns_name',
    'auto_delete',
    'tags',
    'revision_number',
    'created_at',
    'updated_at',
  ],
  bools: ['admin_state_up', 'port_security_enabled', 'auto_delete'],
  jsons: ['binding_profile', 'allowed_address_pairs', 'extra_dhcp_opts', 'tags'],
});

/** IP allocations (the IPAM table) and port ↔ security group links. */
export const allocRepo = {
  /** Addresses in use on a subnet (canonical text). */
  inUse(db: Db, subnetId: string): Set<string> {
    return new Set(db.prepare('SELECT ip_address FROM net_ip_allocations WHERE subnet_id = ?').pluck().all(subnetId) as string[]);
  },
  countOnSubnet(db: Db, subnetId: string): number {
    return db.prepare('SELECT COUNT(*) FROM net_ip_allocations WHERE subnet_id = ?').pluck().get(subnetId) as number;
  },
  /** Ports (other than the excepted owners) holding an address on the subnet. */
  portsOnSubnet(
    db: Db,
    subnetId: string,
  ): Array<{ port_id: string; device_owner: string; device_id: string; ip_address: string }> {
    return db
      .prepare(
        `SELECT a.port_id, p.device_owner, p.device_id, a.ip_address FROM net_ip_allocations a JOIN net_ports p ON p.id = a.port_id
        WHERE a.subnet_id = ? ORDER BY p.created_at`,
      )
      .all(subnetId) as Array<{ port_id: string; device_owner: string; device_id: string; ip_address: string }>;
  },
  ofPort(db: Db, portId: string): FixedIpT[] {
    return db
      .prepare('SELECT subnet_id, ip_address FROM net_ip_allocations WHERE port_id = ? ORDER BY seq')
      .all(portId) as FixedIpT[];
  },
  /** All allocations, grouped by port (for list views and snapshots). */
  all(db: Db): Map<string, FixedIpT[]> {
    const m = new Map<string, FixedIpT[]>();
    for (const r of db
      .prepare('SELECT port_id, subnet_id, ip_address FROM net_ip_allocations ORDER BY port_id, seq')
      .all() as Array<FixedIpT & { port_id: string }>) {
      m.set(r.port_id, [...(m.get(r.port_id) ?? []), { subnet_id: r.subnet_id, ip_address: r.ip_address }]);
    }
    return m;
  },
  /** Throws SQLITE_CONSTRAINT_PRIMARYKEY if the address is taken (the last guard). */
  add(db: Db, a: { subnet_id: string; ip_address: string; port_id: string; network_id: string; seq: number }): void {
    db.prepare('INSERT INTO net_ip_allocations (subnet_id, ip_address, port_id, network_id, seq) VALUES (?, ?, ?, ?, ?)').run(
      a.subnet_id,
      a.ip_address,
      a.port_id,
      a.network_id,
      a.seq,
    );
  },
  removeNetwork(db: Db, networkId: string): void {
    db.prepare('DELETE FROM net_ip_allocations WHERE network_id = ?').run(networkId);
  },
  removeSubnet(db: Db, subnetId: string): void {
    db.prepare('DELETE FROM net_ip_allocations WHERE subnet_id = ?').run(subnetId);
  },
  removePort(db: Db, portId: string): void {
    db.prepare('DELETE FROM net_ip_allocations WHERE port_id = ?').run(portId);
  },
  remove(db: Db, portId: string, subnetId: string, ip: string): void {
    db.prepare('DELETE FROM net_ip_allocations WHERE port_id = ? AND subnet_id = ? AND ip_address = ?').run(portId, subnetId, ip);
  },
  usedCounts(db: Db): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of db.prepare('SELECT subnet_id, COUNT(*) AS n FROM net_ip_allocations GROUP BY subnet_id').all() as Array<{
      subnet_id: string;
      n: number;
    }>)
      m.set(r.subnet_id, r.n);
    return m;
  },
};

export const portSgRepo = {
  ofPort(db: Db, portId: string): string[] {
    return db
      .prepare('SELECT security_group_id FROM net_port_security_groups WHERE port_id = ? ORDER BY rowid')
      .pluck()
      .all(portId) as string[];
  },
  all(db: Db): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const r of db.prepare('SELECT port_id, security_group_id FROM net_port_security_groups ORDER BY rowid').all() as Array<{
      port_id: string;
      security_group_id: string;
    }>) {
      m.set(r.port_id, [...(m.get(r.port_id) ?? []), r.security_group_id]);
    }
    return m;
  },
  set(db: Db, portId: string, groups: string[]): void {
    db.prepare('DELETE FROM net_port_security_groups WHERE port_id = ?').run(portId);
    const ins = db.prepare('INSERT OR IGNORE INTO net_port_security_groups (port_id, security_group_id) VALUES (?, ?)');
    for (const g of groups) ins.run(portId, g);
  },
  clear(db: Db, portId: string): void {
    db.prepare('DELETE FROM net_port_security_groups WHERE port_id = ?').run(portId);
  },
  portsUsing(db: Db, groupId: string): number {
    return db.prepare('SELECT COUNT(*) FROM net_port_security_groups WHERE security_group_id = ?').pluck().get(groupId) as number;
  },
};

export const portStatusRepo = {
  /** A bound port the agent reports plugged becomes ACTIVE (no-op when it already is, or is unbound). */
  markActive(db: Db, portId: string): void {
    db.prepare(`UPDATE net_ports SET status = 'ACTIVE' WHERE id = ? AND status <> 'ACTIVE' AND binding_host_id <> ''`).run(
      portId,
    );
  },
};
