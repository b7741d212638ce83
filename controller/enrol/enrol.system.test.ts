import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { agentLayerOf } from '../agents/index.js';
import { buildApp } from '../app.js';
import { migrate } from '../db/migrate.js';
import { openDb, type Db } from '../db/open.js';
import { controllerJobs } from '../jobs/index.js';
import { startJobs } from '../jobs/cron.js';

/**
 * `homestack host add` end to end against a real OpenSSH server running in a network
 * namespace (a host at 203.0.113.202 behind a veth; the controller on 203.0.113.201):
 * refuses unknown and wrong host keys leaving nothing behind, enrols with the key from
 * known_hosts (release copied and checksummed, config, a 0600 credential and the host's
 * certificate from the cloud's CA under a --prefix so this machine's own install is
 * untouched, agent started without systemd, first heartbeat), is a no-op the second time, and undoes everything when a late step
 * fails. The CLI is the built one (dist/), run as a process.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist/controller/cli/main.js');
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : process.getuid?.() !== 0
      ? 'not root'
      : !existsSync('/usr/sbin/sshd')
        ? 'no /usr/sbin/sshd (apt-get install openssh-server)'
        : !existsSync(join(ROOT, 'dist/agents/main.js'))
          ? 'no build (npm run build)'
          : '';
if (why) console.log(`enrolment system test: skipped: ${why}`);

const run = `t${randomBytes(3).toString('hex')}`;
const NS = `${run}-ssh`;
const VH = `${run}h`;
const VN = `${run}n`;
const CTL_IP = '203.0.113.201';
const HOST_IP = '203.0.113.202';
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

describe.skipIf(Boolean(why))('host add over SSH (real sshd in a namespace)', () => {
  let dir = '';
  let app: FastifyInstance;
  let db: Db;
  let jobs: { stop(): Promise<void> };
  let ctlToml = '';
  let hostPub = '';
  const prefix = () => join(dir, 'host-root');

  // Asynchronous: the controller answering the agent runs in this process.
  const cli = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((res) => {
      const p = spawn(process.execPath, [CLI, ...args, '--config', ctlToml], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      const t = setTimeout(() => p.kill('SIGKILL'), 300_000);
      p.on('close', (code) => {
        clearTimeout(t);
        res({ code: code ?? -1, out });
      });
    });
  const hostsNamed = (name: string) =>
    db.prepare('SELECT name, state FROM hosts WHERE name = ?').all(name) as Array<{ name: string; state: string }>;
  const add = (...extra: string[]) =>
    cli(
      'host',
      'add',
      `root@${HOST_IP}`,
      '--port',
      '2222',
      '--identity-file',
      join(dir, 'id'),
      '--roles',
      '',
      '--wait',
      '40',
      ...extra,
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${run}-enrol-`));
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['link', 'add', VH, 'type', 'veth', 'peer', 'name', VN]);
    sh('ip', ['link', 'set', VN, 'netns', NS]);
    sh('ip', ['addr', 'add', `${CTL_IP}/30`, 'dev', VH]);
    sh('ip', ['link', 'set', VH, 'up']);
    sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', VN]);
    sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', VN, 'up']);
    sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')), { mode: 0o600 });
    hostPub = readFileSync(join(dir, 'hostkey.pub'), 'utf8').trim();
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        'Port 2222',
        `ListenAddress ${HOST_IP}`,
        `HostKey ${join(dir, 'hostkey')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        '',
      ].join('\n'),
    );
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sh('ip', ['netns', 'exec', NS, '/usr/sbin/sshd', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')]);

    const port = 20000 + (parseInt(run.slice(1), 16) % 20000);
    const cfg = {
      data_dir: join(dir, 'ctl'),
      public_url: `http://${CTL_IP}:${port}`,
      listen: { host: CTL_IP, port },
      identity: { scrypt_log_n: 10 },
      agents: { heartbeat_s: 2, down_after_missed: 3 },
    };
    ctlToml = join(dir, 'controller.toml');
    writeFileSync(
      ctlToml,
      [
        `data_dir = "${cfg.data_dir}"`,
        `public_url = "${cfg.public_url}"`,
        '',
        '[listen]',
        `host = "${CTL_IP}"`,
        `port = ${port}`,
        '',
        '[agents]',
        'heartbeat_s = 2',
        'down_after_missed = 3',
        '',
      ].join('\n'),
    );
    const config = Value.Default(ControllerConfigSchema, cfg) as ControllerConfig;
    mkdirSync(config.data_dir, { recursive: true });
    db = openDb(join(config.data_dir, 'homestack.db'));
    migrate(db);
    app = await buildApp({ config, db, logger: false });
    await app.listen({ host: CTL_IP, port });
    jobs = startJobs(controllerJobs({ agents: agentLayerOf(app.homestack.deps), db, log: app.log }), app.log);
  }, 120_000);

  afterAll(async () => {
    const pidFile = join(dir, 'host-root/run/homestack-agent.pid');
    if (dir && existsSync(pidFile)) spawnSync('kill', ['-9', readFileSync(pidFile, 'utf8').trim()]);
    if (dir && existsSync(join(dir, 'sshd.pid'))) spawnSync('kill', [readFileSync(join(dir, 'sshd.pid'), 'utf8').trim()]);
    await jobs?.stop();
    await app?.close();
    if (app) await agentLayerOf(app.homestack.deps).agents.close();
    db?.close();
    spawnSync('ip', ['link', 'del', VH]);
    spawnSync('ip', ['netns', 'del', NS]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses a host key it cannot verify, and a wrong --trust-host-key, leaving nothing behind', async () => {
    writeFileSync(join(dir, 'known_hosts'), '');
    const unknown = await add('--known-hosts', join(dir, 'known_hosts'), '--prefix', prefix());
    expect(unknown.code, unknown.out).toBe(1);
    expect(unknown.out).toMatch(/not in .*known_hosts.*--trust-host-key SHA256:/s);
    const wrong = await add('--trust-host-key', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '--prefix', prefix());
    expect(wrong.code, wrong.out).toBe(1);
    expect(existsSync(prefix())).toBe(false);
    expect(db.prepare('SELECT count(*) AS n FROM hosts').get()).toEqual({ n: 0 });
  });

  it('enrols the host with the key from known_hosts; a second run changes nothing', async () => {
    writeFileSync(join(dir, 'known_hosts'), `[${HOST_IP}]:2222 ${hostPub.split(' ').slice(0, 2).join(' ')}\n`);
    const t0 = Date.now();
    const r = await add('--known-hosts', join(dir, 'known_hosts'), '--prefix', prefix(), '--name', `${run}-h2`);
    const ms = Date.now() - t0;
    expect(r.code, r.out).toBe(0);
    console.log(`[figures] homestack host add (release cached: ${/already on the host/.test(r.out)}) ${ms} ms\n${r.out}`);
    expect(r.out).toMatch(/\[1\/7\] checking the operating system/);
    expect(r.out).toMatch(/host .*-h2 is up/);
    expect(hostsNamed(`${run}-h2`)).toEqual([{ name: `${run}-h2`, state: 'up' }]);
    const key = join(prefix(), 'etc/homestack/agent.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const agentToml = readFileSync(join(prefix(), 'etc/homestack/agent.toml'), 'utf8');
    expect(agentToml).toContain(`host = "${HOST_IP}"`);
    // It beats as often as this controller expects (2 s here), so it never flaps to down.
    expect(agentToml).toContain('heartbeat_s = 2');
    // Its certificate from the cloud's CA beside the credential (issue 17): CN = the enrolled name.
    const tlsDir = join(prefix(), 'etc/homestack/tls');
    expect(statSync(join(tlsDir, 'host.key')).mode & 0o777).toBe(0o600);
    const hostCert = new X509Certificate(readFileSync(join(tlsDir, 'host.pem')));
    expect(hostCert.subject).toContain(`CN=${run}-h2`);
    expect(hostCert.checkIssued(new X509Certificate(readFileSync(join(tlsDir, 'ca.pem'))))).toBe(true);
    expect(hostCert.subjectAltName).toContain(`IP Address:${HOST_IP}`);
    expect(existsSync(join(prefix(), 'opt/homestack/current/bin/node'))).toBe(true);
    // The agent runs inside the host's namespace, started over SSH.
    const pid = readFileSync(join(prefix(), 'run/homestack-agent.pid'), 'utf8').trim();
    expect(sh('ip', ['netns', 'identify', pid]).trim()).toBe(NS);

    const again = await add('--known-hosts', join(dir, 'known_hosts'), '--prefix', prefix(), '--name', `${run}-h2`);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/already enrolled and up: nothing to do/);
    expect(readFileSync(join(prefix(), 'run/homestack-agent.pid'), 'utf8').trim()).toBe(pid);
  }, 300_000);

  it('undoes every step when a late one fails (no heartbeat: a wrong controller URL)', async () => {
    const other = join(dir, 'other-root');
    const r = await add(
      '--known-hosts',
      join(dir, 'known_hosts'),
      '--prefix',
      other,
      '--name',
      `${run}-bad`,
      '--controller-url',
      `http://${CTL_IP}:9`,
      '--wait',
      '6',
      '--agent-port',
      '8002',
    );
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/step "heartbeat" failed: no heartbeat/);
    expect(hostsNamed(`${run}-bad`)).toEqual([]);
    expect(existsSync(join(other, 'etc/homestack'))).toBe(false);
    expect(existsSync(join(other, 'opt/homestack'))).toBe(false);
    expect(existsSync(join(other, 'run/homestack-agent.pid'))).toBe(false);
    // The first host is untouched.
    expect(hostsNamed(`${run}-h2`)).toEqual([{ name: `${run}-h2`, state: 'up' }]);
  }, 300_000);
});
