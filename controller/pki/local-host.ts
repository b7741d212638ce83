import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Runner } from '../../shared/exec/run.js';
import type { HostOps } from './install.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether /proc/net/tcp{,6} of this network namespace has a listener on `port`. */
export function listeningLocally(port: number, read = (f: string) => readFileSync(f, 'utf8')): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = read(f);
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex, st 0A is LISTEN
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

function gidOf(group: string): number | null {
  const m = new RegExp(`^${group}:[^:]*:(\\d+):`, 'm').exec(existsSync('/etc/group') ? readFileSync('/etc/group', 'utf8') : '');
  return m ? Number(m[1]) : null;
}

/**
 * This machine as HostOps (enrol-local). libvirtd is restarted through systemd when it
 * is PID 1 (the TLS socket unit enabled), otherwise by its pid file (`libvirtdPidFile`,
 * default /run/libvirtd.pid as `homestack daemons start` writes it) and started again
 * with --listen. Guests keep running across a libvirtd restart.
 */
export function localHostOps(run: Runner, o: { libvirtdPidFile?: string; log?: (m: string) => void } = {}): HostOps {
  const pidFile = o.libvirtdPidFile ?? '/run/libvirtd.pid';
  return {
    async read(path) {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null;
      }
    },
    async write(f) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o755 });
      const tmp = `${f.path}.new`;
      writeFileSync(tmp, f.content, { mode: f.mode });
      chmodSync(tmp, f.mode);
      if (f.group) {
        const gid = gidOf(f.group);
        if (gid === null) o.log?.(`group ${f.group} does not exist: ${f.path} stays root-only (is libvirt installed?)`);
        else chownSync(tmp, 0, gid);
      }
      renameSync(tmp, f.path);
    },
    async listening(port) {
      return listeningLocally(port);
    },
    async restartLibvirtd() {
      const pid1 = readFileSync('/proc/1/comm', 'utf8').trim();
      if (pid1 === 'systemd') {
        await run('systemctl', ['enable', '--now', 'libvirtd-tls.socket'], { timeoutMs: 60_000 });
        await run('systemctl', ['restart', 'libvirtd.service'], { timeoutMs: 120_000 });
        return 'systemctl restart libvirtd (libvirtd-tls.socket enabled)';
      }
      let pid = 0;
      try {
        pid = Number(readFileSync(pidFile, 'utf8').trim());
      } catch {
        /* not running from that pid file */
      }
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          pid = 0;
        }
        for (let i = 0; pid && i < 150; i++) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await sleep(100);
        }
      }
      await run('libvirtd', ['-d', '-l', '-p', pidFile], { timeoutMs: 60_000 });
      for (let i = 0; i < 100 && !listeningLocally(16514); i++) await sleep(100);
      return `${pid > 1 ? 'restarted' : 'started'} libvirtd --listen (pid file ${pidFile})`;
    },
  };
}
