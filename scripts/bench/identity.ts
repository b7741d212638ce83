#!/usr/bin/env node
/**
 * Identity benchmark: bounded load on a running controller from this (second) process
 * over loopback, with undici. For each scenario and concurrency (1 and 8) it runs for
 * --seconds or until --max requests, counts every request, and prints req/s, p50, p99
 * and errors, then the controller's RSS (from /proc/<pid>/status, given --pid).
 *
 *   npx tsx scripts/bench/identity.ts --url http://127.0.0.1:8100/v3 \
 *     --user admin --password PW --project admin --pid $(cat controller.pid) [--seconds 5] [--json]
 *
 * Scenarios: password token issue, token-method token issue, token validation
 * (GET /v3/auth/tokens), GET /v3/projects; and, to compare their cost, failed logins with a
 * wrong password and with an unknown user.
 *
 * TLS overhead (issue 17): `--compare https://127.0.0.1:8101/v3 --cacert <data_dir>/pki/ca.pem`
 * runs each scenario against --url and the --compare controller (same database and token
 * keys, the second one serving HTTPS): one uncounted warm-up round on each, then A B A B,
 * and prints the overhead of B:
 * 1 − (B's req/s ÷ A's), from the sums of both rounds. Keep-alive on both (undici Pool).
 * `scripts/bench/identity-run.sh tls` starts the two controllers and runs it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

interface Result {
  scenario: string;
  concurrency: number;
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxRssMb: number | null;
}

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.OS_AUTH_URL ?? 'http://127.0.0.1:8000/v3' },
    user: { type: 'string', default: process.env.OS_USERNAME ?? 'admin' },
    password: { type: 'string', default: process.env.OS_PASSWORD ?? '' },
    project: { type: 'string', default: process.env.OS_PROJECT_NAME ?? 'admin' },
    domain: { type: 'string', default: 'Default' },
    seconds: { type: 'string', default: '5' },
    max: { type: 'string', default: '200000' },
    concurrency: { type: 'string', default: '1,8' },
    only: { type: 'string', default: '' },
    pid: { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
    compare: { type: 'string', default: '' },
    cacert: { type: 'string', default: '' },
  },
});

const base = new URL(args.url!.replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3'));
let origin = base.origin;
const compareOrigin = args.compare ? new URL(args.compare).origin : '';
/** The cloud's CA for an https:// controller (both pools); the system's CAs otherwise. */
const connect = args.cacert ? { ca: [readFileSync(args.cacert, 'utf8')] } : undefined;
const v3 = base.pathname;
const seconds = Number(args.seconds);
const maxRequests = Number(args.max);
const pid = args.pid ? Number(args.pid) : null;

function rssMb(): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

const passwordBody = JSON.stringify({
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { name: args.user, domain: { name: args.domain }, password: args.password } },
    },
    scope: { project: { name: args.project, domain: { name: args.domain } } },
  },
});

const failBody = (user: string) =>
  JSON.stringify({
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, domain: { name: args.domain }, password: `wrong-${process.pid}` } },
      },
    },
  });

type Req = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string; expect: number };

async function call(pool: Pool, r: Req): Promise<{ status: number; token?: string }> {
  const res = await pool.request({ method: r.method, path: r.path, headers: r.headers, body: r.body });
  await res.body.dump();
  const t = res.headers['x-subject-token'];
  return { status: res.statusCode, token: typeof t === 'string' ? t : undefined };
}

async function issueToken(pool: Pool): Promise<string> {
  const r = await call(pool, {
    method: 'POST',
    path: `${v3}/auth/tokens`,
    headers: { 'content-type': 'application/json' },
    body: passwordBody,
    expect: 201,
  });
  if (r.status !== 201 || !r.token) throw new Error(`cannot get a token for ${args.user}: HTTP ${r.status}`);
  return r.token;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function run(name: string, concurrency: number, make: () => Req): Promise<Result> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, ...(connect ? { connect } : {}) });
  for (let i = 0; i < Math.min(3, concurrency * 2); i++) await call(pool, make()); // warm-up, not counted
  const lat: number[] = [];
  let errors = 0;
  let started = 0;
  let maxRss = rssMb();
  const sampler = setInterval(() => {
    const r = rssMb();
    if (r !== null && (maxRss === null || r > maxRss)) maxRss = r;
  }, 200);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && started < maxRequests) {
      started++;
      const req = make();
      const s = performance.now();
      try {
        const r = await call(pool, req);
        if (r.status !== req.expect) errors++;
      } catch {
        errors++;
      }
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await pool.close();
  lat.sort((a, b) => a - b);
  return {
    scenario: name,
    concurrency,
    requests: lat.length,
    errors,
    seconds: Number(elapsed.toFixed(2)),
    rps: Number((lat.length / elapsed).toFixed(1)),
    p50ms: Number(percentile(lat, 50).toFixed(2)),
    p99ms: Number(percentile(lat, 99).toFixed(2)),
    maxRssMb: maxRss,
  };
}

async function main(): Promise<void> {
  const setup = new Pool(origin, { connections: 1, ...(connect ? { connect } : {}) });
  const token = await issueToken(setup);
  const subject = await issueToken(setup);
  await setup.close();
  const scenarios: Array<[string, () => Req]> = [
    [
      'token issue (password)',
      () => ({
        method: 'POST',
        path: `${v3}/auth/tokens`,
        headers: { 'content-type': 'application/json' },
        body: passwordBody,
        expect: 201,
      }),
    ],
    [
      'token issue (token)',
      () => ({
        method: 'POST',
        path: `${v3}/auth/tokens`,
        headers: { 'content-type': 'application/json' },
        expect: 201,
        body: JSON.stringify({
          auth: {
            identity: { methods: ['token'], token: { id: token } },
            scope: { project: { name: args.project, domain: { name: args.domain } } },
          },
        }),
      }),
    ],
    [
      'token validation',
      () => ({
        method: 'GET',
        path: `${v3}/auth/tokens`,
        headers: { 'x-auth-token': token, 'x-subject-token': subject },
        expect: 200,
      }),
    ],
    ['GET /v3/projects', () => ({ method: 'GET', path: `${v3}/projects`, headers: { 'x-auth-token': token }, expect: 200 })],
    // A wrong password and an unknown user must cost the same (no user enumeration by timing).
    [
      '401 wrong password',
      () => ({
        method: 'POST',
        path: `${v3}/auth/tokens`,
        headers: { 'content-type': 'application/json' },
        body: failBody(args.user!),
        expect: 401,
      }),
    ],
    [
      '401 unknown user',
      () => ({
        method: 'POST',
        path: `${v3}/auth/tokens`,
        headers: { 'content-type': 'application/json' },
        body: failBody(`nobody-${process.pid}`),
        expect: 401,
      }),
    ],
  ];
  const conc = args.concurrency!.split(',').map(Number);
  const results: Result[] = [];
  const overheads: Array<{ scenario: string; concurrency: number; a: string; b: string; overheadPct: number }> = [];
  const rssBefore = rssMb();
  for (const [name, make] of scenarios) {
    if (args.only && !args.only.split(',').some((o) => name.includes(o))) continue; // --only A,B: substrings of scenario names
    for (const c of conc) {
      const sides = compareOrigin ? [base.origin, compareOrigin, base.origin, compareOrigin] : [base.origin];
      const byOrigin = new Map<string, Result[]>();
      if (compareOrigin)
        for (const o of [base.origin, compareOrigin]) {
          origin = o;
          await run(name, c, make); // a warm-up round on each side (the JIT, both pools' paths), not counted
        }
      for (const o of sides) {
        origin = o;
        const r = { ...(await run(name, c, make)), ...(compareOrigin ? { origin: o } : {}) };
        results.push(r);
        byOrigin.set(o, [...(byOrigin.get(o) ?? []), r]);
        if (!args.json) {
          process.stdout.write(
            `${name.padEnd(24)} c=${String(c).padEnd(2)}${compareOrigin ? ` ${o.padEnd(24)}` : ''} ${String(r.requests).padStart(7)} req in ${r.seconds}s  ` +
              `${String(r.rps).padStart(8)} req/s  p50 ${r.p50ms.toFixed(2).padStart(7)} ms  p99 ${r.p99ms.toFixed(2).padStart(7)} ms  ` +
              `errors ${r.errors}${r.maxRssMb !== null ? `  controller RSS max ${r.maxRssMb} MiB` : ''}\n`,
          );
        }
      }
      if (compareOrigin) {
        const rate = (o: string) => {
          const rs = byOrigin.get(o) ?? [];
          return rs.reduce((n, r) => n + r.requests, 0) / rs.reduce((n, r) => n + r.seconds, 0);
        };
        const overheadPct = Number(((1 - rate(compareOrigin) / rate(base.origin)) * 100).toFixed(1));
        overheads.push({ scenario: name, concurrency: c, a: base.origin, b: compareOrigin, overheadPct });
        if (!args.json)
          process.stdout.write(`${name.padEnd(24)} c=${String(c).padEnd(2)} overhead of ${compareOrigin}: ${overheadPct} %\n`);
      }
    }
  }
  const rssAfter = rssMb();
  if (args.json)
    process.stdout.write(
      JSON.stringify({ url: base.href, seconds, results, overheads, rssBeforeMb: rssBefore, rssAfterMb: rssAfter }, null, 2) +
        '\n',
    );
  else if (pid) process.stdout.write(`controller RSS: ${rssBefore} MiB before, ${rssAfter} MiB after\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/identity: ${(e as Error).message}\n`);
  process.exit(1);
});
