import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Long-running processes (the all-in-one's controller and agent when systemd is not
 * PID 1). Kept beside run.ts so node:child_process stays inside shared/exec: run() is
 * for tools that finish; this is for daemons that must outlive the caller.
 */
export interface DaemonSpec {
  /** Absolute path of the executable (e.g. process.execPath). */
  exe: string;
  args: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  pidFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts a detached process with its output appended to logFile; writes pidFile. */
export function spawnDaemon(d: DaemonSpec): number {
  mkdirSync(dirname(d.logFile), { recursive: true });
  mkdirSync(dirname(d.pidFile), { recursive: true });
  const fd = openSync(d.logFile, 'a', 0o640);
  try {
    const child = spawn(d.exe, d.args as string[], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: d.cwd,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...d.env },
    });
    if (!child.pid) throw new Error(`could not start ${d.exe}`);
    child.unref();
    writeFileSync(d.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The pid in a pid file if that process is alive, else null. */
export function livePid(pidFile: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  return Number.isInteger(pid) && pid > 1 && isAlive(pid) ? pid : null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; look at its state.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after graceMs; removes the pid file. Resolves when it is gone. */
export async function stopPid(pid: number, graceMs = 15_000, pidFile?: string): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const t0 = Date.now();
  while (isAlive(pid) && Date.now() - t0 < graceMs) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (isAlive(pid) && Date.now() - t0 < graceMs + 5_000) await new Promise((r) => setTimeout(r, 100));
  }
  if (pidFile) rmSync(pidFile, { force: true });
}

/** The mount and network namespaces of a process ('mnt:[…] net:[…]'), or null when unreadable. */
function namespacesOf(pid: number | 'self'): string | null {
  try {
    return `${readlinkSync(`/proc/${pid}/ns/mnt`)} ${readlinkSync(`/proc/${pid}/ns/net`)}`;
  } catch {
    return null;
  }
}

/**
 * Pids of processes whose /proc/<pid>/comm is exactly `name` and that run in this
 * process's mount and network namespaces: a libvirtd or tgtd of a simulated host (its own
 * namespaces, as the test harnesses and the two-host cloud make) is not this host's daemon.
 */
export function pidsByComm(name: string): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  const here = namespacesOf('self');
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== name || !isAlive(Number(e))) continue;
      if (here !== null && namespacesOf(Number(e)) !== here) continue;
      out.push(Number(e));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}
