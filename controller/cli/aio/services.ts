import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../../shared/exec/run.js';
import { livePid, spawnDaemon, stopPid } from '../../../shared/exec/daemon.js';
import { AIO } from './files.js';
import { systemdIsPid1 } from './daemons.js';

export type ServiceName = 'controller' | 'agent';

export interface StartedService {
  name: ServiceName;
  how: 'systemd' | 'direct';
  unit?: string;
  pidFile?: string;
}

const UNIT: Record<ServiceName, string> = { controller: 'homestack-controller.service', agent: 'homestack-agent.service' };
/** V8 young-generation cap: idle RSS matters more than throughput for these daemons. */
export const NODE_FLAGS: Record<ServiceName, string[]> = {
  controller: ['--max-semi-space-size=2'],
  agent: ['--max-semi-space-size=1'],
};
const ENTRY: Record<ServiceName, string> = { controller: 'dist/controller/main.js', agent: 'dist/agents/main.js' };
const CONFIG: Record<ServiceName, string> = { controller: AIO.controllerToml, agent: AIO.agentToml };

export const pidFileOf = (s: ServiceName) => join(AIO.runDir, `${s}.pid`);
export const logFileOf = (s: ServiceName) => join(AIO.logDir, `${s}.log`);

/** The unit file from systemd/, with the checkout's path in place of /opt/homestack and this node. */
export function unitText(root: string, s: ServiceName, unitDir = join(root, 'systemd')): string {
  return readFileSync(join(unitDir, UNIT[s]), 'utf8')
    .replaceAll('/opt/homestack', root)
    .replaceAll('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
}

/** Is the service running (by whatever means)? */
export async function serviceRunning(run: Runner, s: ServiceName): Promise<boolean> {
  if (livePid(pidFileOf(s))) return true;
  if (systemdIsPid1()) {
    const r = await run('systemctl', ['is-active', '--quiet', UNIT[s]], { okCodes: [0, 1, 2, 3, 4] });
    return r.code === 0;
  }
  return false;
}

/**
 * Starts the controller or the agent unless running: a systemd service when systemd is
 * PID 1 (unit installed from systemd/ with this checkout's path), else a background
 * process logging to /var/log/homestack/<name>.log with /run/homestack/<name>.pid.
 * Returns what it started, or null when it was already running.
 */
export async function startService(run: Runner, root: string, s: ServiceName): Promise<StartedService | null> {
  if (await serviceRunning(run, s)) return null;
  if (systemdIsPid1()) {
    const path = `/etc/systemd/system/${UNIT[s]}`;
    const text = unitText(root, s);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
      writeFileSync(path, text);
      await run('systemctl', ['daemon-reload']);
    }
    await run('systemctl', ['enable', '--now', UNIT[s]], { timeoutMs: 60_000 });
    return { name: s, how: 'systemd', unit: UNIT[s] };
  }
  mkdirSync(AIO.runDir, { recursive: true });
  spawnDaemon({
    exe: process.execPath,
    args: [...NODE_FLAGS[s], join(root, ENTRY[s]), '--config', CONFIG[s]],
    logFile: logFileOf(s),
    pidFile: pidFileOf(s),
    cwd: root,
  });
  return { name: s, how: 'direct', pidFile: pidFileOf(s) };
}

export async function stopService(run: Runner, st: StartedService): Promise<void> {
  if (st.how === 'systemd' && st.unit) {
    await run('systemctl', ['disable', '--now', st.unit], { timeoutMs: 60_000 });
    return;
  }
  const pid = st.pidFile ? livePid(st.pidFile) : null;
  if (pid) await stopPid(pid, 20_000, st.pidFile);
}
