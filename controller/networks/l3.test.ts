import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePublicNetwork } from './bootstrap.js';
import { netTestApp, type NetTestApp } from './testing/kit.js';

let t: NetTestApp;
let ext: { networkId: string; subnetId: string };
beforeEach(async () => {
  t = await netTestApp();
  ext = ensurePublicNetwork({ db: t.db, config: t.config }, { projectId: 'p-admin' });
});
afterEach(async () => {
  await t.close();
});

async function tenant(token = 'admin', cidr = '10.253.0.0/24') {
  const n = (await t.req('POST', '/v2.0/networks', token, { network: { name: 'tnet' } })).body.network;
  const s = (await t.req('POST', '/v2.0/subnets', token, { subnet: { network_id: n.id, cidr, ip_version: 4, name: 'tsub' } }))
    .body.subnet;
  return { n, s };
}

describe('ensurePublicNetwork', () => {
  it('makes the flat external network once', async () => {
    const again = ensurePublicNetwork({ db: t.db, config: t.config }, { projectId: 'p-admin' });
    expect(again).toMatchObject({ networkId: ext.networkId, subnetId: ext.subnetId, created: false });
    const n = (await t.req('GET', `/v2.0/networks/${ext.networkId}`)).body.network;
    expect(n).toMatchObject({
      name: 'public',
      'router:external': true,
      'provider:network_type': 'flat',
      'provider:physical_network': 'public',
      mtu: 1500,
    });
    const s = (await t.req('GET', `/v2.0/subnets/${ext.subnetId}`, 'admin')).body.subnet;
    expect(s).toMatchObject({ cidr: '198.51.100.0/24', gateway_ip: '198.51.100.1', enable_dhcp: false });
    // Not shared: other projects see the network, not its subnet (as Neutron).
    expect((await t.req('GET', `/v2.0/subnets/${ext.subnetId}`, 'alice')).status).toBe(404);
    expect((await t.req('GET', '/v2.0/networks?router:external=True', 'alice')).body.networks).toHaveLength(1);
  });
});

describe('routers', () => {
  it('adds a subnet interface (unwrapped bodies), sets the gateway, refuses repeats and in-use deletes', async () => {
    const { n, s } = await tenant();
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { admin_state_up: true, name: 'tr' } })).body.router;
    expect(r).toMatchObject({
      status: 'ACTIVE',
      external_gateway_info: null,
      routes: [],
      distributed: false,
      ha: false,
      flavor_id: null,
    });
    const add = await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { subnet_id: s.id });
    expect(add.status).toBe(200);
    expect(add.body).toMatchObject({ id: r.id, subnet_id: s.id, subnet_ids: [s.id], network_id: n.id, project_id: 'p-admin' });
    const port = (await t.req('GET', `/v2.0/ports/${add.body.port_id}`)).body.port;
    expect(port).toMatchObject({
      device_owner: 'network:router_interface',
      device_id: r.id,
      fixed_ips: [{ subnet_id: s.id, ip_address: '10.253.0.1' }],
    });
    expect((await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { subnet_id: s.id })).status).toBe(400);
    const r2 = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'tr2' } })).body.router;
    expect((await t.req('PUT', `/v2.0/routers/${r2.id}/add_router_interface`, 'admin', { subnet_id: s.id })).status).toBe(400);

    const gw = await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', {
      router: { external_gateway_info: { network_id: ext.networkId } },
    });
    expect(gw.status).toBe(200);
    expect(gw.body.router.external_gateway_info).toMatchObject({
      network_id: ext.networkId,
      enable_snat: true,
      external_fixed_ips: [{ subnet_id: ext.subnetId, ip_address: '198.51.100.2' }],
    });

    const del = await t.req('DELETE', `/v2.0/networks/${n.id}`);
    expect(del.status).toBe(409);
    expect(del.body.NeutronError.type).toBe('NetworkInUse');
    expect((await t.req('DELETE', `/v2.0/routers/${r.id}`)).status).toBe(409);
    expect((await t.req('DELETE', `/v2.0/ports/${add.body.port_id}`)).status).toBe(409);

    const unset = await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { external_gateway_info: {} } });
    expect(unset.body.router.external_gateway_info).toBeNull();
    const rm = await t.req('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, 'admin', { subnet_id: s.id });
    expect(rm.status).toBe(200);
    expect((await t.req('GET', `/v2.0/ports/${add.body.port_id}`)).status).toBe(404);
    expect((await t.req('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, 'admin', { subnet_id: s.id })).status).toBe(404);
    expect((await t.req('DELETE', `/v2.0/routers/${r.id}`)).status).toBe(204);
    expect((await t.req('DELETE', `/v2.0/networks/${n.id}`)).status).toBe(204);
  });

  it('refuses extra routes (not supported by the agents)', async () => {
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'x' } })).body.router;
    expect(
      (
        await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', {
          router: { routes: [{ destination: '10.9.0.0/24', nexthop: '10.253.0.9' }] },
        })
      ).status,
    ).toBe(400);
    expect((await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { routes: [] } })).status).toBe(200);
  });

  it('refuses a gateway on a network that is not external', async () => {
    const { n } = await tenant();
    const r = await t.req('POST', '/v2.0/routers', 'admin', {
      router: { name: 'x', external_gateway_info: { network_id: n.id } },
    });
    expect(r.status).toBe(400);
  });

  it('adds an interface by port', async () => {
    const { s, n } = await tenant();
    const p = (
      await t.req('POST', '/v2.0/ports', 'admin', {
        port: { network_id: n.id, fixed_ips: [{ subnet_id: s.id, ip_address: '10.253.0.254' }] },
      })
    ).body.port;
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'x' } })).body.router;
    const add = await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { port_id: p.id });
    expect(add.body).toMatchObject({ port_id: p.id, subnet_id: s.id });
    expect((await t.req('GET', `/v2.0/ports/${p.id}`)).body.port.security_groups).toEqual([]);
    expect((await t.req('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, 'admin', { port_id: p.id })).status).toBe(200);
  });
});

describe('floating IPs', () => {
  async function wired() {
    const { n, s } = await tenant();
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'tr' } })).body.router;
    const port = (
      await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: n.id, device_id: 'srv', device_owner: 'compute:nova' } })
    ).body.port;
    return { n, s, r, port };
  }

  it('allocates on the external network, associates through a router, and is found by address', async () => {
    const { s, r, port } = await wired();
    const f = await t.req('POST', '/v2.0/floatingips', 'admin', { floatingip: { floating_network_id: ext.networkId } });
    expect(f.status).toBe(201);
    const fip = f.body.floatingip;
    expect(fip).toMatchObject({
      floating_network_id: ext.networkId,
      fixed_ip_address: null,
      port_id: null,
      router_id: null,
      status: 'DOWN',
      port_details: null,
    });
    expect(fip.floating_ip_address).toMatch(/^198\.51\.100\.\d+$/);
    expect((await t.req('GET', `/v2.0/floatingips/${fip.floating_ip_address}`)).status).toBe(404);
    expect(
      (await t.req('GET', `/v2.0/floatingips?floating_ip_address=${fip.floating_ip_address}`)).body.floatingips,
    ).toHaveLength(1);

    // No router with a gateway on the external network attached to the port's subnet yet.
    const no = await t.req('PUT', `/v2.0/floatingips/${fip.id}`, 'admin', { floatingip: { port_id: port.id } });
    expect(no.status).toBe(404);
    expect(no.body.NeutronError.type).toBe('ExternalGatewayForFloatingIPNotFound');
    await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { subnet_id: s.id });
    await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { external_gateway_info: { network_id: ext.networkId } } });
    const ok = await t.req('PUT', `/v2.0/floatingips/${fip.id}`, 'admin', { floatingip: { port_id: port.id } });
    expect(ok.status).toBe(200);
    expect(ok.body.floatingip).toMatchObject({
      port_id: port.id,
      fixed_ip_address: port.fixed_ips[0].ip_address,
      router_id: r.id,
      status: 'ACTIVE',
    });
    expect(ok.body.floatingip.port_details.device_id).toBe('srv');
    expect(t.net.facade.getPort(port.id)!.floating_ips).toEqual([
      { floating_ip_address: fip.floating_ip_address, fixed_ip_address: port.fixed_ips[0].ip_address },
    ]);
    // The gateway cannot go while the floating IP needs it.
    expect((await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { external_gateway_info: {} } })).status).toBe(409);
    const off = await t.req('PUT', `/v2.0/floatingips/${fip.id}`, 'admin', { floatingip: { port_id: null } });
    expect(off.body.floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, status: 'DOWN' });
    expect((await t.req('DELETE', `/v2.0/floatingips/${fip.id}`)).status).toBe(204);
    expect((await t.req('GET', `/v2.0/ports?device_owner=network:floatingip`)).body.ports).toEqual([]);
  });

  it('lets members allocate floating IPs but not put ports on the external network', async () => {
    expect(
      (await t.req('POST', '/v2.0/floatingips', 'alice', { floatingip: { floating_network_id: ext.networkId } })).status,
    ).toBe(201);
    expect((await t.req('POST', '/v2.0/ports', 'alice', { port: { network_id: ext.networkId } })).status).toBe(403);
    expect((await t.req('POST', '/v2.0/ports', 'admin', { port: { network_id: ext.networkId } })).status).toBe(201);
  });

  it('deletes an external network with its unassociated floating IPs; an associated one keeps it in use', async () => {
    const pub = (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'pub2', 'router:external': true } })).body
      .network;
    await t.req('POST', '/v2.0/subnets', 'admin', { subnet: { network_id: pub.id, cidr: '203.0.113.0/24', ip_version: 4 } });
    const fip = (await t.req('POST', '/v2.0/floatingips', 'alice', { floatingip: { floating_network_id: pub.id } })).body
      .floatingip;
    const { s, r, port } = await wired();
    await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'admin', { subnet_id: s.id });
    await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { external_gateway_info: { network_id: pub.id } } });
    const used = (
      await t.req('POST', '/v2.0/floatingips', 'admin', { floatingip: { floating_network_id: pub.id, port_id: port.id } })
    ).body.floatingip;
    expect(used.port_id).toBe(port.id);
    const busy = await t.req('DELETE', `/v2.0/networks/${pub.id}`);
    expect(busy.status).toBe(409);
    expect(busy.body.NeutronError.type).toBe('NetworkInUse');
    // The failed delete took nothing with it.
    expect((await t.req('GET', `/v2.0/floatingips/${fip.id}`)).status).toBe(200);
    expect((await t.req('DELETE', `/v2.0/floatingips/${used.id}`)).status).toBe(204);
    const unset = await t.req('PUT', `/v2.0/routers/${r.id}`, 'admin', { router: { external_gateway_info: {} } });
    expect(unset.body.router.external_gateway_info).toBeNull();
    expect((await t.req('DELETE', `/v2.0/networks/${pub.id}`)).status).toBe(204);
    expect((await t.req('GET', `/v2.0/floatingips/${fip.id}`)).status).toBe(404);
    expect((await t.req('GET', `/v2.0/networks/${pub.id}`)).status).toBe(404);
    expect((await t.req('GET', `/v2.0/ports?network_id=${pub.id}`)).body.ports).toEqual([]);
  });

  it('refuses a floating IP on a network that is not external', async () => {
    const { n } = await wired();
    expect((await t.req('POST', '/v2.0/floatingips', 'admin', { floatingip: { floating_network_id: n.id } })).status).toBe(400);
  });
});
