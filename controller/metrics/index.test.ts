import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, ADMIN_PASSWORD, type TestCloud } from '../identity/testing/kit.js';
import { parseExposition } from './exposition.js';
import { isLoopback } from './index.js';

let cloud: TestCloud | undefined;
afterEach(async () => {
  await cloud?.close();
  cloud = undefined;
});

const now = new Date().toISOString();
function addHost(c: TestCloud, name: string, state: string): string {
  const id = `00000000-0000-0000-0000-${name.padStart(12, '0')}`;
  c.db
    .prepare(
      `INSERT INTO hosts (id, name, agent_url, credential_hash, state, created_at, updated_at) VALUES (?, ?, 'http://x:1', ?, ?, ?, ?)`,
    )
    .run(id, name, `h${name}`, state, now, now);
  return id;
}

describe('controller /metrics', () => {
  it('serves valid exposition with latency by route pattern, tokens issued, operations and hosts', async () => {
    cloud = await testCloud();
    const c = cloud;
    const h1 = addHost(c, '1', 'up');
    addHost(c, '2', 'down');
    for (const [i, state] of ['pending', 'pending', 'failed'].entries()) {
      c.db
        .prepare(
          `INSERT INTO operations (id, host_id, kind, payload, state, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'compute.spawn', '{}', ?, ?, ?, ?)`,
        )
        .run(`op-${i}`, h1, state, now, now, now);
    }
    const before = parseExposition((await c.app.inject({ url: '/metrics' })).body).get('homestack_tokens_issued_total') ?? 0;
    const { token } = await c.login('admin', ADMIN_PASSWORD, 'admin');
    expect((await c.login('admin', 'wrong', 'admin')).status).toBe(401);
    const proj = await c.app.inject({ url: `/v3/projects/${c.adminProjectId}`, headers: { 'x-auth-token': token } });
    expect(proj.statusCode).toBe(200);

    const res = await c.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = parseExposition(res.body);
    expect(s.get('homestack_tokens_issued_total')).toBe(before + 1);
    expect(s.get('homestack_api_request_duration_seconds_count{method="GET",route="/v3/projects/:id",status="200"}')).toBe(1);
    expect(s.get('homestack_api_request_duration_seconds_count{method="POST",route="/v3/auth/tokens",status="401"}')).toBe(1);
    expect([...s.keys()].some((k) => k.includes(c.adminProjectId))).toBe(false);
    expect(s.get('homestack_operations{state="pending"}')).toBe(2);
    expect(s.get('homestack_operations{state="failed"}')).toBe(1);
    expect(s.get('homestack_operations{state="done"}')).toBe(0);
    expect(s.get('homestack_hosts{state="up",enabled="true"}')).toBe(1);
    expect(s.get('homestack_hosts{state="down",enabled="true"}')).toBe(1);
    // prom-client's default collectors: this process's CPU, memory, heap, handles and event-loop lag.
    expect(s.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(1024 * 1024);
    expect(s.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(s.get('nodejs_active_handles_total')).toBeGreaterThan(0);
  });

  it('refuses a remote caller without an admin token and serves one with it', async () => {
    cloud = await testCloud();
    const c = cloud;
    const remote = { url: '/metrics', remoteAddress: '10.1.2.3' };
    const denied = await c.app.inject(remote);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.message).toMatch(/loopback or with an admin/);
    expect((await c.app.inject({ ...remote, headers: { 'x-auth-token': 'garbage' } })).statusCode).toBe(403);
    const ok = await c.app.inject({ ...remote, headers: { 'x-auth-token': c.adminToken } });
    expect(ok.statusCode).toBe(200);
    expect(() => parseExposition(ok.body)).not.toThrow();
  });

  it('the exposition check rejects malformed lines', () => {
    expect(() => parseExposition('metric{a="b"} 1\n# HELP x y\n')).not.toThrow();
    expect(() => parseExposition('metric{a=b} 1')).toThrow(/not exposition/);
  });

  it('knows loopback addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });
});
