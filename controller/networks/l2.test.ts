import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { netTestApp, type NetTestApp } from './testing/kit.js';

let t: NetTestApp;
beforeEach(async () => {
  t = await netTestApp();
});
afterEach(async () => {
  await t.close();
});

async function net(name: string, token = 'admin') {
  const r = await t.req('POST', '/v2.0/networks', token, { network: { admin_state_up: true, name } });
  expect(r.status).toBe(201);
  return r.body.network;
}
async function subnet(networkId: string, cidr: string, extra: Record<string, unknown> = {}, token = 'admin') {
  const r = await t.req('POST', '/v2.0/subnets', token, {
    subnet: { name: `s-${cidr}`, network_id: networkId, cidr, ip_version: 4, ...extra },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.subnet;
}

describe('networks', () => {
  it('creates a VXLAN network with a VNI, MTU 1450 and every field clients read', async () => {
    const n = await net('tnet-a');
    expect(n).toMatchObject({
      name: 'tnet-a',
      status: 'ACTIVE',
      subnets: [],
      shared: false,
      'router:external': false,
      'provider:network_type': 'vxlan',
      'provider:physical_network': null,
      mtu: 1450,
      port_security_enabled: true,
      availability_zone_hints: [],
      ipv4_address_scope: null,
      ipv6_address_scope: null,
      is_default: false,
      description: '',
      tags: [],
      project_id: 'p-admin',
      tenant_id: 'p-admin',
      admin_state_up: true,
    });
    expect(n['provider:segmentation_id']).toBe(1000);
    expect(n.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(typeof n.revision_number).toBe('number');
    const n2 = await net('tnet-b');
    expect(n2['provider:segmentation_id']).toBe(1001);
  });

  it("takes an admin's provider segment and MTU, as numbers or as the client's strings", async () => {
    const r = await t.req('POST', '/v2.0/networks', 'admin', {
      network: { name: 'seg', 'provider:network_type': 'vxlan', 'provider:segmentation_id': '5000', mtu: '1400' },
    });
    expect(r.status).toBe(201);
    expect(r.body.network).toMatchObject({ 'provider:segmentation_id': 5000, mtu: 1400 });
    expect(
      (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'seg2', 'provider:segmentation_id': 5000 } })).status,
    ).toBe(409);
    expect((await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'big', mtu: 1500 } })).status).toBe(400);
  });

  it('hides provider attributes from members and refuses them provider networks', async () => {
    const n = await net('tnet-m', 'alice');
    expect(n).not.toHaveProperty('provider:segmentation_id');
    const r = await t.req('POST', '/v2.0/networks', 'alice', {
      network: { name: 'x', 'provider:network_type': 'flat', 'provider:physical_network': 'public' },
    });
    expect(r.status).toBe(403);
    expect(r.body.NeutronError.type).toBe('PolicyNotAuthorized');
  });

  it('finds by id, 404s a name (so clients fall back to ?name=), and filters by name', async () => {
    const n = await net('tnet-find');
    expect((await t.req('GET', `/v2.0/networks/${n.id}`)).body.network.id).toBe(n.id);
    const miss = await t.req('GET', '/v2.0/networks/tnet-find');
    expect(miss.status).toBe(404);
    expect(miss.body.NeutronError).toMatchObject({ type: 'NetworkNotFound', detail: '' });
    await net('other');
    const l = await t.req('GET', '/v2.0/networks?name=tnet-find');
    expect(l.body.networks.map((x: any) => x.id)).toEqual([n.id]);
  });

  it("keeps other projects' networks private but shows shared and external ones", async () => {
    await net('alice-net', 'alice');
    const shared = (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'shared', shared: true } })).body.network;
    const bobs = (await t.req('GET', '/v2.0/networks', 'bob')).body.networks.map((x: any) => x.name);
    expect(bobs).toEqual(['shared']);
    expect((await t.req('GET', `/v2.0/networks/${shared.id}`, 'bob')).status).toBe(200);
  });

  it('shows subnets of a shared network to other projects, not those of a non-shared external one', async () => {
    const ext = (
      await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'public', 'router:external': true, shared: false } })
    ).body.network;
    const extSub = await subnet(ext.id, '203.0.113.0/24');
    const shared = (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'shared', shared: true } })).body.network;
    const sharedSub = await subnet(shared.id, '10.9.0.0/24');
    expect((await t.req('GET', `/v2.0/networks/${ext.id}`, 'bob')).status).toBe(200);
    expect((await t.req('GET', `/v2.0/subnets?network_id=${ext.id}`, 'bob')).body.subnets).toEqual([]);
    expect((await t.req('GET', `/v2.0/subnets/${extSub.id}`, 'bob')).status).toBe(404);
    expect((await t.req('GET', '/v2.0/subnets', 'bob')).body.subnets.map((x: any) => x.id)).toEqual([sharedSub.id]);
    expect((await t.req('GET', `/v2.0/subnets/${sharedSub.id}`, 'bob')).status).toBe(200);
    expect((await t.req('GET', `/v2.0/subnets?network_id=${ext.id}`, 'admin')).body.subnets).toHaveLength(1);
  });

  it('accepts repeated fields= including unknown fields', async () => {
    const n = await net('tnet-fields');
    const r = await t.req('GET', `/v2.0/networks?fields=id&fields=name&fields=no_such_field&name=tnet-fields`);
    expect(r.status).toBe(200);
    expect(r.body.networks).toEqual([{ id: n.id, name: 'tnet-fields' }]);
  });

  it('pages with limit and marker and gives networks_links', async () => {
    for (const x of ['p1', 'p2', 'p3']) await net(x);
    const a = await t.req('GET', '/v2.0/networks?limit=2');
    expect(a.body.networks).toHaveLength(2);
    expect(a.body.networks_links[0].rel).toBe('next');
    const b = await t.req('GET', `/v2.0/networks?limit=2&marker=${a.body.networks[1].id}`);
    expect(b.body.networks.map((x: any) => x.name)).toEqual(['p3']);
    expect(b.body.networks_links).toBeUndefined();
  });

  it('rejects a bad attribute type naming it', async () => {
    const r = await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 5 } });
    expect(r.status).toBe(400);
    expect(r.body.NeutronError.message).toContain('name');
  });

  it('updates and deletes', async () => {
    const n = await net('tnet-u');
    const u = await t.req('PUT', `/v2.0/networks/${n.id}`, 'admin', { network: { name: 'renamed', description: 'd' } });
    expect(u.body.network).toMatchObject({ name: 'renamed', description: 'd' });
    expect(u.body.network.revision_number).toBe(n.revision_number + 1);
    expect((await t.req('DELETE', `/v2.0/networks/${n.id}`)).status).toBe(204);
    expect((await t.req('GET', `/v2.0/networks/${n.id}`)).status).toBe(404);
  });
});

describe('subnets', () => {
  it('fills Neutron defaults and makes a DHCP port', async () => {
    const n = await net('tnet-s');
    const s = await subnet(n.id, '10.251.0.0/24');
    expect(s).toMatchObject({
      gateway_ip: '10.251.0.1',
      enable_dhcp: true,
      allocation_pools: [{ start: '10.251.0.2', end: '10.251.0.254' }],
      dns_nameservers: [],
      host_routes: [],
      ipv6_ra_mode: null,
      ipv6_address_mode: null,
      subnetpool_id: null,
      service_types: [],
      segment_id: null,
    });
    const ports = (await t.req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports;
    expect(ports).toHaveLength(1);
    expect(ports[0]).toMatchObject({ device_owner: 'network:dhcp', fixed_ips: [{ subnet_id: s.id, ip_address: '10.251.0.2' }] });
    expect((await t.req('DELETE', `/v2.0/ports/${ports[0].id}`)).status).toBe(409);
    // DHCP off: the port goes; on again: it comes back.
    await t.req('PUT', `/v2.0/subnets/${s.id}`, 'admin', { subnet: { enable_dhcp: false } });
    expect((await t.req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports).toEqual([]);
    await t.req('PUT', `/v2.0/subnets/${s.id}`, 'admin', { subnet: { enable_dhcp: true } });
    expect((await t.req('GET', `/v2.0/ports?network_id=${n.id}&device_owner=network:dhcp`)).body.ports).toHaveLength(1);
    expect((await t.req('GET', `/v2.0/networks/${n.id}`)).body.network.subnets).toEqual([s.id]);
  });

  it('takes pools and DNS servers; allows overlapping CIDRs on different networks, not on one', async () => {
    const a = await net('tnet-a');
    const b = await net('tnet-b');
    const sa = await subnet(a.id, '10.253.0.0/24', {
      allocation_pools: [{ start: '10.253.0.100', end: '10.253.0.150' }],
      dns_nameservers: ['192.0.2.53'],
    });
    expect(sa.allocation_pools).toEqual([{ start: '10.253.0.100', end: '10.253.0.150' }]);
    expect(sa.dns_nameservers).toEqual(['192.0.2.53']);
    await subnet(b.id, '10.253.0.0/24');
    const dup = await t.req('POST', '/v2.0/subnets', 'admin', {
      subnet: { network_id: a.id, cidr: '10.253.0.128/25', ip_version: 4 },
    });
    expect(dup.status).toBe(400);
  });

  it('refuses bad CIDRs, pools outside the subnet and a gateway in a pool', async () => {
    const n = await net('tnet-bad');
    const bad = (extra: object) =>
      t.req('POST', '/v2.0/subnets', 'admin', { subnet: { network_id: n.id, ip_version: 4, cidr: '10.0.0.0/24', ...extra } });
    expect((await bad({ cidr: '10.0.0.0/33' })).status).toBe(400);
    expect((await bad({ cidr: 'fd00::/64' })).status).toBe(400);
    expect((await bad({ allocation_pools: [{ start: '10.0.1.1', end: '10.0.1.5' }] })).status).toBe(400);
    expect((await bad({ gateway_ip: '10.0.0.5', allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.10' }] })).status).toBe(409);
  });

  it('supports IPv6 and no gateway', async () => {
    const n = await net('tnet-v6');
    const r = await t.req('POST', '/v2.0/subnets', 'admin', {
      subnet: { network_id: n.id, ip_version: 6, cidr: 'fd00:1::/64', gateway_ip: null, enable_dhcp: false },
    });
    expect(r.status).toBe(201);
    expect(r.body.subnet).toMatchObject({
      gateway_ip: null,
      allocation_pools: [{ start: 'fd00:1::1', end: 'fd00:1::ffff:ffff:ffff:ffff' }],
    });
  });
});

describe('IPv6', () => {
  it('deletes a SLAAC or DHCPv6-stateless subnet under ports (their addresses go), not a stateful one', async () => {
    const v6 = async (networkId: string, mode: string, cidr: string) =>
      (
        await t.req('POST', '/v2.0/subnets', 'admin', {
          subnet: { network_id: networkId, ip_version: 6, cidr, ipv6_address_mode: mode, ipv6_ra_mode: mode },
        })
      ).body.subnet;
    for (const [mode, cidr] of [
      ['slaac', 'fd00:21::/64'],
      ['dhcpv6-stateless', 'fd00:22::/64'],
    ] as const) {
      const n = await net(`tnet-${mode}`);
      const v4 = await subnet(n.id, '10.21.0.0/24');
      const sn = await v6(n.id, mode, cidr);
      const port = (await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id } })).body.port;
      expect(port.fixed_ips.map((f: any) => f.subnet_id).sort()).toEqual([v4.id, sn.id].sort());
      expect((await t.req('DELETE', `/v2.0/subnets/${sn.id}`)).status).toBe(204);
      const after = (await t.req('GET', `/v2.0/ports/${port.id}`)).body.port;
      expect(after.fixed_ips.map((f: any) => f.subnet_id)).toEqual([v4.id]);
      const busy = await t.req('DELETE', `/v2.0/networks/${n.id}`);
      expect(busy.status).toBe(409);
      expect(busy.body.NeutronError.message).toContain('There are one or more ports still in use on the network');
    }
    const n = await net('tnet-stateful');
    const sn = await v6(n.id, 'dhcpv6-stateful', 'fd00:23::/64');
    await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id } });
    const held = await t.req('DELETE', `/v2.0/subnets/${sn.id}`);
    expect(held.status).toBe(409);
    expect(held.body.NeutronError.type).toBe('SubnetInUse');
    // A router interface keeps even a SLAAC subnet.
    const n2 = await net('tnet-slaac-r');
    const sn2 = await v6(n2.id, 'slaac', 'fd00:24::/64');
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'r6' } })).body.router;
    expect((await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { subnet_id: sn2.id })).status).toBe(200);
    expect((await t.req('DELETE', `/v2.0/subnets/${sn2.id}`)).status).toBe(409);
  });

  it('gives ports their EUI-64 address on a SLAAC subnet beside an IPv4 address', async () => {
    const n = await net('tnet-dual');
    const v4 = await subnet(n.id, '10.12.0.0/24', { enable_dhcp: false });
    const v6 = (
      await t.req('POST', '/v2.0/subnets', 'admin', {
        subnet: {
          network_id: n.id,
          ip_version: 6,
          cidr: 'fd00:12::/64',
          ipv6_address_mode: 'slaac',
          ipv6_ra_mode: 'slaac',
          enable_dhcp: false,
        },
      })
    ).body.subnet;
    const p = (await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id, mac_address: 'fa:16:3e:aa:bb:cc' } })).body
      .port;
    expect(p.fixed_ips).toEqual([
      { subnet_id: v6.id, ip_address: 'fd00:12::f816:3eff:feaa:bbcc' },
      { subnet_id: v4.id, ip_address: '10.12.0.2' },
    ]);
    const bad = await t.req('POST', '/v2.0/subnets', 'admin', {
      subnet: { network_id: n.id, ip_version: 6, cidr: 'fd00:13::/80', ipv6_address_mode: 'slaac' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('ports and IPAM', () => {
  it("creates ports with fixed addresses and refuses the acceptance's bad cases", async () => {
    const a = await net('tnet-a');
    const b = await net('tnet-b');
    const sa = await subnet(a.id, '10.253.0.0/24', { allocation_pools: [{ start: '10.253.0.100', end: '10.253.0.150' }] });
    const sb = await subnet(b.id, '10.253.0.0/24', { allocation_pools: [{ start: '10.253.0.100', end: '10.253.0.150' }] });
    const mk = (network_id: string, subnet_id: string, ip_address: string) =>
      t.req('POST', '/v2.0/ports', 'admin', {
        port: { network_id, fixed_ips: [{ subnet_id, ip_address }], admin_state_up: true, name: 'p' },
      });
    const p1 = await mk(a.id, sa.id, '10.253.0.11');
    expect(p1.status).toBe(201);
    expect(p1.body.port).toMatchObject({
      fixed_ips: [{ subnet_id: sa.id, ip_address: '10.253.0.11' }],
      status: 'DOWN',
      device_owner: '',
      device_id: '',
      'binding:host_id': '',
      'binding:vif_type': 'unbound',
      port_security_enabled: true,
      allowed_address_pairs: [],
    });
    expect(p1.body.port.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(p1.body.port.security_groups).toHaveLength(1);
    const dup = await mk(a.id, sa.id, '10.253.0.11');
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('IpAddressAlreadyAllocated');
    const out = await mk(a.id, sa.id, '10.99.0.5');
    expect(out.status).toBe(400);
    expect(out.body.NeutronError.type).toBe('InvalidIpForSubnet');
    expect((await mk(b.id, sb.id, '10.253.0.11')).status).toBe(201); // same address, other network
    const gw = await mk(a.id, sa.id, '10.253.0.1');
    expect(gw.status).toBe(409);
    // The address returns to the pool when the port goes.
    expect((await t.req('DELETE', `/v2.0/ports/${p1.body.port.id}`)).status).toBe(204);
    expect((await mk(a.id, sa.id, '10.253.0.11')).status).toBe(201);
  });

  it('allocates from the pool until it is exhausted (409 IpAddressGenerationFailure)', async () => {
    const n = await net('tnet-small');
    await subnet(n.id, '10.9.0.0/29', { enable_dhcp: false, allocation_pools: [{ start: '10.9.0.2', end: '10.9.0.4' }] });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id } });
      expect(r.status).toBe(201);
      got.push(r.body.port.fixed_ips[0].ip_address);
    }
    expect(got).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4']);
    const r = await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id } });
    expect(r.status).toBe(409);
    expect(r.body.NeutronError.type).toBe('IpAddressGenerationFailure');
  });

  it('never hands out an address twice under concurrent requests', async () => {
    const n = await net('tnet-conc');
    await subnet(n.id, '10.8.0.0/24', { enable_dhcp: false });
    const rs = await Promise.all(
      Array.from({ length: 60 }, () => t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id } })),
    );
    expect(rs.every((r) => r.status === 201)).toBe(true);
    const ips = rs.map((r) => r.body.port.fixed_ips[0].ip_address);
    expect(new Set(ips).size).toBe(60);
  });

  it('refuses to delete a network with ports in use (409 NetworkInUse), not for its DHCP port alone', async () => {
    const n = await net('tnet-inuse');
    await subnet(n.id, '10.7.0.0/24');
    const p = (
      await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id, device_owner: 'compute:nova', device_id: 'x' } })
    ).body.port;
    const r = await t.req('DELETE', `/v2.0/networks/${n.id}`);
    expect(r.status).toBe(409);
    expect(r.body.NeutronError.type).toBe('NetworkInUse');
    await t.req('DELETE', `/v2.0/ports/${p.id}`);
    expect((await t.req('DELETE', `/v2.0/networks/${n.id}`)).status).toBe(204);
    expect((await t.req('GET', '/v2.0/ports')).body.ports).toEqual([]);
  });

  it("lists ports with the client's long field set and filters by device_id", async () => {
    const n = await net('tnet-l');
    await subnet(n.id, '10.6.0.0/24');
    await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id, device_id: 'srv-1', device_owner: 'compute:nova' } });
    const q = ['id', 'name', 'mac_address', 'fixed_ips', 'status', 'security_group_ids', 'device_owner', 'tags']
      .map((f) => `fields=${f}`)
      .join('&');
    const r = await t.req('GET', `/v2.0/ports?${q}&network_id=${n.id}`);
    expect(r.status).toBe(200);
    expect(r.body.ports.map((p: any) => p.device_owner).sort()).toEqual(['compute:nova', 'network:dhcp']);
    expect(Object.keys(r.body.ports[0]).sort()).toEqual([
      'device_owner',
      'fixed_ips',
      'id',
      'mac_address',
      'name',
      'security_groups',
      'status',
      'tags',
    ]);
    expect((await t.req('GET', '/v2.0/ports?device_id=srv-1')).body.ports).toHaveLength(1);
  });

  it('filters ports by part of a fixed IP (fixed_ips=ip_address_substr=, ip-substring-filtering)', async () => {
    const n = await net('tnet-substr');
    const s = await subnet(n.id, '10.7.0.0/24');
    const mk = async (ip: string) =>
      (
        await t.req('POST', '/v2.0/ports', 'admin', {
          port: { network_id: n.id, fixed_ips: [{ subnet_id: s.id, ip_address: ip }] },
        })
      ).body.port.id;
    const [p1, p2] = [await mk('10.7.0.15'), await mk('10.7.0.25')];
    const ids = async (f: string) =>
      (await t.req('GET', `/v2.0/ports?network_id=${n.id}&${f}`)).body.ports.map((p: any) => p.id).sort();
    expect(await ids('fixed_ips=ip_address_substr=10.7.0.1')).toEqual([p1]);
    expect(await ids('fixed_ips=ip_address_substr=0.7.0')).toEqual(expect.arrayContaining([p1, p2]));
    expect(await ids('fixed_ips=ip_address_substr=.25')).toEqual([p2]);
    expect(await ids(`fixed_ips=ip_address_substr=10.7&fixed_ips=subnet_id=${s.id}&fixed_ips=ip_address=10.7.0.25`)).toEqual([
      p2,
    ]);
    expect(await ids('fixed_ips=ip_address_substr=10.8')).toEqual([]);
    const ext = await t.req('GET', '/v2.0/extensions/ip-substring-filtering', 'alice');
    expect(ext.body.extension.alias).toBe('ip-substring-filtering');
  });

  it('binds through binding:host_id (admin only) and updates fixed IPs', async () => {
    const n = await net('tnet-b', 'alice');
    const s = await subnet(n.id, '10.5.0.0/24', {}, 'alice');
    const p = (await t.req('POST', '/v2.0/ports', 'alice', { port: { network_id: n.id } })).body.port;
    expect(p).not.toHaveProperty('binding:host_id');
    expect((await t.req('PUT', `/v2.0/ports/${p.id}`, 'alice', { port: { 'binding:host_id': 'h1' } })).status).toBe(403);
    const b = await t.req('PUT', `/v2.0/ports/${p.id}`, 'admin', { port: { 'binding:host_id': 'h1' } });
    expect(b.body.port).toMatchObject({ 'binding:host_id': 'h1', 'binding:vif_type': 'ovs', status: 'ACTIVE' });
    const u = await t.req('PUT', `/v2.0/ports/${p.id}`, 'alice', {
      port: { fixed_ips: [{ subnet_id: s.id, ip_address: '10.5.0.77' }] },
    });
    expect(u.body.port.fixed_ips).toEqual([{ subnet_id: s.id, ip_address: '10.5.0.77' }]);
    expect((await t.req('GET', `/v2.0/ports/${p.id}`, 'bob')).status).toBe(404);
  });
});
