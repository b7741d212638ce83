#!/usr/bin/env node
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Reads a workspace of the Tempest harness (../shared/conformance/tempest/run.sh with
 * --workspace): selected.txt, run.log (subunit-trace with the tracebacks) and
 * run/tempest.log (every HTTP exchange with its headers and bodies).
 *
 *   npx tsx scripts/conformance/report.ts compare --workspace WS --known FILE
 *     → the failures outside FILE (each with its error and HTTP exchange), the tests of
 *       FILE that pass now; exit 1 when a test outside FILE failed. Last line: a summary.
 *   npx tsx scripts/conformance/report.ts failures --workspace WS [--tsv]
 *     → every failed test with the error Tempest raised, the last failing HTTP exchange
 *       and the microversions it asked for (what a fixer starts from).
 *   npx tsx scripts/conformance/report.ts skips --workspace WS   → skipped tests and why
 *
 * Counting follows run.sh: a class failed or skipped in setUpClass counts for each of its
 * selected tests, a selected test that never reported is failed, a failed tearDownClass
 * is one more failure (id `<class>.tearDownClass`).
 *
 * A known-failures file has one test per line: `<test id> <reason>`; `#` starts a comment
 * (family headings); blank lines are ignored.
 */

export type Status = 'passed' | 'failed' | 'skipped' | 'notrun';

export interface RunResult {
  status: Map<string, Status>;
  /** Traceback text per failed test or class (setUpClass/tearDownClass keyed by the class). */
  detail: Map<string, string>;
  skipReason: Map<string, string>;
}

const stripAttrs = (id: string) => id.trim().split('[')[0]!;

/** Parses run.log against selected.txt as run.sh counts. */
export function parseRun(runLog: string, selected: string[]): RunResult {
  const own = new Map<string, string>();
  const cls = new Map<string, string>();
  const detail = new Map<string, string>();
  const skipReason = new Map<string, string>();
  const teardown: string[] = [];
  const lines = runLog.split('\n');
  const head = /^\{\d+\} (\S+?)(?:\[[^\]]*\])?(?: \[[^\]]*\])? \.\.\. (ok|FAILED|SKIPPED|xfail|uxsuccess)(?::\s*(.*))?/;
  const fixture = /^\{\d+\} (setUpClass|tearDownClass) \((\S+)\)(?: \[[^\]]*\])? \.\.\. (ok|FAILED|SKIPPED)(?::\s*(.*))?/;
  let current: string | null = null;
  let buf: string[] = [];
  const flush = () => {
    if (current) detail.set(current, buf.join('\n'));
    current = null;
    buf = [];
  };
  for (const line of lines) {
    const f = fixture.exec(line);
    const h = f ? null : head.exec(line);
    if (f || h || /^={10,}/.test(line) || /^\{\d+\} /.test(line)) flush();
    if (f) {
      const [, kind, c, st, why] = f;
      if (kind === 'setUpClass') cls.set(c!, st!);
      else if (st === 'FAILED') teardown.push(c!);
      if (st === 'SKIPPED' && why) skipReason.set(c!, why);
      if (st === 'FAILED') current = kind === 'setUpClass' ? c! : `${c}.tearDownClass`;
    } else if (h) {
      const [, id, st, why] = h;
      own.set(id!, st!);
      if (st === 'SKIPPED' && why) skipReason.set(id!, why);
      if (st === 'FAILED') current = id!;
    } else if (current) {
      buf.push(line);
    }
  }
  flush();
  const status = new Map<string, Status>();
  for (const raw of selected) {
    const t = stripAttrs(raw);
    if (!t) continue;
    const c = t.slice(0, t.lastIndexOf('.'));
    const st = own.get(t) ?? cls.get(c);
    status.set(
      t,
      st === 'ok' || st === 'xfail' ? 'passed' : st === 'SKIPPED' ? 'skipped' : st === undefined ? 'notrun' : 'failed',
    );
    if (!own.has(t) && cls.has(c)) {
      if (detail.has(c) && !detail.has(t)) detail.set(t, `(setUpClass of ${c} failed)\n${detail.get(c)}`);
      if (skipReason.has(c) && !skipReason.has(t)) skipReason.set(t, skipReason.get(c)!);
    }
  }
  for (const c of teardown) status.set(`${c}.tearDownClass`, 'failed');
  return { status, detail, skipReason };
}

/** The exception Tempest raised, in one line: its class and the message that matters. */
export function errorOf(detail: string): string {
  const tb = detail.split(/^Captured pythonlogging:/m)[0]!;
  if (!tb.trim()) return 'no traceback (crash or timeout: see run.log)';
  const exc =
    /^\s{0,4}([a-zA-Z_][\w.]*(?:Error|Exception|Failure|Body|Code|NotFound|Request|Conflict|Forbidden|Unauthorized|Fault|OverLimit|Timeout|Exceeded|Invalid\w*|Found|Unprocessable|Exceptions))(?::\s?(.*))?$/;
  const lines = tb.split('\n');
  // the last exception line of the last traceback (cleanup errors come after the test's own)
  let at = -1;
  for (let i = 0; i < lines.length; i++) {
    if (exc.test(lines[i]!) && !/^\s*File "/.test(lines[i]!) && !lines[i]!.includes('raise ')) at = i;
  }
  if (at < 0)
    return (
      lines
        .filter((l) => l.trim())
        .slice(-1)[0]
        ?.trim()
        .slice(0, 300) ?? ''
    );
  const m0 = exc.exec(lines[at]!)!;
  const name = m0[1]!.split('.').pop()!;
  let msg = m0[2] ?? '';
  const rest = lines.slice(at + 1, at + 80).join('\n');
  const details = /^Details: (.*)$/m.exec(rest)?.[1] ?? '';
  const schema = /HTTP response body is invalid \((.*)$/m.exec(rest)?.[1] ?? /^(.*)$/m.exec(details)?.[1];
  if (name === 'InvalidHTTPResponseBody' && schema) {
    const where = /Failed validating '(\w+)' in (schema\S*)/.exec(rest);
    const inst = /On instance(\[[^\n]*\])?:/.exec(rest);
    msg = `${schema.replace(/\)$/, '')}${where ? ` [${where[1]} at ${where[2]!.replace(/:$/, '')}]` : ''}${inst?.[1] ? ` on body${inst[1]}` : ''}`;
  } else if (name === 'MultipleExceptions') {
    // a class's cleanups: each error with its details
    const each = [
      ...lines
        .slice(at)
        .join('\n')
        .matchAll(/<class '[\w.]*?(\w+)'>, [^\n]*\nDetails: (.*?)(?=, <traceback object|\n|$)/g),
    ];
    msg = each.map((m) => `${m[1]}: ${m[2]}`).join('; ');
  } else if (name === 'MismatchError' && /^<bound method \w+\.\w+ of /.test(msg)) {
    // testtools' assertRaises when the call did not raise
    const m = /^<bound method (\w+)\.(\w+) of .*?>> returned/.exec(msg);
    msg = `an error was expected, but ${m ? `${m[1]}.${m[2]}` : 'the call'} succeeded`;
  } else if (details && !/^\s*$/.test(details)) {
    msg = `${msg} ${details}`.trim();
  }
  // the Tempest client call that raised (its last frame in tempest/lib/services)
  const frames = [
    ...lines
      .slice(0, at)
      .join('\n')
      .matchAll(/tempest\/lib\/services\/(?:[\w/]+\/)?(\w+)\.py", line \d+, in (\w+)/g),
  ];
  const call = frames.length ? ` (in ${frames[frames.length - 1]![1]}.${frames[frames.length - 1]![2]})` : '';
  return `${name}${call}: ${msg.replace(/\s+/g, ' ').slice(0, 400)}`;
}

export interface Exchange {
  /** `Class:test`, `Class:setUpClass`, `Class:_run_cleanups`... as rest_client logged it. */
  key: string;
  status: number;
  method: string;
  path: string;
  microversion: string;
  requestBody: string;
  responseBody: string;
}

/**
 * Collects the HTTP exchanges of rest_client's log lines (the INFO `Request (Class:test):
 * STATUS METHOD URL` line, then the DEBUG headers and bodies) per `Class:test`.
 */
export function exchangeParser(): { line(l: string): void; result: Map<string, Exchange[]>; all: Exchange[] } {
  const result = new Map<string, Exchange[]>();
  const all: Exchange[] = [];
  const info = / Request \((\w+):(\w+)\): (\d{3}) (\w+) (\S+)/;
  let cur: Exchange | null = null;
  let inResponse = false;
  let open = false;
  return {
    result,
    all,
    line(l: string) {
      const m = info.exec(l);
      if (m) {
        cur = {
          key: `${m[1]}:${m[2]}`,
          status: Number(m[3]),
          method: m[4]!,
          path: m[5]!.replace(/^https?:\/\/[^/]+/, ''),
          microversion: '',
          requestBody: '',
          responseBody: '',
        };
        inResponse = false;
        open = false;
        const key = `${m[1]}:${m[2]}`;
        if (!result.has(key)) result.set(key, []);
        result.get(key)!.push(cur);
        all.push(cur);
        return;
      }
      if (!cur) return;
      if (/^\s*\d{4}-\d\d-\d\d /.test(l) && !l.includes('Request - Headers:')) {
        cur = null;
        return;
      }
      if (/^\s+Response - Headers:/.test(l)) inResponse = true;
      // only from the request's headers line (captured logs sometimes split other lines)
      const mv =
        l.includes('Request - Headers:') && /'(?:X-OpenStack-Nova-API-Version|OpenStack-API-Version)': '([^']+)'/i.exec(l);
      if (mv && !cur.microversion) cur.microversion = mv[1]!.replace(/^(compute|volume) /, '');
      const body = /^\s+Body: (.*)$/.exec(l);
      if (body || (inResponse && open)) {
        // a response body is b'...' and may span lines (the logger wraps long ones)
        const b = (body ? body[1]! : ` ${l.trim()}`).replace(/ _log_request_full .*$/, '');
        if (!inResponse) cur.requestBody = b;
        else {
          const whole = (open ? `${cur.responseBody}${b}` : b).replace(/^b(['"])/, '');
          open = !/['"]$/.test(b);
          cur.responseBody = open ? whole : whole.replace(/['"]$/, '');
        }
      }
    },
  };
}

/** The exchanges of a whole log file (run/tempest.log), streamed. */
export async function exchanges(file: string): Promise<Map<string, Exchange[]>> {
  const p = exchangeParser();
  if (!existsSync(file)) return p.result;
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const l of rl) p.line(l);
  return p.result;
}

const short = (s: string, n = 240) => (s.length > n ? `${s.slice(0, n)}…` : s);
export const idPath = (p: string) =>
  p
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{id}')
    .replace(/\/[0-9a-f]{32}(?=\/|$|\?)/g, '/{id}');

const STATUS_OF: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  OverLimit: 413,
  UnprocessableEntity: 422,
  ServerFault: 500,
  NotImplemented: 501,
};

/**
 * The exchange that shows the failure: for an HTTP error, the last exchange with its status
 * (the test's own before its cleanups'); otherwise the test's own last exchange (a body
 * Tempest's schema refused, an assertion on what came back), else the last error.
 */
export function keyExchange(all: Exchange[], error: string): Exchange | null {
  const rev = [...all].reverse();
  const own = rev.filter((x) => !/:(_run_cleanups|tearDown\w*|setUpClass|resource_cleanup)$/.test(x.key));
  const status = STATUS_OF[/^(\w+)/.exec(error)?.[1] ?? ''];
  if (status) return own.find((x) => x.status === status) ?? rev.find((x) => x.status === status) ?? rev[0] ?? null;
  return own[0] ?? rev.find((x) => x.status >= 400) ?? rev[0] ?? null;
}

export function readKnown(file: string): Map<string, string> {
  const known = new Map<string, string>();
  if (!existsSync(file)) return known;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [id, ...reason] = line.split(/\s+/);
    known.set(id!, reason.join(' '));
  }
  return known;
}

/**
 * Against a known-failures file: the failures it does not name (fresh), the tests it names
 * that passed (fixed), the lines naming a test the run did not select (stale). A listed test
 * that skipped (e.g. the API lists without compute) is neither.
 */
export function compareKnown(
  status: Map<string, Status>,
  known: Map<string, string>,
): { fresh: string[]; fixed: string[]; stale: string[] } {
  const failed = [...status].filter(([, s]) => s === 'failed' || s === 'notrun').map(([t]) => t);
  // `<class>.tearDownClass` is in the status only when it failed: its class ran if any of
  // the class's tests did not skip
  const classRan = (c: string) => [...status].some(([t, s]) => t.startsWith(`${c}.`) && s !== 'skipped');
  const teardownPassed = (t: string) =>
    t.endsWith('.tearDownClass') && !status.has(t) && classRan(t.slice(0, -'.tearDownClass'.length));
  return {
    fresh: failed.filter((t) => !known.has(t)),
    fixed: [...known.keys()].filter((t) => status.get(t) === 'passed' || teardownPassed(t)),
    stale: [...known.keys()].filter((t) => !status.has(t) && !t.endsWith('.tearDownClass')),
  };
}

async function load(ws: string) {
  const selected = readFileSync(join(ws, 'selected.txt'), 'utf8').split('\n');
  const run = parseRun(existsSync(join(ws, 'run.log')) ? readFileSync(join(ws, 'run.log'), 'utf8') : '', selected);
  const ex = await exchanges(join(ws, 'run', 'tempest.log'));
  // run.log holds each failed test's own captured log, its cleanups' included (tempest.log
  // can miss a worker's early lines when both workers open it), so its exchanges come first.
  const of = (id: string) => {
    const [c, t] = id.split('.').slice(-2) as [string, string];
    const p = exchangeParser();
    for (const l of (run.detail.get(id) ?? '').split('\n')) p.line(l);
    if (p.all.length) return { mine: p.all, setup: p.all };
    return {
      mine: [...(ex.get(`${c}:${t}`) ?? []), ...(ex.get(`${c}:_run_cleanups`) ?? [])],
      setup: ex.get(`${c}:setUpClass`) ?? [],
    };
  };
  return { run, of };
}

function describe(id: string, run: RunResult, x: { mine: Exchange[]; setup: Exchange[] }): string[] {
  const tb = run.detail.get(id) ?? '';
  const fromSetup = tb.startsWith('(setUpClass');
  const error = run.status.get(id) === 'notrun' ? 'never reported (crash or timeout)' : errorOf(tb);
  const k = keyExchange(fromSetup ? x.setup : x.mine, error);
  const mvs = [...new Set([...x.setup, ...x.mine].map((e) => e.microversion).filter(Boolean))];
  const out = [`error: ${error}`];
  if (fromSetup) out.push('in setUpClass (every test of the class)');
  if (k) {
    out.push(`http: ${k.status} ${k.method} ${idPath(k.path)}${k.microversion ? ` (microversion ${k.microversion})` : ''}`);
    if (k.requestBody) out.push(`  sent: ${short(k.requestBody)}`);
    if (k.responseBody) out.push(`  got: ${short(k.responseBody)}`);
  }
  if (mvs.length) out.push(`microversions asked: ${mvs.join(', ')}`);
  return out;
}

async function main(argv: string[]): Promise<number> {
  const opt = (n: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : undefined);
  const ws = opt('--workspace');
  if (!ws || !existsSync(join(ws, 'selected.txt'))) {
    process.stderr.write('usage: report.ts compare|failures|skips --workspace WS [--known FILE] [--tsv]\n');
    return 2;
  }
  const { run, of } = await load(ws);
  const failed = [...run.status].filter(([, s]) => s === 'failed' || s === 'notrun').map(([t]) => t);
  if (argv[0] === 'failures') {
    for (const id of failed) {
      const d = describe(id, run, of(id));
      process.stdout.write(argv.includes('--tsv') ? `${id}\t${d.join(' | ')}\n` : `${id}\n  ${d.join('\n  ')}\n`);
    }
    return 0;
  }
  if (argv[0] === 'skips') {
    for (const [id, s] of run.status) if (s === 'skipped') process.stdout.write(`${id}\t${run.skipReason.get(id) ?? ''}\n`);
    return 0;
  }
  if (argv[0] !== 'compare') return 2;
  const knownFile = opt('--known') ?? '';
  const known = readKnown(knownFile);
  const { fresh, fixed, stale } = compareKnown(run.status, known);
  for (const id of fresh) process.stdout.write(`NEW FAILURE ${id}\n  ${describe(id, run, of(id)).join('\n  ')}\n`);
  for (const id of fixed) process.stdout.write(`PASSES NOW (remove it from ${knownFile}) ${id}\n`);
  for (const id of stale) process.stdout.write(`NOT SELECTED (stale line in ${knownFile}) ${id}\n`);
  const knownFailing = failed.length - fresh.length;
  process.stdout.write(
    `${knownFailing} known failures, ${fresh.length} new, ${fixed.length} known now passing${stale.length ? `, ${stale.length} stale` : ''}\n`,
  );
  return fresh.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    },
  );
}
