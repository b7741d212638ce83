import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from '../../controller/identity/testing/kit.js';
import {
  addToCorpus,
  anyBody,
  describeFailure,
  fuzzRoute,
  nasty,
  readCorpus,
  RUNS,
  SEED,
  selected,
  type FuzzFailure,
  type FuzzReply,
  type FuzzRequest,
} from './fuzz-kit.js';

/**
 * Hostile input on every API route, generated from the controller's route table (new
 * routes are covered without touching this file): path parameters, query strings and
 * JSON bodies drawn by fast-check from wrong types, huge strings, deep nesting, null
 * bytes, unicode, SQL and shell metacharacters and path traversal. With an admin token
 * (the deepest code paths) and without one. No request may answer 5xx, and the
 * controller must keep answering. Every request that once answered 5xx is in
 * fuzz-corpus.json and replayed first. Seeds, replay and the corpus: fuzz-kit.ts.
 */
const SKIP = [/^\/dashboard/, /^\/console/];
const FILE = 'faults/api/fuzz-routes.test.ts';

let cloud: TestCloud;
const stats = { requests: 0, byStatus: new Map<number, number>() };
const count = (r: FuzzReply) => {
  stats.requests++;
  stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
};
let adminProject = '';

async function send(r: FuzzRequest): Promise<FuzzReply> {
  const res = await cloud.app.inject({
    method: r.method as 'GET',
    url: r.url,
    headers: { ...r.headers, 'content-type': 'application/json' },
    ...(r.body !== undefined ? { payload: r.body } : {}),
  });
  return { status: res.statusCode, body: res.body };
}
const no5xx = (reply: FuzzReply) => (reply.status >= 500 ? `answered ${reply.status}` : null);
const tokenHeaders = (auth: string): Record<string, string> => (auth === 'admin' ? { 'x-auth-token': cloud.adminToken } : {});

/** Requests for one route pattern: every :param and * from `nasty`, a query, a body. */
function requestsFor(method: string, pattern: string, auth: string): fc.Arbitrary<FuzzRequest> {
  return fc
    .tuple(
      fc.array(nasty, { minLength: 4, maxLength: 4 }),
      anyBody,
      fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 3 }),
    )
    .map(([params, b, q]) => {
      let i = 0;
      const path = pattern.replace(/:[A-Za-z_]+|\*/g, () => encodeURIComponent(params[i++ % params.length]!));
      const qs = new URLSearchParams(q).toString();
      return {
        method,
        url: `${path}${qs ? `?${qs}` : ''}`,
        headers: tokenHeaders(auth),
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: JSON.stringify(b) }),
      };
    });
}

beforeAll(async () => {
  cloud = await testCloud();
  adminProject = cloud.adminProjectId; // corpus URLs name it {project_id}
});
afterAll(async () => {
  console.log(
    `[figures] fuzz (controller): ${stats.requests} requests over ${cloud.app.homestack.routes.length} routes, base seed ${SEED}, ${RUNS} runs per route and token; statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort()))}`,
  );
  await cloud?.close();
});

describe('every route, hostile input', () => {
  it('replays every input that once answered 5xx (fuzz-corpus.json): none does now', async () => {
    expect(adminProject).toMatch(/^[0-9a-f]{32}$/);
    const entries = readCorpus().filter((e) => e.target === 'controller');
    expect(entries.length).toBeGreaterThan(0);
    const bad: string[] = [];
    for (const e of entries) {
      const r: FuzzRequest = {
        method: e.method,
        url: e.url.replaceAll('{project_id}', adminProject),
        headers: tokenHeaders(e.auth),
        ...(e.body !== null ? { body: e.body } : {}),
      };
      const reply = await send(r);
      count(reply);
      if (no5xx(reply))
        bad.push(`${e.method} ${r.url} [${e.auth}] → ${reply.status} ${reply.body.slice(0, 200)} (found ${e.found})`);
    }
    expect(bad).toEqual([]);
  });

  it('never answers 5xx', async () => {
    const routes = cloud.app.homestack.routes.filter((r) => !SKIP.some((s) => s.test(r.url)));
    expect(routes.length).toBeGreaterThan(300);
    const failures: FuzzFailure[] = [];
    for (const r of routes) {
      const route = `${r.method} ${r.url}`;
      for (const auth of ['admin', 'none']) {
        if (!selected(route, auth)) continue;
        const f = await fuzzRoute({
          route,
          auth,
          requests: requestsFor(r.method, r.url, auth),
          send,
          problem: no5xx,
          onReply: count,
        });
        if (f) failures.push(f);
      }
    }
    if (failures.length) {
      const added = addToCorpus('controller', failures, (u) => (adminProject ? u.replaceAll(adminProject, '{project_id}') : u));
      console.log(
        `fuzz (controller): ${failures.length} route(s) answered 5xx (base seed ${SEED}); ${added} new case(s) added to faults/api/fuzz-corpus.json (commit them with the fix):\n${failures.map((f) => describeFailure(f, FILE)).join('\n')}`,
      );
    }
    expect(
      failures.map(
        (f) =>
          `${f.route} [${f.auth}] seed ${f.seed} path ${f.path}: ${f.request.method} ${f.request.url.slice(0, 200)} → ${f.reply.status}`,
      ),
      `base seed ${SEED}: see the log for each case and how to replay it`,
    ).toEqual([]);
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
