import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ControllerConfigSchema } from '../../../shared/config/controller.js';
import { loadConfig } from '../../../shared/config/load.js';
import { HostRegistry } from '../../../controller/agents/registry.js';
import { bootstrap } from '../../../controller/cli/bootstrap.js';
import { NODE_FLAGS } from '../../../controller/cli/aio/services.js';
import { migrate } from '../../../controller/db/migrate.js';
import { openDb } from '../../../controller/db/open.js';

/**
 * The controller under test: the built dist/controller/main.js with the production
 * defaults (only data_dir, listen and public_url set), the V8 flags of its unit, its own
 * port and data directory. The database is prepared beforehand with the controller's own
 * code: bootstrap (admin) and `HostRegistry.enrol` for every simulated host.
 */
export const ADMIN_PASSWORD = 'fleet-bench-admin';
/** FLEET_CONTROLLER_ROOT: another checkout's build (a before/after comparison under the same load). */
const ROOT = process.env.FLEET_CONTROLLER_ROOT ?? join(import.meta.dirname, '..', '..', '..');

export interface Controller {
  url: string;
  proc: ChildProcess;
  dbFile: string;
  stop(): Promise<void>;
}

export async function startController(o: {
  dir: string;
  port: number;
  hosts: Array<{ name: string; ip: string; secret: string }>;
  agentPort: number;
  extraToml?: string[];
  /** Write a V8 CPU profile of the controller into `dir` (node --cpu-prof) when it stops. */
  cpuProf?: boolean;
}): Promise<Controller> {
  if (!existsSync(join(ROOT, 'dist/controller/main.js'))) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  mkdirSync(join(o.dir, 'ctl'), { recursive: true });
  const url = `http://127.0.0.1:${o.port}`;
  const toml = join(o.dir, 'controller.toml');
  const lines = [`data_dir = "${o.dir}/ctl"`, `public_url = "${url}"`, '[listen]', 'host = "127.0.0.1"', `port = ${o.port}`];
  writeFileSync(toml, [...lines, ...(o.extraToml ?? []), ''].join('\n'));
  const config = loadConfig(ControllerConfigSchema, toml, { dirKeys: [] });
  const dbFile = join(config.data_dir, 'homestack.db');
  const db = openDb(dbFile);
  migrate(db);
  await bootstrap(db, config, { adminPassword: ADMIN_PASSWORD });
  const reg = new HostRegistry(db, config);
  db.transaction(() => {
    for (const h of o.hosts) reg.enrol({ name: h.name, agentUrl: `http://${h.ip}:${o.agentPort}`, secret: h.secret });
  })();
  db.close();
  const out = openSync(join(o.dir, 'controller.log'), 'a');
  const proc = spawn(
    process.execPath,
    [
      ...NODE_FLAGS.controller,
      ...(o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${o.dir}`] : []),
      join(ROOT, 'dist/controller/main.js'),
      '--config',
      toml,
    ],
    {
      stdio: ['ignore', out, out],
    },
  );
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the controller exited (${proc.exitCode}); see ${o.dir}/controller.log`);
    const ok = await fetch(`${url}/identity/`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) break;
    if (Date.now() - t0 > 60_000) throw new Error('the controller did not listen within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = () =>
    new Promise<void>((r) => {
      if (proc.exitCode !== null) return r();
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 20_000).unref();
    });
  return { url, proc, dbFile, stop };
}

/** CPU seconds, RSS and bytes written of a process, from /proc. */
export function procSample(pid: number): { cpuS: number; rssMb: number; writeBytes: number; at: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const wb = /write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return { cpuS: ticks / 100, rssMb: rss ? Number(rss[1]) / 1024 : 0, writeBytes: wb ? Number(wb[1]) : 0, at: performance.now() };
}

export const fileMb = (f: string) =>
  ['', '-wal'].reduce((s, x) => s + (existsSync(f + x) ? statSync(f + x).size : 0), 0) / 1024 / 1024;

export interface Api {
  call<T = any>(
    method: string,
    path: string,
    o?: { token?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Record<string, unknown>; ms: number }>;
  token(project: string): Promise<string>;
  close(): Promise<void>;
}

/** The bench's HTTP client (undici, 64 connections: 20 concurrent clients never queue on it; 60 s to connect to a starved controller). */
export function apiOf(base: string): Api {
  const dispatcher = new Agent({ connections: 64, connect: { timeout: 60_000 } });
  const call: Api['call'] = async (method, path, o = {}) => {
    const t0 = performance.now();
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers['x-auth-token'] = o.token;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.raw) headers['content-type'] = 'application/octet-stream';
    const r = await request(`${base}${path}`, {
      method: method as 'GET',
      headers,
      body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
      dispatcher,
    });
    const text = await r.body.text();
    const ms = performance.now() - t0;
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.statusCode, body, headers: r.headers as Record<string, unknown>, ms };
  };
  const token = async (project: string) => {
    const r = await call('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      },
    });
    if (r.status !== 201) throw new Error(`token for ${project}: ${r.status} ${JSON.stringify(r.body)}`);
    return String(r.headers['x-subject-token']);
  };
  return { call, token, close: () => dispatcher.close() };
}
