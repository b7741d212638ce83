import { Value } from 'typebox/value';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { buildAgentApp, type AgentApp } from '../../agents/host/app.js';
import { OpStore } from '../../agents/host/op-store.repo.js';
import { FakeHypervisor } from '../../agents/compute/fake.js';
import { registerComputeRole } from '../../agents/compute/main.js';
import { agentLayerOf } from '../agents/index.js';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

/**
 * Controller ↔ compute agent over real loopback HTTP: the compute service, the durable
 * dispatcher and the agent's routes with its fake hypervisor driver. Every body and
 * reply crosses the contract validation on both sides.
 */
const V = '/compute/v2.1';
const SECRET = 'compute-loopback-secret-0123456789';
const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  fatal() {},
  trace() {},
  child() {
    return silent;
  },
  level: 'silent',
  silent() {},
};

let c: ComputeCloud;
let agent: AgentApp;
let hv: FakeHypervisor;
beforeEach(async () => {
  c = await computeCloud({}, { realAgents: true });
  hv = new FakeHypervisor();
  agent = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  const config = Value.Default(AgentConfigSchema, { compute: { driver: 'fake' } }) as never;
  await registerComputeRole(
    agent,
    {
      config,
      log: silent as never,
      run: new FakeRunner().run,
      hostname: 'loop1',
      dataDir: '/nonexistent',
      controller: { url: 'http://x', secret: SECRET },
    } as never,
    hv,
  );
  const url = await agent.fastify.listen({ host: '127.0.0.1', port: 0 });
  const { hosts } = agentLayerOf(c.app.homestack.deps);
  const h = hosts.enrol({ name: 'loop1', agentUrl: url, secret: SECRET });
  hosts.rememberSecret(h.id, SECRET);
  const ts = new Date().toISOString();
  c.db
    .prepare(
      `UPDATE hosts SET roles = '["compute"]', state = 'up', vcpus = 4, memory_mb = 4096, disk_gb = 40, registered_at = ?, last_heartbeat_at = ? WHERE id = ?`,
    )
    .run(ts, ts, h.id);
  c.ctx.scheduler.cache.invalidate();
});
afterEach(async () => {
  await c.close();
  await agent.fastify.close();
});

describe('compute through the dispatcher to a real agent app (fake hypervisor)', () => {
  it('boots, stops, starts, reads the console and deletes', async () => {
    const flavor = await c.flavor('small', { ram: 128 });
    const image = await c.image('cirros');
    const net = await c.network('n1', '10.5.0.0/24');
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'loopy', imageRef: image, flavorRef: flavor, networks: [{ uuid: net }], user_data: 'ZWNobyBoaQ==' },
    });
    expect(r.status).toBe(202);
    const id = r.body.server.id;
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:power_state': 1, 'OS-EXT-SRV-ATTR:host': 'loop1' });
    expect(hv.instances.get(id)!.spec.nics[0]!.port_id).toBeTruthy();
    const hostId = agentLayerOf(c.app.homestack.deps).hosts.get('loop1').id;
    const ops = agentLayerOf(c.app.homestack.deps).dispatcher.list({ resource: { type: 'server', id: `${id}@${hostId}` } });
    expect(ops.map((o) => [o.kind, o.state])).toEqual([['compute.spawn', 'done']]);

    expect((await c.req('POST', `${V}/servers/${id}/action`, c.admin, { 'os-stop': null })).status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server).toMatchObject({
      status: 'SHUTOFF',
      'OS-EXT-STS:power_state': 4,
    });
    await c.req('POST', `${V}/servers/${id}/action`, c.admin, { 'os-start': null });
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server.status).toBe('ACTIVE');
    const out = await c.req('POST', `${V}/servers/${id}/action`, c.admin, { 'os-getConsoleOutput': { length: 50 } });
    expect(out.status).toBe(200);
    expect(typeof out.body.output).toBe('string');

    expect((await c.req('DELETE', `${V}/servers/${id}`, c.admin)).status).toBe(204);
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).status).toBe(404);
    expect(hv.instances.has(id)).toBe(false);
  });

  it("a spawn the host fails ends in ERROR with the agent's message and nothing left", async () => {
    const flavor = await c.flavor('small', { ram: 128 });
    const image = await c.image('cirros');
    hv.failNextSpawn('qemu-img create: No space left on device');
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'doomed', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${r.body.server.id}`, c.admin)).body.server;
    expect(s.status).toBe('ERROR');
    expect(s.fault.details).toContain('No space left on device');
    expect(hv.instances.size).toBe(0);
    expect(c.ctx.placement.allocationOf(s.id)).toBeNull();
  });
});
