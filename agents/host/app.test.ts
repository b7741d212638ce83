import { describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { defineRoute, type AgentRoute } from '../../shared/agent/contract.js';
import { Echo, EchoLog, Health } from '../../shared/agent/host.js';
import { ServiceUnavailable } from '../../shared/errors/index.js';
import { buildAgentApp } from './app.js';
import { registerHostRoutes } from './host-routes.js';
import { OpStore } from './op-store.repo.js';

const SECRET = 'agent-test-secret-0123456789';
const auth = { authorization: `Bearer ${SECRET}` };

function agent() {
  const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  registerHostRoutes(a, {
    hostname: 'h1',
    agentVersion: '0.1.0',
    roles: () => ['compute'],
    unavailableRoles: () => ({ volume: 'not built' }),
  });
  return a;
}

describe('agent app', () => {
  it('refuses calls without the right bearer secret with the agent error document', async () => {
    const a = agent();
    for (const headers of [{}, { authorization: 'Bearer wrong-wrong-wrong' }, { authorization: SECRET }]) {
      const r = await a.fastify.inject({ url: '/v1/health', headers });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual({ error: { code: 'Unauthorized', message: expect.any(String), retryable: false } });
    }
    // Unknown routes are refused before anything else too.
    expect((await a.fastify.inject({ url: '/v1/nothing' })).statusCode).toBe(401);
    expect((await a.fastify.inject({ url: '/v1/nothing', headers: auth })).json().error.code).toBe('NotFound');
  });

  it('answers health with what it serves', async () => {
    const r = await agent().fastify.inject({ url: '/v1/health', headers: auth });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      hostname: 'h1',
      api_version: 1,
      roles: ['compute'],
      unavailable_roles: { volume: 'not built' },
    });
    expect(r.headers['x-openstack-request-id']).toMatch(/^req-/);
  });

  it('validates bodies against the descriptor', async () => {
    const r = await agent().fastify.inject({ method: 'POST', url: '/v1/echo', headers: auth, payload: { message: 1 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'BadRequest', retryable: false });
    expect(r.json().error.message).toContain('/message');
  });

  it('runs an operation id once and answers repeats from the store, also while it runs', async () => {
    const a = agent();
    const headers = { ...auth, 'x-homestack-op-id': 'op-1' };
    const [r1, r2] = await Promise.all([
      a.fastify.inject({ method: 'POST', url: '/v1/echo', headers, payload: { message: 'm', delay_ms: 100 } }),
      new Promise((r) => setTimeout(r, 20)).then(() =>
        a.fastify.inject({ method: 'POST', url: '/v1/echo', headers, payload: { message: 'm', delay_ms: 100 } }),
      ),
    ]);
    const r3 = await a.fastify.inject({ method: 'POST', url: '/v1/echo', headers, payload: { message: 'm' } });
    expect(r1.json()).toEqual(r2.json());
    expect(r3.json()).toEqual(r1.json());
    expect(r1.json().op_id).toBe('op-1');
    const log = await a.fastify.inject({ url: '/v1/echo', headers: auth });
    expect(log.json().calls).toHaveLength(1);
    // Without an op id every call runs.
    await a.fastify.inject({ method: 'POST', url: '/v1/echo', headers: auth, payload: { message: 'n' } });
    expect((await a.fastify.inject({ url: '/v1/echo', headers: auth })).json().calls).toHaveLength(2);
  });

  it('stores a final error but not a retryable one', async () => {
    const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    let n = 0;
    const Flaky = defineRoute({
      name: 't.flaky',
      method: 'POST',
      url: '/v1/flaky',
      body: Type.Object({}),
      reply: Type.Object({ n: Type.Integer() }),
    });
    a.route(Flaky, async () => {
      n += 1;
      if (n === 1) throw new ServiceUnavailable('busy');
      return { n };
    });
    const headers = { ...auth, 'x-homestack-op-id': 'op-2' };
    const first = await a.fastify.inject({ method: 'POST', url: '/v1/flaky', headers, payload: {} });
    expect(first.statusCode).toBe(503);
    expect(first.json().error).toMatchObject({ code: 'ServiceUnavailable', retryable: true });
    const second = await a.fastify.inject({ method: 'POST', url: '/v1/flaky', headers, payload: {} });
    expect(second.json()).toEqual({ n: 2 });
    const third = await a.fastify.inject({ method: 'POST', url: '/v1/flaky', headers, payload: {} });
    expect(third.json()).toEqual({ n: 2 });
    expect(n).toBe(2);

    const failing = await a.fastify.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...auth, 'x-homestack-op-id': 'op-3' },
      payload: { message: 'x', fail_code: 'Nope' },
    });
    expect(failing.statusCode).toBe(404); // echo is not registered on this app
  });

  it('turns a reply that breaks the contract into a 500 BadAgentReply', async () => {
    const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    const Bad = defineRoute({
      name: 't.bad',
      method: 'GET',
      url: '/v1/bad/:id',
      body: Type.Object({ id: Type.String(), n: Type.Integer() }),
      reply: Type.Object({ ok: Type.Boolean() }),
    });
    a.route(Bad, async (b) => ({ ok: b.n as unknown as boolean }));
    const r = await a.fastify.inject({ url: '/v1/bad/x?n=3', headers: auth });
    expect(r.statusCode).toBe(500);
    expect(r.json().error.code).toBe('BadAgentReply');
  });

  it('every host descriptor is served and its reply validates (contract)', async () => {
    const a = agent();
    expect(a.routes).toEqual([Health.name, Echo.name, EchoLog.name]);
    const bodies = new Map<AgentRoute, unknown>([
      [Health, {}],
      [Echo, { message: 'contract' }],
      [EchoLog, {}],
    ]);
    for (const route of [Health, Echo, EchoLog] as AgentRoute[]) {
      const get = route.method === 'GET';
      const r = await a.fastify.inject({
        method: route.method,
        url: route.url,
        headers: { ...auth, ...(get ? {} : { 'content-type': 'application/json' }) },
        ...(get ? {} : { payload: JSON.stringify(bodies.get(route)) }),
      });
      expect(r.statusCode, `${route.name}: ${r.body}`).toBe(200);
      expect(Value.Check(route.reply, r.json()), `${route.name}: ${r.body}`).toBe(true);
    }
    // The echo was recorded and the log says so, in the contract's shape.
    const log = await a.fastify.inject({ url: '/v1/echo', headers: auth });
    expect(log.json().calls.map((c: { message: string }) => c.message)).toEqual(['contract']);
  });
});
