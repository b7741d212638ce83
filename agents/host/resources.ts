import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { statfsSync } from 'node:fs';
import type { HostUsage } from '../../shared/agent/host.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Host totals reported at registration (roles may refine them, e.g. compute's reserved memory). */
export function hostTotals(dataDir: string): { vcpus: number; memory_mb: number; disk_gb: number } {
  const fs = safeStatfs(dataDir);
  return {
    vcpus: cpus().length,
    memory_mb: Math.floor(totalmem() / MiB),
    disk_gb: fs ? Math.floor((fs.blocks * fs.bsize) / GiB) : 0,
  };
}

function safeStatfs(dir: string): { blocks: number; bfree: number; bavail: number; bsize: number } | null {
  try {
    return statfsSync(dir);
  } catch {
    return null;
  }
}

/** Current host-wide usage; `roles` is filled by the caller from each role's usage(). */
export function sampleUsage(dataDir: string, roles: HostUsage['roles'] = {}): HostUsage {
  const fs = safeStatfs(dataDir);
  const total = fs ? (fs.blocks * fs.bsize) / GiB : 0;
  const free = fs ? (fs.bavail * fs.bsize) / GiB : 0;
  return {
    load1: Math.max(0, Math.round(loadavg()[0]! * 100) / 100),
    memory_mb_total: Math.floor(totalmem() / MiB),
    memory_mb_used: Math.floor((totalmem() - freemem()) / MiB),
    disk_gb_total: Math.floor(total),
    disk_gb_used: Math.max(0, Math.floor(total - free)),
    uptime_s: Math.floor(uptime()),
    roles,
  };
}
