import { afterEach, describe, expect, it } from 'vitest';
import { buildAgentApp, type AgentApp } from '../../agents/host/app.js';
import { OpStore } from '../../agents/host/op-store.repo.js';
import { FakeNetworkDriver } from '../../agents/network/fake.js';
import { registerNetworkRoutes } from '../../agents/network/routes.js';
import { NetworkService } from '../../agents/network/service.js';
import { NetworkSync } from '../../shared/agent/network.js';
import { ensurePublicNetwork } from './bootstrap.js';
import { ctxFor, netTestApp, type NetTestApp } from './testing/kit.js';

/**
 * The controller's desired state through the real agent app (its schema checks, op
 * store and NetworkService) with the fake driver, over loopback HTTP: what the
 * durable dispatcher sends is what the agent accepts and converges to.
 */
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let t: NetTestApp | null = null;
const agents: AgentApp[] = [];
afterEach(async () => {
  await t?.close();
  t = null;
  for (const a of agents.splice(0)) await a.fastify.close();
});

async function agent(tunnelIp: string) {
  const secret = `secret-${tunnelIp}-0123456789abcdef`;
  const app = buildAgentApp({ secret, opStore: new OpStore(':memory:'), logger: false });
  const driver = new FakeNetworkDriver(tunnelIp);
  await driver.init();
  const svc = new NetworkService(driver, quiet, { resyncMs: 0, pendingMs: 0, datapath: 'netdev', tunnelIp });
  registerNetworkRoutes(app, svc);
  const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  agents.push(app);
  return { url, secret, driver };
}

async function settle(tt: NetTestApp) {
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const busy = tt.db
      .prepare(`SELECT COUNT(*) FROM operations WHERE kind = ? AND state IN ('pending', 'sending')`)
      .pluck()
      .get(NetworkSync.name) as number;
    if (!busy) return;
  }
  throw new Error(
    `operations did not finish: ${JSON.stringify(tt.db.prepare('SELECT host_id, state, attempts, last_error FROM operations').all())}`,
  );
}

describe('controller → network agent (real agent app, fake driver)', () => {
  it('two hosts converge: tunnels between them, DHCP and the router on one, VM ports on each', async () => {
    t = await netTestApp({ bind_wait_ms: 5000 }, { live: true });
    const a1 = await agent('192.0.2.11');
    const a2 = await agent('192.0.2.12');
    const h1 = t.addHost('h1', { tunnelIp: '192.0.2.11' });
    const h2 = t.addHost('h2', { tunnelIp: '192.0.2.12' });
    t.db.prepare('UPDATE hosts SET agent_url = ? WHERE id = ?').run(a1.url, h1);
    t.db.prepare('UPDATE hosts SET agent_url = ? WHERE id = ?').run(a2.url, h2);
    t.layer.hosts.rememberSecret(h1, a1.secret);
    t.layer.hosts.rememberSecret(h2, a2.secret);
    ensurePublicNetwork({ db: t.db, config: t.config }, { projectId: 'p-admin' });

    const n = (await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'n' } })).body.network;
    const s = (
      await t.req('POST', '/v2.0/subnets', 'alice', { subnet: { network_id: n.id, cidr: '10.10.0.0/24', ip_version: 4 } })
    ).body.subnet;
    const r = (
      await t.req('POST', '/v2.0/routers', 'alice', {
        router: {
          name: 'r',
          external_gateway_info: { network_id: (await t.req('GET', '/v2.0/networks?name=public', 'alice')).body.networks[0].id },
        },
      })
    ).body.router;
    await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'alice', { subnet_id: s.id });
    const ctx = ctxFor('alice');
    const p1 = t.net.facade.createServerPort(ctx, { networkId: n.id, serverId: 'vm1', az: 'nova' });
    const p2 = t.net.facade.createServerPort(ctx, { networkId: n.id, serverId: 'vm2', az: 'nova' });
    await t.net.facade.bindPort(p1.id, 'h1');
    await t.net.facade.bindPort(p2.id, 'h2');
    await settle(t);

    const last1 = a1.driver.syncs.at(-1)!,
      last2 = a2.driver.syncs.at(-1)!;
    expect(last1.ports.map((p) => p.port_id)).toEqual([p1.id]);
    expect(last2.ports.map((p) => p.port_id)).toEqual([p2.id]);
    expect(last1.tunnels.map((x) => x.ip)).toEqual(['192.0.2.12']);
    expect(last2.tunnels.map((x) => x.ip)).toEqual(['192.0.2.11']);
    const services = [last1, last2].find((x) => x.dhcp.length)!;
    expect(services.dhcp[0]!.hosts.map((h) => h.ip_address).sort()).toEqual(
      ['10.10.0.1', ...[p1, p2].map((p) => p.fixed_ips[0]!.ip_address)].sort(),
    );
    expect([...last1.routers, ...last2.routers].map((x) => x.id)).toEqual([r.id]);
    expect(
      t.db.prepare(`SELECT COUNT(*) FROM operations WHERE kind = ? AND state = 'failed'`).pluck().get(NetworkSync.name),
    ).toBe(0);

    // The VM on h2 goes: h2 keeps network n only if it runs n's DHCP or router, and the tunnel follows.
    await t.net.facade.releaseServerPorts('vm2');
    await settle(t);
    const after2 = a2.driver.syncs.at(-1)!;
    expect(after2.ports).toEqual([]);
    const h2HasN = after2.networks.some((x) => x.id === n.id);
    expect(h2HasN).toBe(after2.dhcp.length > 0 || after2.routers.some((x) => x.interfaces.some((i) => i.network_id === n.id)));
    expect(a1.driver.syncs.at(-1)!.tunnels.map((x) => x.ip)).toEqual(h2HasN ? ['192.0.2.12'] : []);
  });
});
