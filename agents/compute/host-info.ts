import { readFile, statfs } from 'node:fs/promises';

/** Host facts the compute driver reports: CPU flags, memory, disk. */

/** True when any CPU in /proc/cpuinfo has the vmx (Intel VT-x) or svm (AMD-V) flag. */
export function cpuHasVirtExtensions(cpuinfo: string): boolean {
  for (const line of cpuinfo.split('\n')) {
    const m = /^flags\s*:\s*(.*)$/.exec(line);
    if (m && m[1]!.split(/\s+/).some((f) => f === 'vmx' || f === 'svm')) return true;
  }
  return false;
}

/** Number of logical CPUs in /proc/cpuinfo. */
export function cpuCount(cpuinfo: string): number {
  return cpuinfo.split('\n').filter((l) => /^processor\s*:/.test(l)).length;
}

/**
 * virt_type from the setting: kvm and qemu are taken as given; auto is kvm only when
 * the CPU has vmx/svm and /dev/kvm exists, else qemu (TCG).
 */
export function resolveVirtType(setting: 'auto' | 'kvm' | 'qemu', cpuinfo: string, devKvm: boolean): 'kvm' | 'qemu' {
  if (setting !== 'auto') return setting;
  return devKvm && cpuHasVirtExtensions(cpuinfo) ? 'kvm' : 'qemu';
}

/** MemTotal / MemAvailable from /proc/meminfo, in MiB. */
export function parseMeminfo(text: string): { totalMb: number; availableMb: number } {
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { totalMb: Math.floor(kb('MemTotal') / 1024), availableMb: Math.floor(kb('MemAvailable') / 1024) };
}

export async function readCpuinfo(): Promise<string> {
  return readFile('/proc/cpuinfo', 'utf8');
}

export async function diskGb(dir: string): Promise<{ totalGb: number; freeGb: number }> {
  const s = await statfs(dir);
  const gib = 1024 ** 3;
  return { totalGb: Math.floor((s.blocks * s.bsize) / gib), freeGb: Math.floor((s.bavail * s.bsize) / gib) };
}
