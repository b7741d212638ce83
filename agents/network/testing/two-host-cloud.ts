#!/usr/bin/env node
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRunner, type RunOptions } from '../../../shared/exec/run.js';
import { MultiHost, type SimHost } from './harness.js';

/**
 * A whole cloud on simulated hosts (for the two-host acceptance run): the controller in
 * the operator namespace t<run>-ctl (198.51.100.1:8000), one agent (compute + network)
 * inside each host, each host with its own OVS and libvirtd, every br-ex on the shared
 * external segment 172.24.4.0/24 (gateway 172.24.4.1 in t<run>-ctl).
 *
 *   npm run build
 *   npx tsx agents/network/testing/two-host-cloud.ts up [--hosts 2] [--ssh-enrol]
 *     --ssh-enrol: the last host runs a real sshd and is enrolled with `homestack host add`
 *     over SSH (release, config, credential, agent start) instead of being configured here
 *   → prints the openrc path; run acceptance scripts with: ip netns exec t<run>-ctl ...
 *   npx tsx agents/network/testing/two-host-cloud.ts down <run>
 *   npx tsx agents/network/testing/two-host-cloud.ts host-down <run> <host>   (kill -9: agent, libvirtd, guests)
 *   npx tsx agents/network/testing/two-host-cloud.ts host-up <run> <host>     (libvirtd and the agent again)
 *     <host> as `openstack compute service list` names it (t<run>-b); the acceptance
 *     script's ACC_HOST_DOWN_CMD / ACC_HOST_UP_CMD.
 *   npx tsx agents/network/testing/two-host-cloud.ts controller-kill <run> | controller-start <run>
 *   npx tsx agents/network/testing/two-host-cloud.ts agent-kill <run> <host> | agent-start <run> <host>
 *     kill -9 of the controller or of one host's agent alone (libvirtd and guests live on), and
 *     its start again (the fault suite's crashes mid-migration)
 *
 * Host A also runs the volume role (file back end, its own tgtd). Every host's libvirtd
 * listens on TLS (16514) with a certificate from the cloud's CA, installed by enrol-local
 * run inside the host.
 *
 * Daemons are started with busybox start-stop-daemon (pid files under /tmp/t<run>), so
 * the harness teardown stops them.
 */

// The repository, whether this runs from the source (tsx) or from dist/ (node).
const HERE = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const REPO = basename(HERE) === 'dist' ? dirname(HERE) : HERE;
const NODE = process.execPath;
const PORT = 8000;

const toml = (lines: string[]) => `${lines.join('\n')}\n`;

/** busybox start-stop-daemon: argv in the background, its output appended to `log`, its pid in `pid`. */
const daemonArgv = (log: string, pid: string, argv: string[]) => [
  'busybox',
  'start-stop-daemon',
  '-S',
  '-b',
  '-m',
  '-p',
  pid,
  '-x',
  '/bin/busybox',
  '--',
  'sh',
  '-c',
  `exec ${argv.join(' ')} >>${log} 2>&1`,
];

async function up(hosts: number, sshEnrol = false): Promise<number> {
  if (!existsSync(join(REPO, 'dist/controller/main.js')) || !existsSync(join(REPO, 'dist/agents/main.js'))) {
    process.stderr.write('dist/ is missing: npm run build first\n');
    return 1;
  }
  const root = makeRunner();
  const mh = new MultiHost(root);
  await mh.up({ mgmt: true });
  const ctlDir = join(mh.dir, 'ctl');
  mkdirSync(ctlDir, { recursive: true });
  const inCtl = (argv: string[], o?: RunOptions) => root('ip', ['netns', 'exec', mh.mgmtNs, ...argv], o);
  const ctlToml = join(ctlDir, 'controller.toml');
  const publicUrl = `http://198.51.100.1:${PORT}`;
  writeFileSync(
    ctlToml,
    toml([
      `data_dir = "${ctlDir}/data"`,
      `public_url = "${publicUrl}"`,
      '',
      '[listen]',
      'host = "198.51.100.1"',
      `port = ${PORT}`,
      '',
      '[agents]',
      'heartbeat_s = 5',
      'down_after_missed = 3',
    ]),
  );
  const cli = (args: string[]) =>
    root(
      'busybox',
      ['env', `HOMESTACK_CONFIG=${ctlToml}`, NODE, join(REPO, 'dist/controller/cli/main.js'), ...args, '--config', ctlToml],
      { timeoutMs: 120_000 },
    );

  // enrol-local runs inside the host (its mount and network namespaces), as on a real host:
  // it writes the host's libvirt TLS certificate to that host's /etc/pki and restarts its
  // libvirtd with --listen.
  const enrolInside = (h: SimHost, agentToml: string) =>
    h.run(
      NODE as 'busybox',
      [
        join(REPO, 'dist/controller/cli/main.js'),
        'host',
        'enrol-local',
        '--config',
        ctlToml,
        '--agent-config',
        agentToml,
        '--libvirtd-pid-file',
        join(h.dir, 'lv', 'libvirtd.pid'),
      ],
      { timeoutMs: 120_000 },
    );

  const simHosts: SimHost[] = [];
  let sshHost: { h: SimHost; i: number; name: string } | null = null;
  for (let i = 1; i <= hosts; i++) {
    const name = String.fromCharCode(64 + i);
    const h = await mh.addHost(name, i, { uplink: true, libvirt: true });
    if (sshEnrol && i === hosts) {
      sshHost = { h, i, name };
      await startSshd(h, `198.51.100.${10 + i}`);
      continue;
    }
    simHosts.push(h);
    // Host A also serves volumes (file back end, its own tgtd): QEMU on either host reaches
    // the portal on A's management address.
    const volume = i === 1;
    if (volume) await mh.startTgtd(h);
    const data = join(h.dir, 'data');
    const agentToml = join(h.dir, 'agent.toml');
    writeFileSync(
      agentToml,
      toml([
        `host = "${mh.prefix}-${name.toLowerCase()}"`,
        `roles = ["compute", "network"${volume ? ', "volume"' : ''}]`,
        `data_dir = "${data}"`,
        `controller_url = "${publicUrl}"`,
        `credential_file = "${join(h.dir, 'agent.key')}"`,
        'heartbeat_s = 5',
        '',
        '[listen]',
        `host = "198.51.100.${10 + i}"`,
        'port = 8001',
        '',
        '[compute]',
        'virt_type = "qemu"',
        `instances_dir = "${join(data, 'instances')}"`,
        '',
        '[network]',
        `tunnel_ip = "${h.tunnelIp}"`,
        'resync_s = 30',
        '',
        ...(volume ? ['[volume]', 'backend = "file"', 'target = "tgtadm"', ''] : []),
      ]),
    );
    const r = await enrolInside(h, agentToml);
    process.stdout.write(r.stdout);
  }
  const pw = 'acc-admin-password-0123';
  writeFileSync(join(ctlDir, 'admin.pw'), `${pw}\n`, { mode: 0o600 });
  await cli(['bootstrap', '--admin-password-file', join(ctlDir, 'admin.pw'), '--public-url', publicUrl]);

  // controller in the operator namespace, agents inside their hosts
  const daemon = daemonArgv;
  await inCtl(
    daemon(join(ctlDir, 'controller.log'), join(ctlDir, 'controller.pid'), [
      NODE,
      join(REPO, 'dist/controller/main.js'),
      '--config',
      ctlToml,
    ]),
  );
  for (const h of simHosts) {
    const [cmd, ...args] = daemon(join(h.dir, 'agent.log'), join(h.dir, 'agent.pid'), [
      NODE,
      join(REPO, 'dist/agents/main.js'),
      '--config',
      join(h.dir, 'agent.toml'),
    ]);
    await h.run(cmd as 'busybox', args);
  }
  if (sshHost) {
    const { h, i, name } = sshHost;
    const addr = `198.51.100.${10 + i}`;
    writeFileSync(
      join(ctlDir, 'known_hosts'),
      `${addr} ${readFileSync(join(h.dir, 'ssh', 'hostkey.pub'), 'utf8')
        .split(' ')
        .slice(0, 2)
        .join(' ')}\n`,
    );
    const t0 = Date.now();
    const r = await inCtl(
      [
        NODE,
        join(REPO, 'dist/controller/cli/main.js'),
        'host',
        'add',
        `root@${addr}`,
        '--config',
        ctlToml,
        '--identity-file',
        join(h.dir, 'ssh', 'id'),
        '--known-hosts',
        join(ctlDir, 'known_hosts'),
        '--roles',
        'compute,network',
        '--name',
        `${mh.prefix}-${name.toLowerCase()}`,
        '--tunnel-ip',
        h.tunnelIp,
        '--prefix',
        join(h.dir, 'root'),
      ],
      { timeoutMs: 300_000, okCodes: [0, 1] },
    );
    process.stdout.write(r.stdout + r.stderr);
    process.stdout.write(`host ${name} enrolled over SSH in ${Date.now() - t0} ms (exit ${r.code})\n`);
    if (r.code !== 0) return 1;
  }
  const openrc = join(ctlDir, 'openrc');
  writeFileSync(
    openrc,
    [
      `export OS_AUTH_URL=${publicUrl}/identity/v3`,
      'export OS_IDENTITY_API_VERSION=3',
      'export OS_USERNAME=admin',
      `export OS_PASSWORD=${pw}`,
      'export OS_PROJECT_NAME=admin',
      'export OS_USER_DOMAIN_NAME=Default',
      'export OS_PROJECT_DOMAIN_NAME=Default',
      'export OS_REGION_NAME=RegionOne',
      '',
    ].join('\n'),
  );
  // wait for both hosts, then the external network
  const os = (args: string[], o?: RunOptions) =>
    inCtl(['busybox', 'sh', '-c', `. ${openrc} && openstack ${args.join(' ')}`], { timeoutMs: 60_000, ...o });
  let upCount = 0;
  for (let i = 0; i < 60 && upCount < hosts; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    const r = await os(['compute', 'service', 'list', '-f', 'value', '-c', 'Host', '-c', 'State'], { okCodes: [0, 1] });
    upCount = r.stdout.split('\n').filter((l) => / up$/.test(l)).length;
  }
  process.stdout.write(`compute hosts up: ${upCount}/${hosts}\n`);
  await os(
    ['network', 'create', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public', 'public'],
    { okCodes: [0, 1] },
  );
  await os(
    [
      'subnet',
      'create',
      '--network',
      'public',
      '--subnet-range',
      '172.24.4.0/24',
      '--gateway',
      '172.24.4.1',
      '--no-dhcp',
      '--allocation-pool',
      'start=172.24.4.100,end=172.24.4.200',
      'public-subnet',
    ],
    { okCodes: [0, 1] },
  );
  process.stdout.write(
    `run ${mh.runId}: . ${openrc}; ip netns exec ${mh.mgmtNs} <acceptance script>\n` +
      `logs: ${ctlDir}/controller.log, ${mh.dir}/h*/agent.log; down: two-host-cloud.ts down ${mh.runId}\n`,
  );
  return upCount === hosts ? 0 : 1;
}

/** The simulated host behind a compute service name (t<run>-b → host B). */
function hostByName(mh: MultiHost, name: string): SimHost {
  const h = mh.hosts.find((x) => `${mh.prefix}-${x.name.toLowerCase()}` === name || x.name === name);
  if (!h)
    throw new Error(
      `no host ${name} in run ${mh.runId} (hosts: ${mh.hosts.map((x) => `${mh.prefix}-${x.name.toLowerCase()}`).join(', ')})`,
    );
  return h;
}

const pidOf = (f: string): number => {
  try {
    return Number(readFileSync(f, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
};

/**
 * A power loss of one host: kill -9 of its agent, its libvirtd and its guests' QEMU
 * processes (their pid files under the host's /run/libvirt/qemu). OVS, tgtd and the
 * namespaces stay (the "machine" keeps its disks and wiring).
 */
async function hostDown(mh: MultiHost, name: string): Promise<number> {
  const h = hostByName(mh, name);
  const qemuDir = join(h.dir, 'lv', 'run', 'qemu');
  const pids = [pidOf(join(h.dir, 'agent.pid')), pidOf(join(h.dir, 'lv', 'libvirtd.pid'))];
  for (const f of existsSync(qemuDir) ? readdirSync(qemuDir).filter((x) => x.endsWith('.pid')) : [])
    pids.push(pidOf(join(qemuDir, f)));
  let killed = 0;
  for (const pid of pids.filter((p) => p > 1)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      /* already gone */
    }
  }
  process.stdout.write(`host ${name}: killed ${killed} processes (agent, libvirtd, guests)\n`);
  return 0;
}

/**
 * The host's power comes back: libvirtd (with --listen) and the agent start again.
 * The host is entered through its ovsdb-server (it lives through the power loss), not its
 * mount-namespace file: run from `ip netns exec` (the acceptance script's
 * ACC_HOST_UP_CMD runs in the controller's namespace) that file is in a mount namespace
 * of its own, where setns refuses it (EINVAL).
 */
async function hostUp(mh: MultiHost, name: string, agentOnly = false): Promise<number> {
  const byName = hostByName(mh, name);
  const ovsdb = pidOf(join(byName.dir, 'run', 'ovsdb-server.pid'));
  if (!ovsdb) throw new Error(`host ${name}: no ovsdb-server pid file (is the run up?)`);
  const root = makeRunner();
  const h: SimHost = {
    ...byName,
    run: (cmd, args, o) => root('nsenter', ['-t', String(ovsdb), '-m', '-n', '--', cmd, ...args], o),
  };
  if (!agentOnly) await mh.startLibvirtd(h);
  const [cmd, ...args] = daemonArgv(join(h.dir, 'agent.log'), join(h.dir, 'agent.pid'), [
    NODE,
    join(REPO, 'dist/agents/main.js'),
    '--config',
    join(h.dir, 'agent.toml'),
  ]);
  await h.run(cmd as 'busybox', args);
  process.stdout.write(`host ${name}: ${agentOnly ? '' : 'libvirtd and '}the agent started\n`);
  return 0;
}

/** kill -9 of one process by its pid file (the controller, or one host's agent): a crash. */
function killByPidFile(what: string, file: string): number {
  const pid = pidOf(file);
  try {
    if (pid > 1) process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  process.stdout.write(`${what}: killed ${pid}\n`);
  return pid > 1 ? 0 : 1;
}

/** The controller started again in the operator namespace, as `up` starts it. */
async function controllerStart(mh: MultiHost): Promise<number> {
  const ctlDir = join(mh.dir, 'ctl');
  await makeRunner()('ip', [
    'netns',
    'exec',
    mh.mgmtNs,
    ...daemonArgv(join(ctlDir, 'controller.log'), join(ctlDir, 'controller.pid'), [
      NODE,
      join(REPO, 'dist/controller/main.js'),
      '--config',
      join(ctlDir, 'controller.toml'),
    ]),
  ]);
  process.stdout.write('controller started\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'controller-kill' && argv[1])
    return killByPidFile('controller', join(MultiHost.attach(argv[1]).dir, 'ctl', 'controller.pid'));
  if (argv[0] === 'controller-start' && argv[1]) return controllerStart(MultiHost.attach(argv[1]));
  if (argv[0] === 'agent-kill' && argv[1] && argv[2])
    return killByPidFile(`agent of ${argv[2]}`, join(hostByName(MultiHost.attach(argv[1]), argv[2]).dir, 'agent.pid'));
  if (argv[0] === 'agent-start' && argv[1] && argv[2]) return hostUp(MultiHost.attach(argv[1]), argv[2], true);
  if ((argv[0] === 'host-down' || argv[0] === 'host-up') && argv[1] && argv[2]) {
    const mh = MultiHost.attach(argv[1]);
    return argv[0] === 'host-down' ? hostDown(mh, argv[2]) : hostUp(mh, argv[2]);
  }
  if (argv[0] === 'up')
    return up(Number(argv.includes('--hosts') ? argv[argv.indexOf('--hosts') + 1] : 2) || 2, argv.includes('--ssh-enrol'));
  if (argv[0] === 'down' && argv[1]) {
    const mh = MultiHost.attach(argv[1]);
    for (const f of [
      join(mh.dir, 'ctl', 'controller.pid'),
      ...mh.hosts.flatMap((h) => [
        join(h.dir, 'agent.pid'),
        join(h.dir, 'root/run/homestack-agent.pid'),
        join(h.dir, 'ssh/sshd.pid'),
      ]),
    ]) {
      try {
        process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGTERM');
      } catch {
        /* not running */
      }
    }
    await new Promise((r) => setTimeout(r, 1500));
    const problems = await mh.teardown();
    for (const p of problems) process.stderr.write(`${p}\n`);
    return 0;
  }
  process.stderr.write(
    'usage: two-host-cloud.ts up [--hosts N] [--ssh-enrol] | down <run> | host-down <run> <host> | host-up <run> <host>\n' +
      '       | controller-kill <run> | controller-start <run> | agent-kill <run> <host> | agent-start <run> <host>\n',
  );
  return 2;
}

/** A real OpenSSH server inside the simulated host (its network and mount namespaces), root login by key only. */
async function startSshd(h: SimHost, addr: string): Promise<void> {
  const d = join(h.dir, 'ssh');
  mkdirSync(d, { recursive: true });
  const root = makeRunner();
  await root('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'hostkey')]);
  await root('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'id')]);
  writeFileSync(join(d, 'authorized_keys'), readFileSync(join(d, 'id.pub')), { mode: 0o600 });
  writeFileSync(
    join(d, 'sshd_config'),
    toml([
      'Port 22',
      `ListenAddress ${addr}`,
      `HostKey ${join(d, 'hostkey')}`,
      `PidFile ${join(d, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
    ]),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  // sshd re-executes itself, so it needs its absolute path.
  await h.run('/usr/sbin/sshd' as 'sshd', ['-f', join(d, 'sshd_config'), '-E', join(d, 'sshd.log')]);
}

main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
