import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { Agent, fetch } from 'undici';
import { makeRunner, type RunOptions } from '../../shared/exec/run.js';
import { MultiHost, type SimHost } from '../../agents/network/testing/harness.js';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { kill9, sleep, until } from '../processes/util.js';

/**
 * A small real cloud for the fault scenarios that need real drivers: the controller
 * (dist/) in a management namespace, and one simulated host (agents/network/testing/
 * harness.ts) whose agent (dist/) runs the compute, network and volume roles on that
 * host's OWN libvirtd (TCG guests), Open vSwitch and tgtd, with the file volume back
 * end. Nothing of the machine's shared daemons is touched, so a scenario may kill any
 * of them.
 *
 * The test process reaches the controller over a veth into the management namespace
 * (203.0.113.<4k+209>/30 on this side); agents reach it at 198.51.100.1 on the
 * management LAN. Both daemons are children of the test process started with
 * `nsenter`, so their pid is the daemon's and `kill9()` hits the daemon itself.
 */
export const ROOT = resolve(import.meta.dirname, '..', '..');
export const GUEST_IMAGE = resolve(process.env.ACC_GUEST_IMAGE ?? join(ROOT, 'build/test-image/homestack-guest.qcow2'));
const PORT = 8000;
const AGENT_PORT = 8001;
const HOST_IP = '198.51.100.11';

/** Why a real-cloud scenario cannot run here, or null. */
export function realCloudUnavailable(): string | null {
  if (process.env.SYSTEM_TESTS !== '1') return 'SYSTEM_TESTS is not 1';
  const mh = MultiHost.unavailable();
  if (mh) return mh;
  for (const b of ['/usr/sbin/libvirtd', '/usr/sbin/tgtd', '/usr/sbin/tgtadm', '/usr/bin/qemu-system-x86_64']) {
    if (!existsSync(b)) return `${b} is not installed`;
  }
  if (!existsSync(join(ROOT, 'dist/controller/main.js'))) return 'no build (npm run build)';
  if (!existsSync(GUEST_IMAGE)) return `no test image at ${GUEST_IMAGE} (scripts/build-test-image.sh)`;
  return null;
}

export interface RealCloudOptions {
  /** Controller's agents.heartbeat_s and the agent's heartbeat_s (default 2). */
  heartbeatS?: number;
  downAfterMissed?: number;
  /** Extra lines for the controller's TOML / the agent's TOML (sections included). */
  controllerToml?: string[];
  /** Extra lines for the controller's [compute] section (e.g. sync_power_state_s). */
  controllerCompute?: string[];
  agentCompute?: string[];
  agentTop?: string[];
  /** Runs after the host exists and before its agent starts (e.g. a small tmpfs for instances). */
  beforeAgent?: (c: RealCloud) => Promise<void>;
}

export interface Reply {
  status: number;
  body: any;
}

export class RealCloud {
  /**
   * The test's HTTP client. The controller (fastify) closes a keep-alive connection after
   * 72 s idle and says so; undici would reuse one until 1 s before that, and on a loaded
   * machine it sometimes picked one the server was closing ("other side closed" on a
   * POST). Idle connections are dropped after 10 s here instead.
   */
  private readonly http = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 10_000 });
  readonly mh: MultiHost;
  host!: SimHost;
  readonly dir: string;
  readonly ctlDir: string;
  readonly hostName: string;
  readonly instancesDir: string;
  readonly volumesDir: string;
  private link = '';
  private ctlIp = '';
  readonly password = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  token = '';
  projectId = '';
  readonly procs: { controller: ChildProcess | null; agent: ChildProcess | null } = { controller: null, agent: null };
  private readonly root = makeRunner();

  private constructor(readonly o: RealCloudOptions) {
    this.mh = new MultiHost(this.root);
    this.dir = this.mh.dir;
    this.ctlDir = join(this.dir, 'ctl');
    this.hostName = `${this.mh.prefix}-a`;
    this.instancesDir = join(this.dir, 'hA', 'data', 'instances');
    this.volumesDir = join(this.dir, 'hA', 'data', 'volumes');
  }

  get url(): string {
    return `http://${this.ctlIp}:${PORT}`;
  }
  get ctlDb(): string {
    return join(this.ctlDir, 'data', 'homestack.db');
  }

  static async start(o: RealCloudOptions = {}): Promise<RealCloud> {
    const c = new RealCloud(o);
    try {
      await c.setUp();
    } catch (e) {
      // The caller never gets the cloud to close: take down what was made (namespaces,
      // daemons, tgtd) instead of leaving it running on the shared machine.
      if (process.env.KEEP_TEST_DIRS !== '1') await c.close().catch(() => {});
      throw e;
    }
    return c;
  }

  private async setUp(): Promise<void> {
    const hb = this.o.heartbeatS ?? 2;
    await this.mh.up({ mgmt: true });
    this.host = await this.mh.addHost('A', 1, { uplink: true, libvirt: true });
    await this.startTgtd();
    await this.linkToMgmt();
    mkdirSync(join(this.ctlDir, 'data'), { recursive: true });
    writeFileSync(
      join(this.ctlDir, 'controller.toml'),
      lines([
        `data_dir = "${this.ctlDir}/data"`,
        `public_url = "http://198.51.100.1:${PORT}"`,
        '',
        '[listen]',
        'host = "0.0.0.0"',
        `port = ${PORT}`,
        '',
        '[agents]',
        `heartbeat_s = ${hb}`,
        `down_after_missed = ${this.o.downAfterMissed ?? 3}`,
        'dispatch_backoff_max_s = 2',
        '',
        '[identity]',
        'scrypt_log_n = 10',
        '',
        // Up to ~30 tiny guests on this machine's 2 cores (Nova's default ratio of 4 allows 8).
        '[compute]',
        'cpu_allocation_ratio = 16',
        ...(this.o.controllerCompute ?? []),
        '',
        ...(this.o.controllerToml ?? []),
      ]),
    );
    const data = join(this.host.dir, 'data');
    writeFileSync(
      join(this.host.dir, 'agent.toml'),
      lines([
        `host = "${this.hostName}"`,
        'roles = ["compute", "network", "volume"]',
        `data_dir = "${data}"`,
        `controller_url = "http://198.51.100.1:${PORT}"`,
        `credential_file = "${join(this.host.dir, 'agent.key')}"`,
        `heartbeat_s = ${hb}`,
        ...(this.o.agentTop ?? []),
        '',
        '[listen]',
        `host = "${HOST_IP}"`,
        `port = ${AGENT_PORT}`,
        '',
        '[compute]',
        'virt_type = "qemu"',
        `instances_dir = "${this.instancesDir}"`,
        ...(this.o.agentCompute ?? []),
        '',
        '[network]',
        `tunnel_ip = "${this.host.tunnelIp}"`,
        'resync_s = 30',
        '',
        '[volume]',
        'backend = "file"',
        'target = "tgtadm"',
        `file_dir = "${this.volumesDir}"`,
        `target_ip = "${HOST_IP}"`,
        '',
      ]),
    );
    // --no-libvirt-tls: this cloud uses the machine's own libvirtd, which must not be reconfigured
    await this.cli(['host', 'enrol-local', '--no-libvirt-tls', '--agent-config', join(this.host.dir, 'agent.toml')]);
    writeFileSync(join(this.ctlDir, 'admin.pw'), `${this.password}\n`, { mode: 0o600 });
    await this.cli([
      'bootstrap',
      '--admin-password-file',
      join(this.ctlDir, 'admin.pw'),
      '--public-url',
      `http://198.51.100.1:${PORT}`,
    ]);
    this.startController();
    await this.waitController();
    if (this.o.beforeAgent) await this.o.beforeAgent(this);
    this.startAgent();
    await this.waitHost('up', 60_000);
    await this.login();
  }

  /** tgtd inside the host: its own /run/tgtd (control socket), portal on the host's addresses. */
  async startTgtd(): Promise<void> {
    const d = join(this.host.dir, 'tgt');
    mkdirSync(d, { recursive: true });
    mkdirSync('/run/tgtd', { recursive: true });
    await this.host.run('mount', ['--bind', d, '/run/tgtd'], { okCodes: [0, 32] });
    await this.host.run('tgtd', ['-p', join(this.host.dir, 'tgtd.pid')]);
    await until(
      'tgtd answering',
      async () =>
        (await this.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'sys', '--op', 'show'], { okCodes: [0, 1, 22, 107] }))
          .code === 0,
      10_000,
    );
  }

  pidOf(daemon: 'tgtd' | 'libvirtd' | 'virtlogd'): number {
    const f = daemon === 'tgtd' ? join(this.host.dir, 'tgtd.pid') : join(this.host.dir, 'lv', `${daemon}.pid`);
    return Number(readFileSync(f, 'utf8').trim());
  }

  /** A veth from this namespace into the management one: the test's way to the controller. */
  private async linkToMgmt(): Promise<void> {
    const used = await this.root('ip', ['-4', '-o', 'addr', 'show']);
    let k = 0;
    while (k < 10 && used.stdout.includes(`203.0.113.${208 + 4 * k + 1}/30`)) k++;
    const mine = `203.0.113.${208 + 4 * k + 1}`;
    this.ctlIp = `203.0.113.${208 + 4 * k + 2}`;
    this.link = `${this.mh.prefix}-rv`;
    await this.root('ip', ['link', 'add', this.link, 'type', 'veth', 'peer', 'name', 'rv0', 'netns', this.mh.mgmtNs]);
    await this.root('ip', ['addr', 'add', `${mine}/30`, 'dev', this.link]);
    await this.root('ip', ['link', 'set', this.link, 'up']);
    await this.root('ip', ['-n', this.mh.mgmtNs, 'addr', 'add', `${this.ctlIp}/30`, 'dev', 'rv0']);
    await this.root('ip', ['-n', this.mh.mgmtNs, 'link', 'set', 'rv0', 'up']);
  }

  cli(args: string[], o?: RunOptions) {
    const toml = join(this.ctlDir, 'controller.toml');
    return this.root(
      'busybox',
      ['env', `HOMESTACK_CONFIG=${toml}`, process.execPath, join(ROOT, 'dist/controller/cli/main.js'), ...args, '--config', toml],
      { timeoutMs: 120_000, ...o },
    );
  }

  startController(): ChildProcess {
    const log = openSync(join(this.ctlDir, 'controller.log'), 'a');
    const p = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.mh.mgmtNs}`,
        '--',
        process.execPath,
        ...NODE_FLAGS.controller,
        join(ROOT, 'dist/controller/main.js'),
        '--config',
        join(this.ctlDir, 'controller.toml'),
      ],
      { stdio: ['ignore', log, log] },
    );
    this.procs.controller = p;
    return p;
  }

  startAgent(): ChildProcess {
    const log = openSync(join(this.host.dir, 'agent.log'), 'a');
    const p = spawn(
      'nsenter',
      [
        `--mount=${join(this.dir, 'ns', 'hA.mnt')}`,
        `--net=/run/netns/${this.host.netns}`,
        '--',
        process.execPath,
        ...NODE_FLAGS.agent,
        join(ROOT, 'dist/agents/main.js'),
        '--config',
        join(this.host.dir, 'agent.toml'),
      ],
      { stdio: ['ignore', log, log] },
    );
    this.procs.agent = p;
    return p;
  }

  /** kill -9 of the controller or the agent; resolves once the process is gone. */
  async kill9(which: 'controller' | 'agent'): Promise<void> {
    const p = this.procs[which];
    if (p) await kill9(p);
    this.procs[which] = null;
  }

  async waitController(ms = 30_000): Promise<number> {
    const t0 = Date.now();
    await until(
      'controller listening',
      async () => {
        try {
          return (await fetch(`${this.url}/identity/v3`, { dispatcher: this.http })).status === 200;
        } catch {
          return false;
        }
      },
      ms,
    );
    return Date.now() - t0;
  }

  hostState(): string {
    return this.q<{ state: string }>('SELECT state FROM hosts WHERE name = ?', this.hostName)[0]?.state ?? 'absent';
  }

  async waitHost(state: 'up' | 'down', ms: number): Promise<number> {
    const t0 = Date.now();
    await until(`host ${state}`, () => this.hostState() === state, ms);
    return Date.now() - t0;
  }

  async login(): Promise<void> {
    const r = await fetch(`${this.url}/identity/v3/auth/tokens`, {
      dispatcher: this.http,
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
    if (r.status !== 201) throw new Error(`login: ${r.status} ${await r.text()}`);
    this.token = r.headers.get('x-subject-token')!;
    this.projectId = ((await r.json()) as { token: { project: { id: string } } }).token.project.id;
  }

  async api(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Reply> {
    const raw = body instanceof Buffer;
    const r = await fetch(`${this.url}${path}`, {
      dispatcher: this.http,
      method,
      headers: {
        'x-auth-token': this.token,
        ...(body !== undefined ? { 'content-type': raw ? 'application/octet-stream' : 'application/json' } : {}),
        ...extra,
      },
      body: raw ? body : body !== undefined ? JSON.stringify(body) : undefined,
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

  /** GET of a server / a volume of the admin project (the API document's inner object). */
  async server(id: string): Promise<any> {
    return (await this.api('GET', `/compute/v2.1/servers/${id}`)).body.server;
  }
  async volume(id: string): Promise<any> {
    return (await this.api('GET', `/volume/v3/${this.projectId}/volumes/${id}`)).body.volume;
  }

  /** A read-only query of the controller's database (it may be down). */
  q<T>(sql: string, ...args: unknown[]): T[] {
    const d = new Database(this.ctlDb, { readonly: true, fileMustExist: true });
    try {
      return d.prepare(sql).all(...args) as T[];
    } finally {
      d.close();
    }
  }

  /** The guest image, a flavor, a network with a subnet and an open default group. */
  async basics(): Promise<{ imageId: string; flavorId: string; networkId: string }> {
    const quota = await this.api('PUT', `/compute/v2.1/os-quota-sets/${this.projectId}`, {
      quota_set: { instances: -1, cores: -1, ram: -1 },
    });
    if (quota.status !== 200) throw new Error(`quota: ${quota.status} ${JSON.stringify(quota.body)}`);
    const img = await this.api('POST', '/image/v2/images', {
      name: 'guest',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
    });
    if (img.status !== 201) throw new Error(`image create: ${img.status} ${JSON.stringify(img.body)}`);
    const copy = join(this.ctlDir, 'guest.qcow2');
    copyFileSync(GUEST_IMAGE, copy);
    const up = await this.api('PUT', `/image/v2/images/${img.body.id}/file`, readFileSync(copy));
    if (up.status !== 204) throw new Error(`image upload: ${up.status} ${JSON.stringify(up.body)}`);
    const fl = await this.api('POST', '/compute/v2.1/flavors', { flavor: { name: 'tiny', ram: 128, vcpus: 1, disk: 1 } });
    if (fl.status !== 200) throw new Error(`flavor: ${fl.status} ${JSON.stringify(fl.body)}`);
    const net = await this.api('POST', '/network/v2.0/networks', { network: { name: 'n1' } });
    const sub = await this.api('POST', '/network/v2.0/subnets', {
      subnet: { network_id: net.body.network.id, cidr: '10.77.0.0/24', ip_version: 4, name: 's1' },
    });
    if (sub.status !== 201) throw new Error(`subnet: ${sub.status} ${JSON.stringify(sub.body)}`);
    return { imageId: img.body.id, flavorId: fl.body.flavor.id, networkId: net.body.network.id };
  }

  /** What the host really holds: libvirt domains, instance directories, OVS ports, iSCSI targets, volume files. */
  async onHost(): Promise<{
    domains: string[];
    running: string[];
    instanceDirs: string[];
    taps: string[];
    targets: string[];
    volumeFiles: string[];
  }> {
    const virsh = (args: string[]) => this.host.run('virsh', ['-c', 'qemu:///system', ...args]);
    const names = (s: string) =>
      s
        .split('\n')
        .map((x) => x.trim())
        .filter(Boolean)
        .sort();
    const ls = async (d: string) => names((await this.host.run('busybox', ['ls', '-1', d], { okCodes: [0, 1, 2] })).stdout);
    const targets = (await this.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout;
    return {
      domains: names((await virsh(['list', '--all', '--name'])).stdout),
      running: names((await virsh(['list', '--name'])).stdout),
      instanceDirs: await ls(this.instancesDir),
      taps: names((await this.host.run('ovs-vsctl', ['list-ports', 'br-int'])).stdout).filter((p) => p.startsWith('tap')),
      targets: [...targets.matchAll(/^Target \d+: (\S+)/gm)].map((m) => m[1]!).sort(),
      volumeFiles: await ls(this.volumesDir),
    };
  }

  /** A single ping (busybox, 1 s) from netns `ns` on the host (a network's qdhcp-<id>). */
  async pingOnce(ns: string, ip: string): Promise<boolean> {
    return (
      (await this.host.run('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', ip], { okCodes: [0, 1] }))
        .code === 0
    );
  }

  /**
   * Waits until every guest answers a ping from `ns`. On a timeout the error carries a
   * post-mortem: which addresses answer, the end of each guest's console (its DHCP and
   * boot lines), the end of dnsmasq's log and the namespace's neighbour table.
   */
  async waitPingable(ns: string, servers: Array<{ id: string; ip: string }>, ms: number): Promise<void> {
    try {
      await until(
        'every guest answering pings',
        async () => (await Promise.all(servers.map((s) => this.pingOnce(ns, s.ip)))).every(Boolean),
        ms,
        1000,
      );
    } catch (e) {
      const tail = (text: string, n: number) => text.split('\n').filter(Boolean).slice(-n).join(' | ');
      const report: string[] = [];
      try {
        for (const s of servers) {
          const out = String(
            (await this.api('POST', `/compute/v2.1/servers/${s.id}/action`, { 'os-getConsoleOutput': { length: 15 } })).body
              ?.output ?? '',
          );
          report.push(`${s.ip} answers=${await this.pingOnce(ns, s.ip)} console: ${tail(out, 15)}`);
        }
        const network = ns.replace(/^qdhcp-/, '');
        const dnsmasqLog = join(this.host.dir, 'data', 'network', 'dhcp', network, 'dnsmasq.log');
        if (existsSync(dnsmasqLog)) report.push(`dnsmasq: ${tail(readFileSync(dnsmasqLog, 'utf8'), 12)}`);
        report.push(
          `neigh: ${tail((await this.host.run('ip', ['netns', 'exec', ns, 'ip', 'neigh'], { okCodes: [0, 1] })).stdout, 10)}`,
        );
      } catch (pm) {
        report.push(`post-mortem cut short: ${(pm as Error).message}`);
      }
      throw new Error(`${(e as Error).message}\n${report.join('\n')}`);
    }
  }

  /**
   * Continuous pings (busybox, every 0.2 s) from netns `ns` to each address; each
   * answered sequence number is recorded with its time. `stop()` kills the pingers.
   */
  pingForever(ns: string, ips: string[]): { replies: Array<Array<{ seq: number; at: number }>>; stop: () => void } {
    const replies = ips.map(() => [] as Array<{ seq: number; at: number }>);
    const procs = ips.map((ip, i) => {
      const p = spawn(
        'nsenter',
        [
          `--mount=${join(this.dir, 'ns', 'hA.mnt')}`,
          `--net=/run/netns/${this.host.netns}`,
          '--',
          'ip',
          'netns',
          'exec',
          ns,
          'busybox',
          'ping',
          '-i',
          '0.2',
          ip,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      p.stdout!.on('data', (d: Buffer) => {
        for (const m of d.toString().matchAll(/seq=(\d+)/g)) replies[i]!.push({ seq: Number(m[1]), at: Date.now() });
      });
      return p;
    });
    return {
      replies,
      stop: () => {
        for (const p of procs) p.kill('SIGKILL');
      },
    };
  }

  /** Every log line of both daemons (for secret scans and post-mortems). */
  logs(): string {
    return ['controller.log', 'agent.log']
      .map((f) => {
        const p = f === 'controller.log' ? join(this.ctlDir, f) : join(this.host.dir, f);
        return existsSync(p) ? readFileSync(p, 'utf8') : '';
      })
      .join('\n');
  }

  /** The host's daemon logs: libvirtd's and QEMU's (lv/log), OVS's, dnsmasq's, under the host's directory. */
  hostLogs(): string {
    const out: string[] = [];
    const walk = (d: string, depth: number) => {
      if (depth > 5 || !existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p, depth + 1);
        else if (e.isFile() && /\.log$/.test(e.name) && e.name !== 'agent.log') out.push(readFileSync(p, 'utf8'));
      }
    };
    walk(this.host.dir, 0);
    return out.join('\n');
  }

  async close(): Promise<string[]> {
    for (const w of ['agent', 'controller'] as const) await this.kill9(w).catch(() => {});
    try {
      process.kill(this.pidOf('tgtd'), 'SIGKILL');
    } catch {
      /* not running */
    }
    await sleep(200);
    const problems = await this.mh.teardown();
    if (this.link) await this.root('ip', ['link', 'del', this.link], { okCodes: [0, 1] }).catch(() => {});
    await this.http.close().catch(() => {});
    return problems;
  }
}

const lines = (l: string[]) => `${l.join('\n')}\n`;

/**
 * The lifecycle every real-cloud scenario shares: start the cloud before the tests
 * (then `setup`), and afterwards print the figures and tear everything down (kept with
 * KEEP_TEST_DIRS=1 for a post-mortem). Call inside `describe`; `ready` gets the cloud.
 */
export function realCloudLifecycle(
  o: RealCloudOptions,
  figures: Record<string, unknown>,
  ready: (c: RealCloud) => Promise<void> | void,
  cleanup?: () => void,
): void {
  let cloud: RealCloud | null = null;
  beforeAll(async () => {
    cloud = await RealCloud.start(o);
    await ready(cloud);
  }, 300_000);
  afterAll(async () => {
    cleanup?.();
    console.log(`[figures] ${JSON.stringify(figures)}`);
    if (cloud && process.env.KEEP_TEST_DIRS !== '1') {
      const problems = await cloud.close();
      if (problems.length) console.log(`teardown: ${problems.join('; ')}`);
    }
  }, 120_000);
}
