import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { OP_ID_HEADER } from '../../shared/agent/contract.js';

/**
 * What the two route fuzzers share (fuzz-routes.test.ts: the controller's API;
 * fuzz-agent-routes.test.ts: the agents' contract routes over HTTP):
 * - reproducible runs: one base seed (FUZZ_SEED, else from the clock) and, per route and
 *   credential, a seed derived from it, so `FUZZ_SEED=… FUZZ_ROUTE='METHOD /url'
 *   FUZZ_AUTH=…` replays one route and credential, and FUZZ_PATH (fast-check's replay
 *   path) its shrunk failing case only (FUZZ_RUNS must be the failing run's);
 * - a failure is shrunk by fast-check and reported with the seed, the path and the
 *   request, and replay commands;
 * - the corpus (fuzz-corpus.json): every request that once failed, replayed by every run.
 *   A run outside CI adds its new failures to it, to be committed with the fix.
 */
export const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
export const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const ONLY_ROUTE = process.env.FUZZ_ROUTE ?? '';
const ONLY_AUTH = process.env.FUZZ_AUTH ?? '';
const PATH = process.env.FUZZ_PATH;

/** Whether this run fuzzes `route` with credential `auth` (FUZZ_ROUTE, FUZZ_AUTH narrow it). */
export function selected(route: string, auth: string): boolean {
  if (PATH && (!ONLY_ROUTE || !ONLY_AUTH)) throw new Error('FUZZ_PATH replays one case: set FUZZ_ROUTE and FUZZ_AUTH too');
  return (!ONLY_ROUTE || route === ONLY_ROUTE) && (!ONLY_AUTH || auth === ONLY_AUTH);
}
export const CORPUS_FILE = join(import.meta.dirname, 'fuzz-corpus.json');

export interface FuzzRequest {
  method: string;
  /** Path and query, percent-encoded. */
  url: string;
  /** JSON text, or undefined for no body. */
  body?: string;
  headers?: Record<string, string>;
}
export interface FuzzReply {
  status: number;
  body: string;
}
export interface FuzzFailure {
  route: string;
  auth: string;
  seed: number;
  path: string;
  request: FuzzRequest;
  reply: FuzzReply;
  problem: string;
}
export interface CorpusEntry {
  target: 'controller' | 'agent';
  /** Credential label: controller 'admin' | 'none'; agent 'host' | 'none'. */
  auth: string;
  method: string;
  /** May hold {project_id} (the controller's admin project). */
  url: string;
  body: string | null;
  /** The agent's X-Homestack-Op-Id, when the case needs one. */
  op_id?: string;
  found: string;
}

export const nasty = fc.oneof(
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
export const anyBody = fc.oneof(
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

/** A 32-bit seed per route and credential, derived from the base seed. */
export function seedFor(route: string, auth: string): number {
  let h = SEED | 0;
  for (const ch of `${route} ${auth}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

/**
 * Runs `numRuns` generated requests against one route; `problem` says what is wrong
 * with a reply (null: fine). On a failure fast-check shrinks it; the failure comes back
 * with its seed, path and the (shrunk) request.
 */
export async function fuzzRoute(o: {
  route: string;
  auth: string;
  requests: fc.Arbitrary<FuzzRequest>;
  send: (r: FuzzRequest) => Promise<FuzzReply>;
  problem: (reply: FuzzReply, r: FuzzRequest) => string | null;
  onReply?: (reply: FuzzReply) => void;
}): Promise<FuzzFailure | null> {
  const seed = seedFor(o.route, o.auth);
  const seen = new Map<FuzzRequest, { reply: FuzzReply; problem: string }>();
  const details = await fc.check(
    fc.asyncProperty(o.requests, async (r) => {
      const reply = await o.send(r);
      o.onReply?.(reply);
      const problem = o.problem(reply, r);
      if (problem) {
        seen.set(r, { reply, problem });
        throw new Error(problem);
      }
    }),
    { numRuns: RUNS, seed, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
  );
  if (!details.failed || !details.counterexample) return null;
  const request = details.counterexample[0];
  let got = seen.get(request);
  if (!got) {
    // Not the very object the property saw: send it again to report what it gets.
    const reply = await o.send(request);
    got = { reply, problem: o.problem(reply, request) ?? String(details.errorInstance) };
  }
  return {
    route: o.route,
    auth: o.auth,
    seed,
    path: details.counterexamplePath ?? '',
    request,
    ...got,
  };
}

/** The failure as text: what was sent, what came back, and how to replay it. */
export function describeFailure(f: FuzzFailure, testFile: string): string {
  const body = f.request.body === undefined ? '(none)' : f.request.body.slice(0, 300);
  return [
    `${f.route} [${f.auth}]: ${f.problem}`,
    `  sent: ${f.request.method} ${f.request.url.slice(0, 300)} body ${body}`,
    `  got: ${f.reply.status} ${f.reply.body.slice(0, 300)}`,
    `  seed ${f.seed} (base FUZZ_SEED=${SEED}), path ${f.path}`,
    `  replay the route: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} FUZZ_ROUTE='${f.route}' FUZZ_AUTH=${f.auth} SYSTEM_TESTS=1 npx vitest run --project faults ${testFile}`,
    `  replay this case: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} FUZZ_ROUTE='${f.route}' FUZZ_AUTH=${f.auth} FUZZ_PATH='${f.path}' SYSTEM_TESTS=1 npx vitest run --project faults ${testFile}`,
  ].join('\n');
}

export function readCorpus(): CorpusEntry[] {
  return existsSync(CORPUS_FILE) ? (JSON.parse(readFileSync(CORPUS_FILE, 'utf8')) as CorpusEntry[]) : [];
}

/** Adds failures to the corpus (outside CI); returns how many were new. */
export function addToCorpus(target: CorpusEntry['target'], failures: FuzzFailure[], unexpand: (url: string) => string): number {
  if (process.env.CI || !failures.length) return 0;
  const corpus = readCorpus();
  let added = 0;
  for (const f of failures) {
    const e: CorpusEntry = {
      target,
      auth: f.auth,
      method: f.request.method,
      url: unexpand(f.request.url),
      body: f.request.body ?? null,
      ...(f.request.headers?.[OP_ID_HEADER] ? { op_id: f.request.headers[OP_ID_HEADER] } : {}),
      found: `${new Date().toISOString().slice(0, 10)}, seed ${f.seed} path ${f.path}: ${f.reply.status} ${f.reply.body.slice(0, 120)}`,
    };
    if (
      corpus.some(
        (c) => c.target === e.target && c.auth === e.auth && c.method === e.method && c.url === e.url && c.body === e.body,
      )
    )
      continue;
    corpus.push(e);
    added++;
  }
  if (added) writeFileSync(CORPUS_FILE, `${JSON.stringify(corpus, null, 2)}\n`);
  return added;
}
