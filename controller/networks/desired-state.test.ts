import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { NetworkSyncBody } from '../../shared/agent/network.js';
import { computeDesiredState, type DesiredPort, type Snapshot } from './desired-state.js';
import type { NetworkRow } from './networks.repo.js';
import type { RouterRow } from './routers.repo.js';
import type { SubnetRow } from './subnets.repo.js';
import type { RuleRow } from './secgroups.repo.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const T = '2026-01-01T00:00:00Z';
const net = (n: number, o: Partial<NetworkRow> = {}): NetworkRow => ({
  id: id(n),
  project_id: 'p',
  name: `n${n}`,
  description: '',
  admin_state_up: true,
  status: 'ACTIVE',
  shared: false,
  router_external: false,
  is_default: false,
  network_type: 'vxlan',
  physical_network: null,
  segmentation_id: 1000 + n,
  mtu: 1450,
  port_security_enabled: true,
  availability_zone_hints: [],
  dns_domain: '',
  tags: [],
  revision_number: 0,
  created_at: T,
  updated_at: T,
  ...o,
});
const sub = (n: number, network: number, cidr: string, o: Partial<SubnetRow> = {}): SubnetRow => ({
  id: id(n),
  network_id: id(network),
  project_id: 'p',
  name: '',
  description: '',
  ip_version: 4,
  cidr,
  gateway_ip: cidr.replace(/0\/\d+$/, '1'),
  enable_dhcp: true,
  allocation_pools: [],
  dns_nameservers: ['192.0.2.53'],
  host_routes: [],
  ipv6_ra_mode: null,
  ipv6_address_mode: null,
  tags: [],
  revision_number: 0,
  created_at: T,
  updated_at: T,
  ...o,
});
const port = (n: number, network: number, o: Partial<DesiredPort> = {}): DesiredPort => ({
  id: id(n),
  network_id: id(network),
  project_id: 'p',
  name: '',
  description: '',
  mac_address: `fa:16:3e:00:00:${String(n).padStart(2, '0')}`,
  admin_state_up: true,
  status: 'ACTIVE',
  device_id: '',
  device_owner: 'compute:nova',
  binding_host_id: '',
  binding_vnic_type: 'normal',
  binding_profile: {},
  port_security_enabled: true,
  allowed_address_pairs: [],
  extra_dhcp_opts: [],
  dns_name: '',
  auto_delete: false,
  tags: [],
  revision_number: 0,
  created_at: T,
  updated_at: T,
  fixed_ips: [],
  security_groups: [],
  ...o,
});
const rule = (n: number, group: number, o: Partial<RuleRow> = {}): RuleRow => ({
  id: id(n),
  security_group_id: id(group),
  project_id: 'p',
  direction: 'ingress',
  ethertype: 'IPv4',
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_group_id: null,
  description: '',
  revision_number: 0,
  created_at: T,
  updated_at: T,
  ...o,
});
const router = (n: number, o: Partial<RouterRow> = {}): RouterRow => ({
  id: id(n),
  project_id: 'p',
  name: '',
  description: '',
  admin_state_up: true,
  status: 'ACTIVE',
  gw_network_id: null,
  gw_port_id: null,
  enable_snat: true,
  routes: [],
  host: 'h1',
  tags: [],
  revision_number: 0,
  created_at: T,
  updated_at: T,
  ...o,
});

/** Two networks; h1 runs DHCP and the router, VMs on h1 and h2; h3 has nothing. */
function cloud(): Snapshot {
  return {
    hosts: [
      { name: 'h1', tunnel_ip: '192.0.2.1', roles: ['compute', 'network'], moving_ports: true },
      { name: 'h2', tunnel_ip: '192.0.2.2', roles: ['compute', 'network'], moving_ports: true },
      { name: 'h3', tunnel_ip: '192.0.2.3', roles: ['compute', 'network'], moving_ports: true },
      { name: 'vol', tunnel_ip: '', roles: ['volume'] },
    ],
    networks: [
      net(1),
      net(2),
      net(3, { network_type: 'flat', physical_network: 'public', segmentation_id: null, mtu: 1500, router_external: true }),
    ],
    subnets: [
      sub(11, 1, '10.0.1.0/24'),
      sub(12, 2, '10.0.2.0/24'),
      sub(13, 3, '203.0.113.0/24', { enable_dhcp: false, gateway_ip: '203.0.113.1' }),
    ],
    ports: [
      port(21, 1, {
        device_owner: 'network:dhcp',
        binding_host_id: 'h1',
        fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.2' }],
      }),
      port(22, 1, {
        binding_host_id: 'h1',
        fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.10' }],
        security_groups: [id(90)],
      }),
      port(23, 1, {
        binding_host_id: 'h2',
        fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.11' }],
        security_groups: [id(90)],
      }),
      port(24, 2, {
        binding_host_id: 'h2',
        fixed_ips: [{ subnet_id: id(12), ip_address: '10.0.2.10' }],
        security_groups: [id(91)],
      }),
      port(25, 1, {
        device_owner: 'network:router_interface',
        device_id: id(40),
        binding_host_id: 'h1',
        fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.1' }],
      }),
      port(26, 3, {
        device_owner: 'network:router_gateway',
        device_id: id(40),
        binding_host_id: 'h1',
        fixed_ips: [{ subnet_id: id(13), ip_address: '203.0.113.2' }],
      }),
      port(27, 3, {
        device_owner: 'network:floatingip',
        device_id: id(50),
        fixed_ips: [{ subnet_id: id(13), ip_address: '203.0.113.5' }],
      }),
      port(28, 2, {
        device_owner: 'compute:nova',
        binding_host_id: '',
        fixed_ips: [{ subnet_id: id(12), ip_address: '10.0.2.11' }],
      }),
    ],
    routers: [router(40, { gw_network_id: id(3), gw_port_id: id(26) })],
    floatingips: [
      {
        id: id(50),
        project_id: 'p',
        floating_network_id: id(3),
        floating_port_id: id(27),
        floating_ip_address: '203.0.113.5',
        port_id: id(23),
        fixed_ip_address: '10.0.1.11',
        router_id: id(40),
        status: 'ACTIVE',
        description: '',
        tags: [],
        revision_number: 0,
        created_at: T,
        updated_at: T,
      },
    ],
    rules: [
      rule(80, 90, { remote_group_id: id(90) }),
      rule(81, 90, { direction: 'egress' }),
      rule(82, 91, { remote_group_id: id(92) }),
    ],
    groups: [id(90), id(91), id(92)],
  };
}

describe('computeDesiredState', () => {
  it('produces one valid sync body per network host', () => {
    const d = computeDesiredState(cloud());
    expect([...d.keys()]).toEqual(['h1', 'h2', 'h3']);
    for (const body of d.values()) expect(Value.Check(NetworkSyncBody, { generation: 1, ...body })).toBe(true);
  });

  it('tunnels only to peers sharing a network, and floods each network only to its peers', () => {
    const d = computeDesiredState(cloud());
    const h1 = d.get('h1')!,
      h2 = d.get('h2')!,
      h3 = d.get('h3')!;
    expect(h1.tunnels).toEqual([{ ip: '192.0.2.2', host: 'h2' }]);
    expect(h2.tunnels).toEqual([{ ip: '192.0.2.1', host: 'h1' }]);
    expect(h3).toEqual({ tunnels: [], networks: [], ports: [], security_groups: [], dhcp: [], routers: [] });
    expect(h1.networks.map((n) => n.id)).toEqual([id(1), id(3)]);
    expect(h1.networks[0]).toEqual({ id: id(1), type: 'vxlan', mtu: 1450, vni: 1001, peers: ['192.0.2.2'] });
    expect(h1.networks[1]).toEqual({ id: id(3), type: 'flat', mtu: 1500, physical_network: 'public' });
    // Network 2 lives only on h2 (its other port is unbound): no peers.
    expect(h2.networks.find((n) => n.id === id(2))!.peers).toEqual([]);
  });

  it('puts VM ports on their host with their groups, and remote groups with member addresses', () => {
    const d = computeDesiredState(cloud());
    const h2 = d.get('h2')!;
    expect(h2.ports.map((p) => p.port_id)).toEqual([id(23), id(24)]);
    expect(h2.ports[0]).toMatchObject({
      network_id: id(1),
      mac: 'fa:16:3e:00:00:23',
      port_security: true,
      security_group_ids: [id(90)],
      fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.11' }],
    });
    expect(h2.security_groups.map((g) => g.id)).toEqual([id(90), id(91), id(92)]);
    expect(h2.security_groups[0]!.member_ips).toEqual(['10.0.1.10', '10.0.1.11']);
    expect(h2.security_groups[0]!.rules.map((r) => r.id)).toEqual([id(80), id(81)]);
    expect(d.get('h1')!.ports.map((p) => p.port_id)).toEqual([id(22)]);
  });

  it('wires a live-migrating port on both hosts, marked source and destination, until it is bound to the destination', () => {
    const c = cloud();
    const p = c.ports.find((x) => x.id === id(22))!;
    p.binding_profile = { migrating_to: 'h2' };
    let d = computeDesiredState(c);
    expect(d.get('h1')!.ports.find((x) => x.port_id === id(22))).toMatchObject({ live_migration: 'source' });
    expect(d.get('h2')!.ports.find((x) => x.port_id === id(22))).toMatchObject({ live_migration: 'destination' });
    for (const body of d.values()) expect(Value.Check(NetworkSyncBody, { generation: 1, ...body })).toBe(true);
    // an agent of the release before (no live_migration_ports capability) gets the ordinary port, which it accepts
    c.hosts.find((h) => h.name === 'h2')!.moving_ports = false;
    const old = computeDesiredState(c)
      .get('h2')!
      .ports.find((x) => x.port_id === id(22))!;
    expect(old.live_migration).toBeUndefined();
    expect(
      computeDesiredState(c)
        .get('h1')!
        .ports.find((x) => x.port_id === id(22)),
    ).toMatchObject({ live_migration: 'source' });
    c.hosts.find((h) => h.name === 'h2')!.moving_ports = true;
    // bound to the destination (migrating_to not yet cleared): an ordinary port there, gone from the source
    p.binding_host_id = 'h2';
    d = computeDesiredState(c);
    expect(d.get('h1')!.ports.map((x) => x.port_id)).not.toContain(id(22));
    expect(d.get('h2')!.ports.find((x) => x.port_id === id(22))!.live_migration).toBeUndefined();
  });

  it('gives the DHCP host its server with every port of the network', () => {
    const dhcp = computeDesiredState(cloud()).get('h1')!.dhcp;
    expect(dhcp).toHaveLength(1);
    expect(dhcp[0]).toMatchObject({
      network_id: id(1),
      mtu: 1450,
      port: { port_id: id(21), mac: 'fa:16:3e:00:00:21', fixed_ips: [{ subnet_id: id(11), ip_address: '10.0.1.2' }] },
      subnets: [
        {
          id: id(11),
          cidr: '10.0.1.0/24',
          ip_version: 4,
          gateway_ip: '10.0.1.1',
          dns_nameservers: ['192.0.2.53'],
          host_routes: [],
        },
      ],
    });
    expect(dhcp[0]!.hosts).toEqual([
      { mac: 'fa:16:3e:00:00:22', ip_address: '10.0.1.10', hostname: 'host-10-0-1-10' },
      { mac: 'fa:16:3e:00:00:23', ip_address: '10.0.1.11', hostname: 'host-10-0-1-11' },
      { mac: 'fa:16:3e:00:00:25', ip_address: '10.0.1.1', hostname: 'host-10-0-1-1' },
    ]);
  });

  it('gives the L3 host its router with interfaces, gateway and floating IPs', () => {
    const r = computeDesiredState(cloud()).get('h1')!.routers;
    expect(r).toEqual([
      {
        id: id(40),
        interfaces: [{ port_id: id(25), network_id: id(1), subnet_id: id(11), mac: 'fa:16:3e:00:00:25', ip_cidr: '10.0.1.1/24' }],
        gateway: {
          port_id: id(26),
          network_id: id(3),
          mac: 'fa:16:3e:00:00:26',
          ip_cidr: '203.0.113.2/24',
          gateway_ip: '203.0.113.1',
          enable_snat: true,
        },
        floating_ips: [{ id: id(50), floating_ip_address: '203.0.113.5', fixed_ip_address: '10.0.1.11', port_id: id(23) }],
        metadata: { instances: [] },
      },
    ]);
  });

  it('gives the metadata proxies the servers they serve: DHCP the DHCP subnets, a router all its internal subnets', () => {
    const s = cloud();
    const owned = (p: DesiredPort, server: number, project = 'p') => ({ ...p, device_id: id(server), project_id: project });
    s.ports = s.ports.map((p) =>
      p.id === id(22) ? owned(p, 60) : p.id === id(23) ? owned(p, 61, 'q') : p.id === id(24) ? owned(p, 62) : p,
    );
    // network 2's subnet has no DHCP, and the router has an interface there too
    s.subnets = s.subnets.map((x) => (x.id === id(12) ? { ...x, enable_dhcp: false } : x));
    s.ports.push(
      port(29, 2, {
        device_owner: 'network:router_interface',
        device_id: id(40),
        binding_host_id: 'h1',
        fixed_ips: [{ subnet_id: id(12), ip_address: '10.0.2.1' }],
      }),
    );
    const h1 = computeDesiredState(s).get('h1')!;
    const vm = (ip: string, server: number, project = 'p') => ({ ip_address: ip, instance_id: id(server), project_id: project });
    expect(h1.dhcp.map((d) => d.metadata)).toEqual([{ instances: [vm('10.0.1.10', 60), vm('10.0.1.11', 61, 'q')] }]);
    expect(h1.routers[0]!.metadata).toEqual({
      instances: [vm('10.0.1.10', 60), vm('10.0.1.11', 61, 'q'), vm('10.0.2.10', 62)],
    });
    expect(Value.Check(NetworkSyncBody, { generation: 1, ...h1 })).toBe(true);
    // metadata_service off: no proxy anywhere
    const off = computeDesiredState({ ...s, metadataService: false }).get('h1')!;
    expect(off.dhcp[0]!.metadata).toBeUndefined();
    expect(off.routers[0]!.metadata).toBeUndefined();
  });

  it('drops a tunnel when the last shared network goes, and is deterministic', () => {
    const s = cloud();
    s.ports = s.ports.filter((p) => p.id !== id(23));
    const d = computeDesiredState(s);
    expect(d.get('h1')!.tunnels).toEqual([]);
    expect(d.get('h2')!.networks.map((n) => n.id)).toEqual([id(2)]);
    expect(JSON.stringify([...computeDesiredState(cloud())])).toBe(JSON.stringify([...computeDesiredState(cloud())]));
  });
});
