import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { freePort, kill9, sleep, until } from './util.js';

/**
 * Issue 11, scenario 2 (part): kill -9 of a real agent process (built dist/) while an
 * operation is in flight on it, with the DEFAULT heartbeat settings (10 s × 3 missed):
 * the host must be down within 35 s (measured), the operation must not be lost nor run
 * twice, and it completes when the agent returns. The agent has no roles, so no guest
 * boot or volume attach is interrupted here (see faults/README.md).
 */
const ENABLED = process.env.SYSTEM_TESTS === '1' && process.getuid?.() === 0;
if (!ENABLED) console.log('[skip] faults/processes agent kill: needs SYSTEM_TESTS=1 and root (starts real controller and agent processes)');

const ROOT = join(import.meta.dirname, '..', '..');
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const DIR = `/tmp/${RUN}-agentkill`;
const HOST = `${RUN}-h1`;
const SECRET_FILE = join(DIR, 'agent.key');



let ctlPort = 0;
let agentPort = 0;
let controller: ChildProcess | null = null;
let agent: ChildProcess | null = null;

function startProc(name: 'controller' | 'agent'): ChildProcess {
  const script = name === 'controller' ? 'dist/controller/main.js' : 'dist/agents/main.js';
  const out = openSync(join(DIR, `${name}.log`), 'a');
  return spawn(process.execPath, [...NODE_FLAGS[name], join(ROOT, script), '--config', join(DIR, `${name}.toml`)], { stdio: ['ignore', out, out] });
}


function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/controller/cli/main.js'), ...args, '--config', join(DIR, 'controller.toml'), '--agent-config', join(DIR, 'agent.toml')], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function row<T>(sql: string, ...args: unknown[]): T | undefined {
  const d = new Database(join(DIR, 'ctl', 'homestack.db'), { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).get(...args) as T | undefined;
  } finally {
    d.close();
  }
}
const hostState = () => row<{ state: string }>('SELECT state FROM hosts WHERE name = ?', HOST)?.state;
const opRow = (id: string) => row<{ state: string; attempts: number; last_error: string | null; result: string | null }>('SELECT * FROM operations WHERE id = ?', id)!;

describe.skipIf(!ENABLED)('agent kill -9 with an operation in flight (default heartbeat)', () => {
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/controller/main.js')) || !existsSync(join(ROOT, 'dist/controller/db/migrations'))) {
      spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    }
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(join(DIR, 'ctl'), { recursive: true });
    ctlPort = await freePort();
    agentPort = await freePort();
    // No [agents] section: the defaults (heartbeat 10 s, down after 3 missed) are what is measured.
    writeFileSync(join(DIR, 'controller.toml'), [
      `data_dir = "${DIR}/ctl"`, '[listen]', 'host = "127.0.0.1"', `port = ${ctlPort}`, '[log]', 'level = "info"', '',
    ].join('\n'));
    writeFileSync(join(DIR, 'agent.toml'), [
      `host = "${HOST}"`, 'roles = []', `data_dir = "${DIR}/agent"`, `controller_url = "http://127.0.0.1:${ctlPort}"`,
      `credential_file = "${SECRET_FILE}"`, '[listen]', 'host = "127.0.0.1"', `port = ${agentPort}`, '',
    ].join('\n'));
    const enrol = cli('host', 'enrol-local');
    expect(enrol.code, enrol.err).toBe(0);
    chmodSync(SECRET_FILE, 0o600);
    controller = startProc('controller');
    await until('the controller to listen', async () => (await fetch(`http://127.0.0.1:${ctlPort}/identity/`)).status < 500, 20_000);
    agent = startProc('agent');
    await until('the host to be up', () => hostState() === 'up', 30_000);
  }, 120_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await kill9(agent);
    await kill9(controller);
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(DIR, { recursive: true, force: true });
  });

  it('the host is down within 35 s of kill -9 mid-operation; the operation completes once when the agent returns', async () => {
    const secret = readFileSync(SECRET_FILE, 'utf8').trim();
    // An operation the agent holds for 20 s, so it is surely running on the agent when killed.
    const en = cli('ops', 'echo', HOST, `${RUN}-in-flight`, '--delay-ms', '20000');
    expect(en.code, en.err).toBe(0);
    const opId = en.out.trim();
    await until('the operation to be sending', () => opRow(opId).state === 'sending', 15_000, 50);
    await sleep(500);
    await kill9(agent);
    const t0 = Date.now();
    await until('the host to be down', () => hostState() === 'down', 40_000, 250);
    const downS = (Date.now() - t0) / 1000;
    figures.host_down_s = downS;
    expect(downS).toBeLessThanOrEqual(35);
    // While down: the operation is neither lost nor marked done.
    expect(['pending', 'sending']).toContain(opRow(opId).state);
    // A second operation queued while the host is down.
    const en2 = cli('ops', 'echo', HOST, `${RUN}-while-down`);
    expect(en2.code, en2.err).toBe(0);
    const op2 = en2.out.trim();
    const t1 = Date.now();
    agent = startProc('agent');
    await until('the host to be up again', () => hostState() === 'up', 30_000);
    figures.host_up_after_restart_s = (Date.now() - t1) / 1000;
    const done2 = await until('the queued operation to be done', () => opRow(op2).state === 'done' && opRow(op2), 60_000, 250);
    expect(JSON.parse(done2.result!)).toMatchObject({ message: `${RUN}-while-down`, op_id: op2 });
    const done1 = await until('the interrupted operation to be done', () => opRow(opId).state === 'done' && opRow(opId), 90_000, 250);
    figures.interrupted_op_done_after_restart_s = (Date.now() - t1) / 1000;
    figures.interrupted_op_attempts = done1.attempts;
    expect(JSON.parse(done1.result!)).toMatchObject({ message: `${RUN}-in-flight`, op_id: opId });
    expect(done1.attempts).toBeGreaterThanOrEqual(2);
    // The restarted agent ran each operation exactly once.
    const log = await (await fetch(`http://127.0.0.1:${agentPort}/v1/echo`, { headers: { authorization: `Bearer ${secret}` } })).json() as { calls: { op_id: string }[] };
    expect(log.calls.filter((c) => c.op_id === opId)).toHaveLength(1);
    expect(log.calls.filter((c) => c.op_id === op2)).toHaveLength(1);
  }, 240_000);
});
