import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { NetworkState, NetworkSync } from '../../shared/agent/network.js';
import { sampleSync } from '../../shared/agent/network.sample.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { buildAgentApp } from '../host/app.js';
import { OpStore } from '../host/op-store.repo.js';
import { networkRole } from './main.js';

const SECRET = 'agent-test-secret-0123456789';
const auth = { authorization: `Bearer ${SECRET}` };
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

async function agent() {
  const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  const config = Value.Default(AgentConfigSchema, { network: { driver: 'fake', tunnel_ip: '192.0.2.1', resync_s: 0 } }) as never;
  const fake = new FakeRunner();
  const handle = await networkRole.register(a, {
    config,
    log: silent as never,
    run: fake.run,
    hostname: 'h1',
    dataDir: '/nonexistent',
    controller: { url: 'http://x', secret: SECRET },
  });
  return { a, handle: handle!, fake };
}

describe('network role (fake driver) through the agent app', () => {
  it('registers network.sync and network.state and reports the tunnel address', async () => {
    const { a, handle } = await agent();
    expect(a.routes).toEqual(['network.sync', 'network.state']);
    expect(handle.tunnelIp).toBe('192.0.2.1');
    expect(handle.capabilities).toMatchObject({ datapath: 'netdev', driver: 'fake', tunnel_type: 'vxlan' });
    await handle.close?.();
  });

  it('a sync reply validates against the descriptor; an older generation is ignored', async () => {
    const { a, handle, fake } = await agent();
    const r = await a.fastify.inject({
      method: 'POST',
      url: NetworkSync.url,
      headers: auth,
      payload: { ...sampleSync, generation: 5 },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(Value.Check(NetworkSync.reply, body)).toBe(true);
    expect(body.tunnels).toEqual({ active: ['192.0.2.2'], added: ['192.0.2.2'], removed: [] });
    expect(body.networks[0].local_vlan).toBe(1);
    expect(body.ports).toEqual([{ port_id: sampleSync.ports[0]!.port_id, status: 'ACTIVE' }]);
    const old = await a.fastify.inject({
      method: 'POST',
      url: NetworkSync.url,
      headers: auth,
      payload: { ...sampleSync, generation: 4, networks: [] },
    });
    expect(old.json()).toMatchObject({ ignored: true, generation: 5 });
    const st = await a.fastify.inject({ method: 'GET', url: NetworkState.url, headers: auth });
    expect(Value.Check(NetworkState.reply, st.json())).toBe(true);
    expect(st.json().tunnels).toEqual(['192.0.2.2']);
    expect(fake.calls).toEqual([]); // the fake driver never touches the host
    await handle.close?.();
  });

  it('rejects a body that breaks the contract with 400 naming the field', async () => {
    const { a, handle } = await agent();
    const r = await a.fastify.inject({
      method: 'POST',
      url: NetworkSync.url,
      headers: auth,
      payload: { ...sampleSync, networks: [{ id: 'x' }] },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toContain('/networks/0');
    await handle.close?.();
  });

  it('removing the last network that floods to a peer removes the tunnel', async () => {
    const { a, handle } = await agent();
    await a.fastify.inject({ method: 'POST', url: NetworkSync.url, headers: auth, payload: sampleSync });
    const r = await a.fastify.inject({
      method: 'POST',
      url: NetworkSync.url,
      headers: auth,
      payload: { ...sampleSync, networks: [], ports: [], dhcp: [], routers: [] },
    });
    expect(r.json().tunnels).toEqual({ active: [], added: [], removed: ['192.0.2.2'] });
    await handle.close?.();
  });
});
