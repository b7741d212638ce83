import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { agentCall } from '../../controller/pki/testing/agent-call.js';
import { freePort, kill9, until } from './util.js';

/**
 * A real controller (dist/) on 127.0.0.1 and, optionally, a real agent next to it
 * (usually with its in-memory `fake` drivers: the process scenarios measure the control
 * plane), in /tmp/t<run>-<name>/ with their logs. What each scenario configures
 * differently (heartbeat, roles, drivers, a tmpfs) goes through the options.
 */
export const processesEnabled = process.env.SYSTEM_TESTS === '1' && process.getuid?.() === 0;
export const ROOT = join(import.meta.dirname, '..', '..');

export interface ProcessCloudOptions {
  /** Extra controller.toml lines after its [listen] section (e.g. an [agents] section). */
  controller?: string[];
  /** The agent: its roles and extra lines (sections included); absent: no agent. */
  agent?: { roles: string[]; lines?: string[] };
  /** Runs once the directories exist and before anything starts (e.g. mount a tmpfs). */
  beforeStart?: (c: ProcessCloud) => void;
  /** Runs after bootstrap and enrolment, before anything starts (e.g. take TLS files away: a pre-TLS install). */
  afterEnrol?: (c: ProcessCloud) => void;
  /** Bootstrap an admin (default true). */
  bootstrap?: boolean;
}

type Which = 'controller' | 'agent';

export class ProcessCloud {
  readonly run = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  readonly dir: string;
  readonly host: string;
  readonly password = randomBytes(12).toString('hex');
  port = 0;
  agentPort = 0;
  token = '';
  projectId = '';
  readonly procs: Record<Which, ChildProcess | null> = { controller: null, agent: null };

  constructor(
    name: string,
    private readonly o: ProcessCloudOptions = {},
  ) {
    this.dir = `/tmp/${this.run}-${name}`;
    this.host = `${this.run}-h1`;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes the configuration, bootstraps, enrols, starts both and logs in as admin. */
  async setUp(): Promise<void> {
    if (!existsSync(join(ROOT, 'dist/controller/main.js')) || !existsSync(join(ROOT, 'dist/controller/db/migrations'))) {
      spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    }
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'ctl'), { recursive: true });
    this.port = await freePort();
    this.agentPort = await freePort();
    writeFileSync(
      join(this.dir, 'controller.toml'),
      [
        `data_dir = "${this.dir}/ctl"`,
        '[listen]',
        'host = "127.0.0.1"',
        `port = ${this.port}`,
        ...(this.o.controller ?? []),
        '',
      ].join('\n'),
    );
    const a = this.o.agent;
    if (a) {
      writeFileSync(
        join(this.dir, 'agent.toml'),
        [
          `host = "${this.host}"`,
          `roles = [${a.roles.map((r) => `"${r}"`).join(', ')}]`,
          `data_dir = "${this.dir}/agent"`,
          `controller_url = "${this.base}"`,
          `credential_file = "${this.dir}/agent.key"`,
          ...(a.lines ?? []),
          '[listen]',
          'host = "127.0.0.1"',
          `port = ${this.agentPort}`,
          '',
        ].join('\n'),
      );
    }
    this.o.beforeStart?.(this);
    if (this.o.bootstrap !== false) this.mustCli('bootstrap', '--admin-password', this.password, '--public-url', this.base);
    if (a) {
      this.mustCli('host', 'enrol-local');
      chmodSync(join(this.dir, 'agent.key'), 0o600);
    }
    this.o.afterEnrol?.(this);
    this.start('controller');
    await this.waitListening();
    if (a) {
      this.start('agent');
      await until('the host to be up', () => this.hostState() === 'up', 30_000);
    }
    if (this.o.bootstrap !== false) await this.login();
  }

  start(which: Which): ChildProcess {
    const log = openSync(join(this.dir, `${which}.log`), 'a');
    const script = which === 'controller' ? 'dist/controller/main.js' : 'dist/agents/main.js';
    const p = spawn(process.execPath, [...NODE_FLAGS[which], join(ROOT, script), '--config', join(this.dir, `${which}.toml`)], {
      stdio: ['ignore', log, log],
    });
    this.procs[which] = p;
    return p;
  }

  async kill9(which: Which): Promise<void> {
    await kill9(this.procs[which]);
    this.procs[which] = null;
  }

  async waitListening(ms = 60_000): Promise<void> {
    await until('the controller to listen', async () => (await fetch(`${this.base}/identity/`)).status < 500, ms);
  }

  /** The CLI against this controller (and agent config); status, stdout, stderr. */
  cli(...args: string[]): { code: number; out: string; err: string } {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'dist/controller/cli/main.js'),
        ...args,
        '--config',
        join(this.dir, 'controller.toml'),
        ...(this.o.agent ? ['--agent-config', join(this.dir, 'agent.toml')] : []),
      ],
      { encoding: 'utf8' },
    );
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  }

  private mustCli(...args: string[]): void {
    const r = this.cli(...args);
    if (r.code !== 0) throw new Error(`homestack ${args[0]} failed: ${r.err}`);
  }

  async login(): Promise<void> {
    const r = await fetch(`${this.base}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { name: 'Default' }, password: this.password } },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      }),
    });
    if (r.status !== 201) throw new Error(`login: ${r.status}`);
    this.token = r.headers.get('x-subject-token')!;
    this.projectId = ((await r.json()) as { token: { project: { id: string } } }).token.project.id;
  }

  /** An API call with the admin token; a Buffer body goes as application/octet-stream. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: any }> {
    const raw = body instanceof Buffer;
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        'x-auth-token': this.token,
        ...extra,
        ...(body !== undefined ? { 'content-type': raw ? 'application/octet-stream' : 'application/json' } : {}),
      },
      body: raw ? new Uint8Array(body) : body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed };
  }

  /** A read-only query of the controller's database (it may be down). */
  q<T>(sql: string, ...args: unknown[]): T[] {
    const d = new Database(join(this.dir, 'ctl', 'homestack.db'), { readonly: true, fileMustExist: true });
    try {
      return d.prepare(sql).all(...args) as T[];
    } finally {
      d.close();
    }
  }

  /**
   * GET on the agent with the host credential, as the controller calls it (mutual TLS with
   * the controller's client certificate when the agent registered an https:// URL).
   */
  async agentGet(path: string): Promise<any> {
    const url = this.q<{ agent_url: string }>('SELECT agent_url FROM hosts WHERE name = ?', this.host)[0]?.agent_url;
    const base = url?.startsWith('https:') ? `https://127.0.0.1:${this.agentPort}` : `http://127.0.0.1:${this.agentPort}`;
    const secret = readFileSync(join(this.dir, 'agent.key'), 'utf8').trim();
    const r = await agentCall(join(this.dir, 'ctl'), `${base}${path}`, { headers: { authorization: `Bearer ${secret}` } });
    return r.body;
  }

  hostState(): string | undefined {
    return this.q<{ state: string }>('SELECT state FROM hosts WHERE name = ?', this.host)[0]?.state;
  }

  async close(): Promise<void> {
    await this.kill9('agent');
    await this.kill9('controller');
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
