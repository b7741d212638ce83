import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from '../../controller/identity/testing/kit.js';

/**
 * Hostile input on every API route, generated from the controller's route table (new
 * routes are covered without touching this file): path parameters, query strings and
 * JSON bodies drawn by fast-check from wrong types, huge strings, deep nesting, null
 * bytes, unicode, SQL and shell metacharacters and path traversal. With an admin token
 * (the deepest code paths) and without one. No request may answer 5xx, and the
 * controller must keep answering.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const SKIP = [/^\/dashboard/, /^\/console/];

const nasty = fc.oneof(
  fc.constantFrom(
    '../../etc/passwd',
    '..%2F..%2Fetc%2Fpasswd',
    '%00',
    'a\u0000b',
    "' OR 1=1--",
    '"; DROP TABLE users; --',
    '$(touch /tmp/pwned)',
    '`id`',
    '|sh',
    '&&reboot',
    '${jndi:ldap://x}',
    '<script>alert(1)</script>',
    '\u202e\ufeff',
    '😀'.repeat(50),
    'null',
    'true',
    '-1',
    '0',
    '1e309',
    'NaN',
    '[]',
    '{}',
    ' ',
    '',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer().map(String),
  fc.constant('x'.repeat(20_000)),
);
const deep = (n: number): unknown => (n === 0 ? 'x' : { a: [deep(n - 1)] });
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.constantFrom(
      'server',
      'network',
      'subnet',
      'port',
      'volume',
      'image',
      'project',
      'user',
      'auth',
      'router',
      'flavor',
      'keypair',
      'security_group',
      'name',
      'id',
    ),
    fc.jsonValue({ maxDepth: 3 }),
  ),
  fc.constant(deep(2000)),
  nasty,
);

let cloud: TestCloud;
const stats = { requests: 0, byStatus: new Map<number, number>() };

beforeAll(async () => {
  cloud = await testCloud();
});
afterAll(async () => {
  console.log(
    `[figures] fuzz: ${stats.requests} requests over ${cloud.app.homestack.routes.length} routes, seed ${SEED}, ${RUNS} runs per route and token; statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort()))}`,
  );
  await cloud?.close();
});

describe('every route, hostile input', () => {
  it('never answers 5xx', async () => {
    const routes = cloud.app.homestack.routes.filter((r) => !SKIP.some((s) => s.test(r.url)));
    expect(routes.length).toBeGreaterThan(300);
    const failures: string[] = [];
    for (const r of routes) {
      for (const token of [cloud.adminToken, undefined]) {
        await fc.assert(
          fc.asyncProperty(
            fc.array(nasty, { minLength: 4, maxLength: 4 }),
            body,
            fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 3 }),
            async (params, b, q) => {
              let i = 0;
              const path = r.url.replace(/:[A-Za-z_]+|\*/g, () => encodeURIComponent(params[i++ % params.length]!));
              const qs = new URLSearchParams(q).toString();
              const res = await cloud.app.inject({
                method: r.method as 'GET',
                url: `${path}${qs ? `?${qs}` : ''}`,
                headers: { ...(token ? { 'x-auth-token': token } : {}), 'content-type': 'application/json' },
                ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: JSON.stringify(b) }),
              });
              stats.requests++;
              stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);
              if (res.statusCode >= 500) failures.push(`${r.method} ${path} → ${res.statusCode} ${res.body.slice(0, 200)}`);
              return true;
            },
          ),
          { numRuns: RUNS, seed: SEED },
        );
      }
    }
    expect(failures.slice(0, 20), `seed ${SEED}: ${failures.length} requests answered 5xx`).toEqual([]);
    const alive = await cloud.app.inject({ method: 'GET', url: '/identity/v3' });
    expect(alive.statusCode).toBe(200);
  }, 600_000);

  it('answers 413 to a body over the limit', async () => {
    const res = await cloud.app.inject({
      method: 'POST',
      url: '/compute/v2.1/servers',
      headers: { 'x-auth-token': cloud.adminToken, 'content-type': 'application/json' },
      payload: JSON.stringify({ server: { name: 'x'.repeat(2 << 20) } }),
    });
    expect(res.statusCode).toBe(413);
  });
});
