/** What an instance consumes on its host (Placement's VCPU, MEMORY_MB, DISK_GB). */
export interface Resources {
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

export interface Ratios {
  cpu: number;
  ram: number;
  disk: number;
}

/** A host's inventory as Placement sees it: totals and the allocation ratios. */
export interface Inventory {
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

export interface Usage extends Resources {
  instances: number;
}

/** What may be allocated on a host: floor(total × ratio). */
export function capacity(inv: Inventory, r: Ratios): Resources {
  return {
    vcpus: Math.floor(inv.vcpus * r.cpu),
    memory_mb: Math.floor(inv.memory_mb * r.ram),
    disk_gb: Math.floor(inv.disk_gb * r.disk),
  };
}

/** The first resource that does not fit, or null. */
export function shortfall(cap: Resources, used: Resources, want: Resources): keyof Resources | null {
  if (used.memory_mb + want.memory_mb > cap.memory_mb) return 'memory_mb';
  if (used.vcpus + want.vcpus > cap.vcpus) return 'vcpus';
  if (used.disk_gb + want.disk_gb > cap.disk_gb) return 'disk_gb';
  return null;
}

export type ClaimResult = { ok: true } | { ok: false; reason: string };
