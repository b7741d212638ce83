import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Value } from 'typebox/value';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agents/host/start.js';
import { ROLE_MODULES } from '../../agents/roles.js';
import { BACKUP_ROUTES } from '../../shared/agent/backup.js';
import { COMPUTE_ROUTES } from '../../shared/agent/compute.js';
import { OP_ID_HEADER, type AgentRoute } from '../../shared/agent/contract.js';
import { Echo, EchoLog, Health } from '../../shared/agent/host.js';
import { NETWORK_ROUTES } from '../../shared/agent/network.js';
import { VOLUME_ROUTES } from '../../shared/agent/volume.js';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
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
import { fromSchema } from './fuzz-schema.js';

/**
 * Hostile input on every contract route of an agent: a real agent process's app
 * (startAgent, all three roles on their in-memory fake drivers, so nothing on this host
 * is touched) listening on 127.0.0.1, called over HTTP with the host credential and
 * without. Bodies come from each descriptor's schema (so they reach the handlers and
 * drivers) and from the same hostile generators as the controller's fuzzer; path
 * parameters, query strings and op ids too (a few ids shared by every route, so an id
 * reused across routes is exercised). Checked on every reply: no unexpected 5xx (see
 * UNEXPECTED); without the credential always 401; any error is the agent's error document
 * {"error":{"code","message","retryable"}}; a 200 validates against the descriptor
 * (431, a request line over Node's 16 KiB header limit, is refused before any route).
 * Not fuzzed: GET /metrics (no input; it reads libvirt/OVS whatever the drivers) and the
 * VNC websocket (faults/api/agent-listener and the console tests).
 */
const FILE = 'faults/api/fuzz-agent-routes.test.ts';
const SECRET = `fuzz-${randomBytes(12).toString('hex')}`;
const ROUTES: AgentRoute[] = [Health, Echo, EchoLog, ...COMPUTE_ROUTES, ...NETWORK_ROUTES, ...VOLUME_ROUTES, ...BACKUP_ROUTES];

let dir = '';
let agent: RunningAgent;
let base = '';
const stats = { requests: 0, byStatus: new Map<number, number>() };
const count = (r: FuzzReply) => {
  stats.requests++;
  stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
};
const authHeaders = (auth: string): Record<string, string> => (auth === 'host' ? { authorization: `Bearer ${SECRET}` } : {});

async function send(r: FuzzRequest): Promise<FuzzReply> {
  const res = await request(`${base}${r.url}`, {
    method: r.method as 'GET',
    headers: { ...r.headers, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(r.body !== undefined ? { body: r.body } : {}),
  });
  return { status: res.statusCode, body: await res.body.text() };
}

/** What is wrong with a reply of `route` (null: nothing). */
function problemOf(route: AgentRoute | null, auth: string) {
  return (reply: FuzzReply): string | null => {
    // 431: Node's HTTP parser refuses a request line or headers over 16 KiB before any
    // route (or the credential check) runs; fastify answers it with its own document.
    if (reply.status === 431) return null;
    if (auth === 'none' && reply.status !== 401) return `answered ${reply.status} without the credential`;
    let doc: unknown;
    try {
      doc = JSON.parse(reply.body);
    } catch {
      return `answered ${reply.status} with a body that is not JSON`;
    }
    if (reply.status === 200) {
      if (route && !Value.Check(route.reply, doc)) return 'a 200 whose reply breaks the descriptor';
      return null;
    }
    const e = (doc as { error?: { code?: unknown; message?: unknown; retryable?: unknown } }).error;
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || typeof e.retryable !== 'boolean')
      return `answered ${reply.status} without the agent error document`;
    if (reply.status >= 500 && (UNEXPECTED.has(e.code) || e.code.startsWith('FST_')))
      return `answered ${reply.status} ${e.code}: an unexpected fault, not a declared one`;
    return null;
  };
}

/** Mostly no op id; sometimes a fresh one; sometimes one every route shares. */
/**
 * 5xx codes that mean a bug: a JavaScript error escaping a handler (errorDoc names it
 * after its class), the catch-all, a reply breaking the contract, a host tool failing
 * (no tool runs under the fake drivers). A 5xx with a declared code (HypervisorFault's
 * SpawnFailed…, ImageFetchFailed when the image URL cannot be fetched) is the agent's
 * contract for host-side failures, which the controller turns into a fault.
 */
const UNEXPECTED = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'EvalError',
  'URIError',
  'AggregateError',
  'AgentFault',
  'BadAgentReply',
  'ToolError',
  'InternalServerError',
]);

const OP_IDS = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.uuid(), weight: 1 },
  { arbitrary: fc.constantFrom('op-fuzz-1', 'x'.repeat(300), "' OR 1=1--", '../../etc/passwd', '%00'), weight: 1 },
);

/** Requests for one descriptor: a schema-shaped or hostile body, its :params, a query for GETs. */
function requestsFor(route: AgentRoute, auth: string): fc.Arbitrary<FuzzRequest> {
  const body = fc.oneof({ arbitrary: fromSchema(route.body), weight: 3 }, { arbitrary: anyBody, weight: 1 });
  return fc
    .tuple(body, nasty, fc.dictionary(fc.string({ maxLength: 10 }), nasty, { maxKeys: 2 }), OP_IDS)
    .map(([b, p, q, op]) => {
      const obj = b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
      const params = new Set<string>();
      const path = route.url.replace(/:([A-Za-z_]+)/g, (_m, k: string) => {
        params.add(k);
        return encodeURIComponent(typeof obj[k] === 'string' ? (obj[k] as string) : p);
      });
      const headers = { ...authHeaders(auth), ...(op ? { [OP_ID_HEADER]: op } : {}) };
      if (route.method === 'GET') {
        const query = new URLSearchParams(q);
        for (const [k, v] of Object.entries(obj)) if (!params.has(k)) query.set(k, typeof v === 'string' ? v : JSON.stringify(v));
        const qs = query.toString();
        return { method: 'GET', url: `${path}${qs ? `?${qs}` : ''}`, headers };
      }
      return { method: route.method, url: path, headers, body: JSON.stringify(b) };
    });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-fuzz-agent-'));
  const config = Value.Default(AgentConfigSchema, {
    host: 'fuzz',
    roles: ['compute', 'network', 'volume'],
    data_dir: dir,
    credential_file: join(dir, 'agent.key'), // not /etc/homestack's: its tls/ would turn on mutual TLS (agent-tls.ts)
    controller_url: 'http://127.0.0.1:9',
    listen: { host: '127.0.0.1', port: 0 },
    heartbeat_s: 3600,
    compute: { driver: 'fake', libvirt_uri: 'test:///default' },
    network: { driver: 'fake', tunnel_ip: '192.0.2.250' },
    volume: { backend: 'fake', target: 'fake', target_ip: '192.0.2.250' },
  }) as AgentConfig;
  agent = await startAgent({ config, secret: SECRET, roleModules: ROLE_MODULES, logger: false });
  const addr = agent.agent.fastify.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
}, 60_000);
afterAll(async () => {
  console.log(
    `[figures] fuzz (agent): ${stats.requests} requests over ${ROUTES.length} descriptors, base seed ${SEED}, ${RUNS} runs per route and credential; statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort()))}`,
  );
  await agent?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("every agent route, hostile input, over HTTP with the host's credential and without", () => {
  it('serves every descriptor of shared/agent (the list fuzzed here)', () => {
    expect(agent.unavailable).toEqual({});
    expect([...agent.agent.routes].sort()).toEqual(ROUTES.map((r) => r.name).sort());
  });

  it('replays every input that once failed (fuzz-corpus.json, in order): none does now', async () => {
    const bad: string[] = [];
    for (const e of readCorpus().filter((x) => x.target === 'agent')) {
      const route = ROUTES.find(
        (r) => r.method === e.method && new RegExp(`^${r.url.replace(/:[A-Za-z_]+/g, '[^/]*')}(\\?|$)`).test(e.url),
      );
      const r: FuzzRequest = {
        method: e.method,
        url: e.url,
        headers: { ...authHeaders(e.auth), ...(e.op_id ? { [OP_ID_HEADER]: e.op_id } : {}) },
        ...(e.body !== null ? { body: e.body } : {}),
      };
      const reply = await send(r);
      count(reply);
      const p = problemOf(route ?? null, e.auth)(reply);
      if (p) bad.push(`${e.method} ${e.url} [${e.auth}]: ${p} (found ${e.found})`);
    }
    expect(bad).toEqual([]);
  });

  it('no unexpected 5xx, 401 without the credential, error documents, replies that validate', async () => {
    const failures: FuzzFailure[] = [];
    for (const r of ROUTES) {
      const route = `${r.method} ${r.url}`;
      for (const auth of ['host', 'none']) {
        if (!selected(route, auth)) continue;
        const f = await fuzzRoute({
          route,
          auth,
          requests: requestsFor(r, auth),
          send,
          problem: problemOf(r, auth),
          onReply: count,
        });
        if (f) failures.push(f);
      }
    }
    if (failures.length) {
      const added = addToCorpus('agent', failures, (u) => u);
      console.log(
        `fuzz (agent): ${failures.length} route(s) failed (base seed ${SEED}); ${added} new case(s) added to faults/api/fuzz-corpus.json (commit them with the fix):\n${failures.map((f) => describeFailure(f, FILE)).join('\n')}`,
      );
    }
    expect(
      failures.map((f) => `${f.route} [${f.auth}] seed ${f.seed} path ${f.path}: ${f.problem}`),
      `base seed ${SEED}: see the log for each case and how to replay it`,
    ).toEqual([]);
    const alive = await send({ method: 'GET', url: '/v1/health', headers: authHeaders('host') });
    expect(alive.status).toBe(200);
  }, 600_000);
});
