import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Runner } from '../../../shared/exec/run.js';
import { livePid, pidsByComm, stopPid } from '../../../shared/exec/daemon.js';

/** How a system daemon was started by the all-in-one (so `aio down` stops exactly that). */
export interface StartedDaemon {
  name: string;
  how: 'systemd' | 'direct';
  /** systemd unit, or the pid file of a direct start. */
  unit?: string;
  pidFile?: string;
}

export const systemdIsPid1 = (): boolean => {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
};

const OVS_DB = '/etc/openvswitch/conf.db';
const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const OVS_RUN = '/run/openvswitch';

interface DaemonDef {
  name: string;
  /** Process name in /proc/<pid>/comm. */
  comm: string;
  unit: string;
  pidFile: string;
  start(run: Runner): Promise<void>;
  /** Resolves when it answers. */
  ready?(run: Runner): Promise<void>;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready within ${ms / 1000} s`);
}

/** The daemons the agents need, in start order (a literal list: house style 3.7 rule 5). */
export const SYSTEM_DAEMONS: DaemonDef[] = [
  {
    name: 'virtlogd',
    comm: 'virtlogd',
    unit: 'virtlogd.service',
    pidFile: '/run/virtlogd.pid',
    start: async (run) => {
      await run('virtlogd', ['-d']);
    },
  },
  {
    name: 'libvirtd',
    comm: 'libvirtd',
    unit: 'libvirtd.service',
    pidFile: '/run/libvirtd.pid',
    start: async (run) => {
      // --listen once enrolment installed libvirt's TLS certificate (live migration, controller/pki):
      // without the certificate libvirtd refuses to start with --listen.
      await run('libvirtd', existsSync('/etc/pki/libvirt/servercert.pem') ? ['-d', '-l'] : ['-d']);
    },
    ready: () => waitFor('libvirtd', () => existsSync('/run/libvirt/libvirt-sock')),
  },
  {
    name: 'ovsdb-server',
    comm: 'ovsdb-server',
    unit: 'ovsdb-server.service',
    pidFile: `${OVS_RUN}/ovsdb-server.pid`,
    start: async (run) => {
      mkdirSync(OVS_RUN, { recursive: true });
      mkdirSync('/var/log/openvswitch', { recursive: true });
      if (!existsSync(OVS_DB)) {
        mkdirSync('/etc/openvswitch', { recursive: true });
        await run('ovsdb-tool', ['create', OVS_DB, OVS_SCHEMA]);
      }
      await run('ovsdb-server', [
        OVS_DB,
        `--remote=punix:${OVS_RUN}/db.sock`,
        '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
        `--pidfile=${OVS_RUN}/ovsdb-server.pid`,
        '--detach',
        '--log-file=/var/log/openvswitch/ovsdb-server.log',
      ]);
    },
    ready: async (run) => {
      await waitFor('ovsdb-server', () => existsSync(`${OVS_RUN}/db.sock`));
      await run('ovs-vsctl', ['--timeout=10', '--no-wait', 'init']);
    },
  },
  {
    name: 'ovs-vswitchd',
    comm: 'ovs-vswitchd',
    unit: 'ovs-vswitchd.service',
    pidFile: `${OVS_RUN}/ovs-vswitchd.pid`,
    start: async (run) => {
      await run('ovs-vswitchd', [
        `unix:${OVS_RUN}/db.sock`,
        `--pidfile=${OVS_RUN}/ovs-vswitchd.pid`,
        '--detach',
        '--log-file=/var/log/openvswitch/ovs-vswitchd.log',
      ]);
    },
    ready: (run) => waitFor('ovs-vswitchd', async () => (await run('ovs-vsctl', ['--timeout=5', 'show'])).code === 0),
  },
  {
    name: 'tgtd',
    comm: 'tgtd',
    unit: 'tgt.service',
    pidFile: '/run/tgtd.pid',
    start: async (run) => {
      await run('tgtd', ['--pid-file', '/run/tgtd.pid']);
    },
    ready: (run) =>
      waitFor('tgtd', async () => (await run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).code === 0),
  },
];

export interface DaemonReport {
  name: string;
  state: 'running' | 'started' | 'failed';
  how?: string;
  error?: string;
}

/**
 * Starts the daemons that are not running: with systemctl when systemd is PID 1,
 * otherwise directly with pid files. Returns what it did; `started` lists only what
 * this call started (recorded by the caller for `aio down`). A daemon that fails to
 * start is reported, the others still start.
 */
export async function startSystemDaemons(
  run: Runner,
  log: (s: string) => void,
): Promise<{ report: DaemonReport[]; started: StartedDaemon[] }> {
  const report: DaemonReport[] = [];
  const started: StartedDaemon[] = [];
  const viaSystemd = systemdIsPid1();
  for (const d of SYSTEM_DAEMONS) {
    if (pidsByComm(d.comm).length) {
      report.push({ name: d.name, state: 'running' });
      continue;
    }
    try {
      if (viaSystemd) {
        await run('systemctl', ['start', d.unit], { timeoutMs: 60_000 });
        started.push({ name: d.name, how: 'systemd', unit: d.unit });
      } else {
        await d.start(run);
        started.push({ name: d.name, how: 'direct', pidFile: d.pidFile });
      }
      await d.ready?.(run);
      report.push({ name: d.name, state: 'started', how: viaSystemd ? 'systemd' : 'direct' });
      log(`started ${d.name} (${viaSystemd ? 'systemd' : 'direct'})`);
    } catch (e) {
      report.push({ name: d.name, state: 'failed', error: (e as Error).message });
      log(`could not start ${d.name}: ${(e as Error).message}`);
    }
  }
  return { report, started };
}

/** Stops exactly the daemons in `started`, newest first. */
export async function stopSystemDaemons(run: Runner, started: StartedDaemon[], log: (s: string) => void): Promise<void> {
  for (const d of [...started].reverse()) {
    try {
      if (d.how === 'systemd' && d.unit) {
        await run('systemctl', ['stop', d.unit], { timeoutMs: 60_000 });
      } else if (d.pidFile) {
        const pid = livePid(d.pidFile);
        if (pid) await stopPid(pid, 15_000);
      }
      log(`stopped ${d.name}`);
    } catch (e) {
      log(`could not stop ${d.name}: ${(e as Error).message}`);
    }
  }
}
