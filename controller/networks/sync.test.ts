import { MockAgent } from 'undici';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { NetworkSync, NetworkSyncBody, type NetworkSyncReply } from '../../shared/agent/network.js';
import { ensurePublicNetwork } from './bootstrap.js';
import { ctxFor, netTestApp, type NetTestApp } from './testing/kit.js';

let t: NetTestApp;
afterEach(async () => {
  await t?.close();
});

const ops = (hostId?: string) =>
  t.db
    .prepare(
      `SELECT id, host_id, payload, state FROM operations WHERE kind = ? ${hostId ? 'AND host_id = ?' : ''} ORDER BY rowid`,
    )
    .all(...[NetworkSync.name, ...(hostId ? [hostId] : [])]) as Array<{
    id: string;
    host_id: string;
    payload: string;
    state: string;
  }>;
const tick = () => new Promise((r) => setTimeout(r, 60));

async function tenantNet(token = 'alice') {
  const n = (await t.req('POST', '/v2.0/networks', token, { network: { name: 'tnet' } })).body.network;
  const s = (await t.req('POST', '/v2.0/subnets', token, { subnet: { network_id: n.id, cidr: '10.3.0.0/24', ip_version: 4 } }))
    .body.subnet;
  return { n, s };
}

describe('desired state to the agents', () => {
  it('places DHCP on a network host and sends it a valid whole-state sync after the commit', async () => {
    t = await netTestApp();
    const h1 = t.addHost('h1', { tunnelIp: '192.0.2.1' });
    const { n } = await tenantNet();
    const dhcp = (await t.req('GET', `/v2.0/ports?network_id=${n.id}&device_owner=network:dhcp`)).body.ports[0];
    expect(dhcp['binding:host_id']).toBe('h1');
    await tick();
    const rows = ops(h1);
    expect(rows).toHaveLength(1); // changes of one request coalesce; later ones replace the waiting body
    const body = JSON.parse(rows[0]!.payload);
    expect(Value.Check(NetworkSyncBody, body)).toBe(true);
    expect(body.dhcp[0]).toMatchObject({ network_id: n.id, port: { port_id: dhcp.id } });
  });

  it('binds a server port: the host gets the port, peers get tunnels, and an unchanged state is not re-sent', async () => {
    t = await netTestApp();
    const h1 = t.addHost('h1', { tunnelIp: '192.0.2.1' });
    const h2 = t.addHost('h2', { tunnelIp: '192.0.2.2' });
    const { n } = await tenantNet();
    const ctx = ctxFor('alice');
    const p = t.net.facade.createServerPort(ctx, { networkId: n.id, serverId: 'srv-1', az: 'nova' });
    expect(p).toMatchObject({
      device_owner: 'compute:nova',
      device_id: 'srv-1',
      network_type: 'vxlan',
      mtu: 1450,
      port_security_enabled: true,
    });
    expect(p.security_group_ids).toHaveLength(1);
    const dhcpHost = (await t.req('GET', `/v2.0/ports?network_id=${n.id}&device_owner=network:dhcp`)).body.ports[0][
      'binding:host_id'
    ];
    const vmHost = dhcpHost === 'h1' ? 'h2' : 'h1';
    const bound = await t.net.facade.bindPort(p.id, vmHost);
    expect(bound.binding_host_id).toBe(vmHost);
    const vmHostId = vmHost === 'h1' ? h1 : h2;
    const last = (hostId: string) => JSON.parse(ops(hostId).at(-1)!.payload);
    const vm = last(vmHostId);
    expect(vm.ports.map((x: any) => x.port_id)).toEqual([p.id]);
    expect(vm.networks[0]).toMatchObject({ id: n.id, vni: 1000, peers: [dhcpHost === 'h1' ? '192.0.2.1' : '192.0.2.2'] });
    expect(vm.security_groups[0].rules.length).toBe(4);
    expect(last(dhcpHost === 'h1' ? h1 : h2).tunnels).toEqual([
      { ip: vmHost === 'h1' ? '192.0.2.1' : '192.0.2.2', host: vmHost },
    ]);
    const before = ops().length;
    expect(t.net.syncer.push().size).toBe(0);
    expect(ops().length).toBe(before);
    expect(t.net.syncer.push({ force: true }).size).toBe(2);
    // Waiting operations were updated in place, not queued again.
    expect(ops().length).toBe(before);
    expect(t.net.facade.portsOfDevice('srv-1').map((x) => x.id)).toEqual([p.id]);
    await t.net.facade.releaseServerPorts('srv-1');
    expect(t.net.facade.getPort(p.id)).toBeNull();
    expect(last(vmHostId).ports).toEqual([]);
  });

  it('claims an existing port and releases it without deleting it', async () => {
    t = await netTestApp();
    const { n } = await tenantNet();
    const port = (
      await t.req('POST', '/v2.0/ports', 'alice', { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.3.0.50' }] } })
    ).body.port;
    const ctx = ctxFor('alice');
    expect(t.net.facade.claimPort(ctx, port.id, 'srv-2', 'nova').device_id).toBe('srv-2');
    expect(() => t.net.facade.claimPort(ctx, port.id, 'srv-3', 'nova')).toThrow(/in use/);
    expect(() => t.net.facade.claimPort(ctxFor('bob'), port.id, 'srv-3', 'nova')).toThrow(/could not be found/);
    await t.net.facade.releaseServerPorts('srv-2');
    expect(t.net.facade.getPort(port.id)).toMatchObject({ device_id: '', device_owner: '', binding_host_id: '' });
    expect(t.net.facade.networkVisible(ctx, n.id)).toBe(true);
    expect(t.net.facade.networkVisible(ctxFor('bob'), n.id)).toBe(false);
    expect(t.net.facade.availableNetworks(ctx)).toEqual([{ id: n.id, name: 'tnet' }]);
    // Compute's errors are Neutron's.
    expect(() =>
      t.net.facade.createServerPort(ctx, { networkId: n.id, serverId: 's', az: 'nova', fixedIp: '10.3.0.50' }),
    ).toThrow(/already allocated/);
    expect(() =>
      t.net.facade.createServerPort(ctx, { networkId: n.id, serverId: 's', az: 'nova', fixedIp: '10.99.0.1' }),
    ).toThrow(/not a valid IP/);
  });

  it('schedules DHCP and routers made before any agent when a host appears', async () => {
    t = await netTestApp();
    ensurePublicNetwork({ db: t.db, config: t.config }, { projectId: 'p-admin' });
    const { n } = await tenantNet('admin');
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'r' } })).body.router;
    expect((await t.req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports[0]).toMatchObject({
      'binding:host_id': '',
      status: 'DOWN',
    });
    t.addHost('late', { tunnelIp: '192.0.2.9' });
    t.net.syncer.push();
    expect((await t.req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports[0]).toMatchObject({
      'binding:host_id': 'late',
      status: 'ACTIVE',
    });
    const body = JSON.parse(ops().at(-1)!.payload);
    expect(body.routers.map((x: any) => x.id)).toEqual([r.id]);
  });

  it('moves DHCP and routers off a host down longer than reschedule_down_s (opt-in), never by default', async () => {
    t = await netTestApp({ reschedule_down_s: 60 });
    ensurePublicNetwork({ db: t.db, config: t.config }, { projectId: 'p-admin' });
    t.addHost('first', { tunnelIp: '192.0.2.1' });
    const { n } = await tenantNet('admin');
    const r = (await t.req('POST', '/v2.0/routers', 'admin', { router: { name: 'r' } })).body.router;
    t.addHost('second', { tunnelIp: '192.0.2.2' });
    const dhcpHost = async () =>
      (await t.req('GET', `/v2.0/ports?network_id=${n.id}&device_owner=network:dhcp`)).body.ports[0]['binding:host_id'];
    expect(await dhcpHost()).toBe('first');
    // Down, but only just: nothing moves.
    t.db
      .prepare(`UPDATE hosts SET state = 'down', last_heartbeat_at = ? WHERE name = 'first'`)
      .run(new Date(Date.now() - 30_000).toISOString());
    t.net.syncer.push();
    expect(await dhcpHost()).toBe('first');
    // Down for longer than 60 s: DHCP and the router go to the other host.
    t.db.prepare(`UPDATE hosts SET last_heartbeat_at = ? WHERE name = 'first'`).run(new Date(Date.now() - 120_000).toISOString());
    t.net.syncer.push();
    expect(await dhcpHost()).toBe('second');
    const body = JSON.parse(
      ops()
        .filter((o) => o.host_id === t.db.prepare(`SELECT id FROM hosts WHERE name = 'second'`).pluck().get())
        .at(-1)!.payload,
    );
    expect(body.routers.map((x: any) => x.id)).toEqual([r.id]);
    expect(body.dhcp.map((x: any) => x.network_id)).toEqual([n.id]);
  });

  it('delivers through the dispatcher and marks ports the agent reports ACTIVE', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    let seen: any = null;
    mock
      .get('http://h1:8001')
      .intercept({ path: '/v1/network/sync', method: 'POST' })
      .reply(
        200,
        (o) => {
          seen = JSON.parse(String(o.body));
          const reply: NetworkSyncReply = {
            generation: seen.generation,
            ignored: false,
            networks: seen.networks.map((x: any) => ({ id: x.id, local_vlan: 1 })),
            ports: seen.ports.map((x: any) => ({ port_id: x.port_id, status: 'ACTIVE' })),
            tunnels: { active: [], added: [], removed: [] },
            flows: { added: 3, deleted: 0 },
            errors: [],
            duration_ms: 1,
          };
          return reply;
        },
        { headers: { 'content-type': 'application/json' } },
      )
      .persist();
    t = await netTestApp({ bind_wait_ms: 5000 }, { clientOptions: { dispatcher: mock } });
    const h1 = t.addHost('h1', { tunnelIp: '192.0.2.1' });
    t.layer.hosts.rememberSecret(h1, 'secret-h1');
    const { n } = await tenantNet();
    const p = t.net.facade.createServerPort(ctxFor('alice'), { networkId: n.id, serverId: 'srv', az: 'nova' });
    t.db.prepare(`UPDATE net_ports SET status = 'DOWN' WHERE id = ?`).run(p.id);
    await t.net.facade.bindPort(p.id, 'h1');
    expect(seen.ports.map((x: any) => x.port_id)).toEqual([p.id]);
    expect(ops(h1).at(-1)!.state).toBe('done');
    expect((await t.req('GET', `/v2.0/ports/${p.id}`, 'alice')).body.port.status).toBe('ACTIVE');
    await mock.close();
  });
});
