import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../shared/exec/run.js';
import { Reverter } from '../../shared/util/reverter.js';
import type { HostRegistry } from '../agents/registry.js';
import { packagesFor } from './packages.js';
import { ensureRelease, installRoot } from './release.js';
import type { Remote } from './remote.js';
import type { CertificateAuthority } from '../pki/ca.js';
import { ensureControllerClientCert } from '../pki/controller-cert.js';
import { installHostCertificate } from '../pki/host-cert.js';
import { certAddresses, installLibvirtTls } from '../pki/install.js';
import { remoteHostOps } from './remote-host-ops.js';

export interface EnrolPlan {
  /** The address the controller reached the host at (the agent listens there). */
  address: string;
  name?: string;
  roles: string[];
  /** Where the agent is installed on the host: <prefix>/opt/homestack, <prefix>/etc/homestack... */
  prefix: string;
  controllerUrl: string;
  agentPort: number;
  /** The network role's VXLAN endpoint (default: `address`). */
  tunnelIp?: string;
  /** Seconds to wait for the first heartbeat. */
  waitUpS: number;
  /**
   * The controller's `agents.heartbeat_s`, written into the agent's config: an agent
   * beating slower than the controller expects would flap between up and down.
   */
  heartbeatS: number;
}

export interface EnrolDeps {
  remote: Remote;
  /** The cloud's CA: every host gets its certificate from it, a compute host libvirt's TLS certificate too (live migration). */
  ca?: CertificateAuthority;
  registry: HostRegistry;
  run: Runner;
  releaseDir: string;
  progress: (line: string) => void;
}

export class EnrolError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
    readonly undoErrors: string[],
  ) {
    super(
      `step "${step}" failed: ${(cause as Error)?.message ?? String(cause)}${undoErrors.length ? `; undo left: ${undoErrors.join('; ')}` : ''}`,
    );
  }
}

const p = (prefix: string, path: string) => join(prefix, path);
const STEPS = ['os', 'packages', 'release', 'config', 'register', 'start', 'heartbeat'] as const;

/**
 * Enrols one host over an established SSH session. Each step registers its inverse;
 * when a step fails everything this run did is undone (files it created, the agent it
 * started, the registry entry it made) and the error names the step. Re-running on a
 * host that is enrolled and up changes nothing.
 */
export async function enrolHost(plan: EnrolPlan, d: EnrolDeps): Promise<{ name: string; changed: boolean; ms: number }> {
  const t0 = Date.now();
  const r = new Reverter();
  const say = (i: number, msg: string) => d.progress(`[${i + 1}/${STEPS.length}] ${msg}`);
  const exec = d.remote.exec.bind(d.remote);
  const exists = async (path: string) => (await exec(['test', '-e', path], { allowFail: true })).code === 0;
  const etc = p(plan.prefix, 'etc/homestack');
  const toml = join(etc, 'agent.toml');
  const keyFile = join(etc, 'agent.key');
  const opt = p(plan.prefix, 'opt/homestack');
  const dataDir = p(plan.prefix, 'var/lib/homestack-agent');
  const pidFile = p(plan.prefix, 'run/homestack-agent.pid');
  const logFile = p(plan.prefix, 'var/log/homestack/agent.log');
  let step: string = STEPS[0];
  try {
    // 1. The OS.
    say(0, 'checking the operating system');
    const os = (await exec(['cat', '/etc/os-release'])).stdout;
    const id = /^ID=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '');
    const ver = /^VERSION_ID=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '');
    if (id !== 'debian' || ver !== '12')
      throw new Error(`Homestack agents run on Debian 12; this host is ${id ?? '?'} ${ver ?? '?'}`);
    const arch = (await exec(['uname', '-m'])).stdout.trim();
    if (arch !== 'x86_64') throw new Error(`the agent release is built for x86_64; this host is ${arch}`);
    const name = plan.name ?? (await exec(['hostname', '-s'])).stdout.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(name))
      throw new Error(`host name "${name}" is not a valid host name (use --name)`);

    // Already enrolled and up with the credential on the host? Then nothing to do.
    const known = d.registry.list().find((h) => h.name === name);
    if (known && known.state === 'up' && (await exists(toml)) && (await exists(keyFile))) {
      const secret = (await exec(['cat', keyFile])).stdout.trim();
      try {
        if (d.registry.authenticate(secret).name === name) {
          d.progress(`host ${name} is already enrolled and up: nothing to do`);
          return { name, changed: false, ms: Date.now() - t0 };
        }
      } catch {
        // a different credential: enrol again below
      }
    }
    // The agent registers with https:// once it serves its host certificate: the same place.
    if (known && known.agent_url.replace(/^https?:/, '') !== `//${plan.address}:${plan.agentPort}` && known.state === 'up') {
      throw new Error(`a host named ${name} is already enrolled at ${known.agent_url}; remove it first or pass --name`);
    }

    // 2. Debian packages of the roles.
    step = STEPS[1];
    const root = installRoot();
    const pkgs = packagesFor(root, plan.roles);
    const missing: string[] = [];
    for (const pkg of pkgs) {
      const q = await exec(['dpkg-query', '-W', '-f=${Status}', pkg], { allowFail: true });
      if (!q.stdout.includes('install ok installed')) missing.push(pkg);
    }
    say(1, missing.length ? `installing ${missing.join(' ')}` : `all ${pkgs.length} Debian packages present`);
    if (missing.length) {
      await exec(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-o', 'DPkg::Lock::Timeout=300', 'update'], {
        timeoutMs: 600_000,
      });
      await exec(
        [
          'env',
          'DEBIAN_FRONTEND=noninteractive',
          'apt-get',
          '-y',
          '-q',
          '-o',
          'DPkg::Lock::Timeout=300',
          'install',
          '--no-install-recommends',
          ...missing,
        ],
        { timeoutMs: 1_200_000 },
      );
      // Packages stay installed on undo: removing them could take away what others use.
    }

    // 3. The release, verified by checksum before it is unpacked.
    step = STEPS[2];
    const rel = await ensureRelease(d.run, d.releaseDir, root);
    const dir = join(opt, `release-${rel.sha256.slice(0, 12)}`);
    if (await exists(join(dir, 'dist/agents/main.js'))) {
      say(2, `release ${rel.version} already on the host`);
    } else {
      say(
        2,
        `copying the agent release ${rel.version} (${(rel.size / 1048576).toFixed(1)} MiB, sha256 ${rel.sha256.slice(0, 12)}…)`,
      );
      const hadOpt = await exists(opt);
      await exec(['mkdir', '-p', opt]);
      if (!hadOpt) r.add(`remove ${opt}`, () => exec(['rm', '-rf', opt]));
      const tgz = join(opt, 'incoming.tar.gz');
      await exec(['sh', '-c', 'cat > "$1"', 'sh', tgz], { stdin: createReadStream(rel.file), timeoutMs: 600_000 });
      const sum = (await exec(['sha256sum', tgz])).stdout.split(/\s+/)[0];
      if (sum !== rel.sha256) {
        await exec(['rm', '-f', tgz]);
        throw new Error(`checksum mismatch after the copy: ${sum} on the host, ${rel.sha256} expected`);
      }
      await exec(['mkdir', '-p', dir]);
      r.add(`remove ${dir}`, () => exec(['rm', '-rf', dir]));
      await exec(['tar', '-xzf', tgz, '-C', dir], { timeoutMs: 300_000 });
      await exec(['rm', '-f', tgz]);
    }

    // 4. Configuration and a fresh credential (through stdin, never in argv).
    step = STEPS[3];
    say(3, `writing ${toml} and a new credential`);
    const hadEtc = await exists(etc);
    await exec(['mkdir', '-p', etc, dataDir, p(plan.prefix, 'var/log/homestack'), p(plan.prefix, 'run')]);
    if (!hadEtc) r.add(`remove ${etc}`, () => exec(['rm', '-rf', etc]));
    r.add(`remove ${dataDir}`, () => exec(['rm', '-rf', dataDir]));
    const secret = randomBytes(32).toString('hex');
    await exec(['sh', '-c', 'umask 077 && cat > "$1.new" && mv "$1.new" "$1"', 'sh', keyFile], { stdin: `${secret}\n` });
    r.add(`remove ${keyFile}`, () => exec(['rm', '-f', keyFile]));
    const lines = [
      '# Homestack agent (written by `homestack host add`).',
      `host = ${JSON.stringify(name)}`,
      `roles = [${plan.roles.map((x) => JSON.stringify(x)).join(', ')}]`,
      `data_dir = ${JSON.stringify(dataDir)}`,
      `controller_url = ${JSON.stringify(plan.controllerUrl)}`,
      `credential_file = ${JSON.stringify(keyFile)}`,
      `heartbeat_s = ${plan.heartbeatS}`,
      '',
      '[listen]',
      `host = ${JSON.stringify(plan.address)}`,
      `port = ${plan.agentPort}`,
      ...(plan.roles.includes('network')
        ? ['', '[network]', `tunnel_ip = ${JSON.stringify(plan.tunnelIp ?? plan.address)}`]
        : []),
      '',
    ];
    await exec(['sh', '-c', 'cat > "$1.new" && mv "$1.new" "$1"', 'sh', toml], { stdin: lines.join('\n') });
    r.add(`remove ${toml}`, () => exec(['rm', '-f', toml]));

    // 4b. The host's certificate for the agent channel, beside the credential (same prefix rule).
    if (d.ca) {
      const cert = await installHostCertificate(
        d.ca,
        { name, addresses: certAddresses(plan.address, plan.tunnelIp) },
        remoteHostOps(d.remote),
        etc,
      );
      d.progress(`      host certificate: ${cert.issued ? 'issued' : 'kept'} in ${join(etc, 'tls')}`);
      // The controller's side of the agent channel's mutual TLS.
      if (await ensureControllerClientCert(d.ca)) d.progress('      controller client certificate for the agent channel: issued');
    }

    // 4c. libvirt's TLS (live migration): one certificate per host from the cloud's CA.
    if (plan.roles.includes('compute') && d.ca) {
      const tls = await installLibvirtTls(
        d.ca,
        { name, addresses: certAddresses(plan.address, plan.tunnelIp) },
        remoteHostOps(d.remote),
        plan.prefix,
      );
      d.progress(
        `      libvirt TLS: ${tls.issued ? 'certificate issued' : 'certificate kept'}${tls.restarted ? `; ${tls.restarted}` : ''}${plan.prefix === '/' ? (tls.listening ? '; listening on 16514' : '; NOT listening on 16514') : ''}`,
      );
    }

    // 5. The registry.
    step = STEPS[4];
    say(4, `enrolling ${name} (agent at http://${plan.address}:${plan.agentPort})`);
    const host = d.registry.enrol({ name, agentUrl: `http://${plan.address}:${plan.agentPort}`, secret });
    if (!known) r.add(`remove host ${name} from the registry`, () => d.registry.remove(host.id));

    // 6. Start the agent: the unit under systemd, or directly where systemd is not PID 1.
    step = STEPS[5];
    await exec(['ln', '-sfn', dir, join(opt, 'current')]);
    const node = join(opt, 'current/bin/node');
    const main = join(opt, 'current/dist/agents/main.js');
    const pid1 = (await exec(['cat', '/proc/1/comm'])).stdout.trim();
    if (pid1 === 'systemd' && plan.prefix === '/') {
      say(5, 'installing and starting homestack-agent.service');
      const unit = [
        '[Unit]',
        'Description=Homestack agent',
        'After=network-online.target libvirtd.service openvswitch-switch.service',
        'Wants=network-online.target',
        '',
        '[Service]',
        `ExecStart=${node} --max-semi-space-size=1 ${main} --config ${toml}`,
        'Restart=on-failure',
        'RestartSec=2',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n');
      await exec(['sh', '-c', 'cat > /etc/systemd/system/homestack-agent.service'], { stdin: unit });
      await exec(['systemctl', 'daemon-reload']);
      await exec(['systemctl', 'enable', '--now', 'homestack-agent.service'], { timeoutMs: 60_000 });
      r.add('stop homestack-agent.service', () =>
        exec(['systemctl', 'disable', '--now', 'homestack-agent.service'], { allowFail: true }),
      );
    } else {
      say(5, `starting the agent directly (PID 1 is ${pid1}, not systemd)`);
      await stopDirect(d.remote, pidFile);
      await exec([
        'sh',
        '-c',
        'log=$1 pid=$2; shift 2; setsid "$@" >>"$log" 2>&1 </dev/null & echo $! > "$pid"',
        'sh',
        logFile,
        pidFile,
        node,
        '--max-semi-space-size=1',
        main,
        '--config',
        toml,
      ]);
      r.add('stop the agent', () => stopDirect(d.remote, pidFile));
    }

    // 7. The first heartbeat.
    step = STEPS[6];
    say(6, `waiting for ${name} to report in`);
    const until = Date.now() + plan.waitUpS * 1000;
    for (;;) {
      const h = d.registry.list().find((x) => x.id === host.id);
      if (h?.state === 'up') break;
      if (Date.now() > until) {
        const tail = (await exec(['tail', '-n', '5', logFile], { allowFail: true })).stdout.trim();
        throw new Error(`no heartbeat from ${name} after ${plan.waitUpS} s${tail ? `; agent log: ${tail}` : ''}`);
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    r.success();
    d.progress(`host ${name} is up (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return { name, changed: true, ms: Date.now() - t0 };
  } catch (err) {
    const left = await r.revert();
    throw new EnrolError(
      step,
      err,
      left.map((x) => `${x.what}: ${(x.error as Error)?.message ?? x.error}`),
    );
  }
}

async function stopDirect(remote: Remote, pidFile: string): Promise<void> {
  await remote.exec(
    [
      'sh',
      '-c',
      '[ -f "$1" ] || exit 0; p=$(cat "$1"); kill "$p" 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done; kill -9 "$p" 2>/dev/null; rm -f "$1"',
      'sh',
      pidFile,
    ],
    { allowFail: true },
  );
}
