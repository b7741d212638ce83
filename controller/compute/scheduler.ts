import type { Db } from '../db/open.js';
import { capacity, type Resources, type Usage } from './placement.js';
import type { Placement } from './placement.repo.js';
import { ComputeHostsRepo } from './hosts.repo.js';

/** A host as the scheduler sees it: inventory, liveness, and usage from Placement. */
export interface HostState {
  id: string;
  name: string;
  up: boolean;
  enabled: boolean;
  roles: string[];
  az: string;
  arch: string | null;
  hypervisorType: string;
  capacity: Resources;
  used: Usage;
}

/** What one instance asks of the scheduler (Nova's RequestSpec, reduced). */
export interface RequestSpec {
  instanceId: string;
  resources: Resources;
  /** Requested availability zone (null = any). */
  az?: string | null;
  /** Admin host targeting (`nova:HOST`). */
  forcedHost?: string | null;
  /** Image properties (architecture, hypervisor_type...). */
  imageProperties?: Record<string, string>;
  /** Server group: its policy and the host names its other members run on. */
  group?: { policy: string; memberHosts: string[]; maxServerPerHost?: number } | null;
  /** Host names of the `same_host` / `different_host` hint instances. */
  sameHost?: string[];
  differentHost?: string[];
  /** Hosts already tried for this build (Nova's RetryFilter). */
  ignoreHosts?: string[];
}

export interface Filter {
  name: string;
  pass(h: HostState, s: RequestSpec): boolean;
  /** Why a host failed, for the "No valid host" details. */
  why?(s: RequestSpec): string;
}

const free = (h: HostState, k: keyof Resources) => h.capacity[k] - h.used[k];
const count = (xs: string[] | undefined, name: string) => (xs ?? []).filter((x) => x === name).length;

/** Nova's default filters, in the order they run (cheap ones first). */
export const FILTERS: Filter[] = [
  { name: 'RetryFilter', pass: (h, s) => !(s.ignoreHosts ?? []).includes(h.name), why: () => 'already tried for this build' },
  {
    name: 'ComputeFilter',
    pass: (h) => h.up && h.enabled && h.roles.includes('compute'),
    why: () => 'host down, disabled or not a compute host',
  },
  {
    name: 'ForcedHostFilter',
    pass: (h, s) => !s.forcedHost || h.name === s.forcedHost || h.id === s.forcedHost,
    why: (s) => `not the requested host ${s.forcedHost}`,
  },
  { name: 'AvailabilityZoneFilter', pass: (h, s) => !s.az || h.az === s.az, why: (s) => `not in availability zone ${s.az}` },
  {
    name: 'RamFilter',
    pass: (h, s) => free(h, 'memory_mb') >= s.resources.memory_mb,
    why: (s) => `needs ${s.resources.memory_mb} MB RAM`,
  },
  { name: 'CoreFilter', pass: (h, s) => free(h, 'vcpus') >= s.resources.vcpus, why: (s) => `needs ${s.resources.vcpus} vCPUs` },
  {
    name: 'DiskFilter',
    pass: (h, s) => free(h, 'disk_gb') >= s.resources.disk_gb,
    why: (s) => `needs ${s.resources.disk_gb} GB disk`,
  },
  {
    name: 'ImagePropertiesFilter',
    pass: (h, s) => {
      const arch = s.imageProperties?.architecture ?? s.imageProperties?.hw_architecture;
      if (arch && h.arch && normArch(arch) !== normArch(h.arch)) return false;
      const hv = s.imageProperties?.hypervisor_type ?? s.imageProperties?.img_hv_type;
      if (hv && h.hypervisorType && hv.toLowerCase() !== h.hypervisorType.toLowerCase()) return false;
      return true;
    },
    why: (s) =>
      `image requires architecture/hypervisor ${s.imageProperties?.architecture ?? s.imageProperties?.hypervisor_type ?? ''}`,
  },
  {
    name: 'ServerGroupAffinityFilter',
    pass: (h, s) => s.group?.policy !== 'affinity' || !s.group.memberHosts.length || s.group.memberHosts.includes(h.name),
    why: () => 'the server group (affinity) runs elsewhere',
  },
  {
    name: 'ServerGroupAntiAffinityFilter',
    pass: (h, s) => s.group?.policy !== 'anti-affinity' || count(s.group.memberHosts, h.name) < (s.group.maxServerPerHost ?? 1),
    why: () => 'a member of the server group (anti-affinity) runs there',
  },
  {
    name: 'SameHostFilter',
    pass: (h, s) => !s.sameHost?.length || s.sameHost.includes(h.name),
    why: () => 'not a same_host host',
  },
  {
    name: 'DifferentHostFilter',
    pass: (h, s) => !s.differentHost?.includes(h.name),
    why: () => 'a different_host instance runs there',
  },
];

function normArch(a: string): string {
  const x = a.toLowerCase();
  return x === 'amd64' || x === 'x64' ? 'x86_64' : x === 'arm64' ? 'aarch64' : x;
}

export type Weigher = 'spread' | 'pack';

export interface FilterReport {
  filter: string;
  before: number;
  after: number;
  why?: string;
}

export type Selection = { ok: true; host: HostState; report: FilterReport[] } | { ok: false; report: FilterReport[] };

/**
 * Runs the filters, then weighs what is left: soft server-group policies first, then
 * free RAM (spread: most free wins; pack: least free that fits wins). Ties go to the
 * host with fewer instances, then the name, so decisions are reproducible.
 */
export function selectHost(
  hosts: HostState[],
  s: RequestSpec,
  weigher: Weigher = 'spread',
  filters: Filter[] = FILTERS,
): Selection {
  let left = hosts;
  const report: FilterReport[] = [];
  for (const f of filters) {
    const before = left.length;
    const next: HostState[] = [];
    for (const h of left) if (f.pass(h, s)) next.push(h);
    left = next;
    if (next.length !== before) report.push({ filter: f.name, before, after: next.length, why: f.why?.(s) });
    if (!left.length) return { ok: false, report };
  }
  const soft = s.group?.policy === 'soft-affinity' ? 1 : s.group?.policy === 'soft-anti-affinity' ? -1 : 0;
  let best: HostState | null = null;
  let bestKey: [number, number, number] = [0, 0, 0];
  for (const h of left) {
    const g = soft ? soft * count(s.group?.memberHosts, h.name) : 0;
    const ram = free(h, 'memory_mb') * (weigher === 'spread' ? 1 : -1);
    const key: [number, number, number] = [g, ram, -h.used.instances];
    if (
      !best ||
      key[0] > bestKey[0] ||
      (key[0] === bestKey[0] &&
        (key[1] > bestKey[1] ||
          (key[1] === bestKey[1] && (key[2] > bestKey[2] || (key[2] === bestKey[2] && h.name < best.name)))))
    ) {
      best = h;
      bestKey = key;
    }
  }
  return { ok: true, host: best!, report };
}

/** The "No valid host" detail: which filter removed the hosts, and why. */
export function describeReport(report: FilterReport[], total: number): string {
  if (!total) return 'There are no compute hosts.';
  return report.map((r) => `${r.filter}: ${r.before} → ${r.after} host(s)${r.why ? ` (${r.why})` : ''}`).join('; ');
}

interface HostRow {
  id: string;
  name: string;
  roles: string;
  state: string;
  enabled: number;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  hypervisor_type: string;
  capabilities: string;
  forced_down?: number;
}

/**
 * The scheduler's view of every host, cached: rows and usage are re-read from the
 * database at most every `maxAgeMs` (or after `invalidate()`), and in between the
 * scheduler's own claims and releases are applied to the cache. The cache only
 * chooses; the claim in Placement re-checks capacity in the database, so a stale view
 * can cost a retry but never an over-commit.
 */
export class HostStateCache {
  private hosts: HostState[] = [];
  private byId = new Map<string, HostState>();
  private loadedAt = -Infinity;

  constructor(
    private readonly db: Db,
    private readonly placement: Placement,
    private readonly maxAgeMs = 1000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  invalidate(): void {
    this.loadedAt = -Infinity;
  }

  all(): HostState[] {
    if (this.clock() - this.loadedAt > this.maxAgeMs) this.load();
    return this.hosts;
  }

  get(id: string): HostState | undefined {
    this.all();
    return this.byId.get(id);
  }

  private load(): void {
    const usage = this.placement.usageAll();
    const rows: HostRow[] = new ComputeHostsRepo(this.db).all();
    this.hosts = rows.map((r) => {
      const caps = safeJson(r.capabilities) as { roles?: Record<string, Record<string, unknown>> };
      const c = caps.roles?.compute ?? {};
      return {
        id: r.id,
        name: r.name,
        up: r.state === 'up' && !r.forced_down,
        enabled: r.enabled === 1,
        roles: safeJson(r.roles) as string[],
        az: typeof c.availability_zone === 'string' && c.availability_zone ? c.availability_zone : 'nova',
        arch: [c.arch, c.architecture, c.cpu_arch].find((x): x is string => typeof x === 'string' && x !== '') ?? null,
        hypervisorType: r.hypervisor_type,
        capacity: capacity(r, this.placement.ratios),
        used: usage.get(r.id) ?? { vcpus: 0, memory_mb: 0, disk_gb: 0, instances: 0 },
      };
    });
    this.byId = new Map(this.hosts.map((h) => [h.id, h]));
    this.loadedAt = this.clock();
  }

  /** Applies a claim (+1) or a release (−1) to the cached usage. */
  apply(hostId: string, r: Resources, sign: 1 | -1): void {
    const h = this.byId.get(hostId);
    if (!h) return;
    h.used = {
      vcpus: h.used.vcpus + sign * r.vcpus,
      memory_mb: h.used.memory_mb + sign * r.memory_mb,
      disk_gb: h.used.disk_gb + sign * r.disk_gb,
      instances: h.used.instances + sign,
    };
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return {};
  }
}

export type ScheduleResult =
  | { ok: true; host: HostState; report: FilterReport[]; claimRetries: number }
  | { ok: false; reason: string; report: FilterReport[] };

/**
 * select → claim, synchronously (nothing else runs in between in this process). When
 * the database refuses the claim (another connection took the room), the host is
 * skipped, the cache is refreshed and the choice is made again.
 */
export class Scheduler {
  /** Claims the database refused although the cached view said they fit. */
  refusedClaims = 0;

  constructor(
    readonly cache: HostStateCache,
    private readonly placement: Placement,
    private readonly weigher: Weigher = 'spread',
  ) {}

  scheduleAndClaim(s: RequestSpec, maxClaimRetries = 5): ScheduleResult {
    const skip: string[] = [...(s.ignoreHosts ?? [])];
    let retries = 0;
    for (;;) {
      const hosts = this.cache.all();
      const sel = selectHost(hosts, { ...s, ignoreHosts: skip }, this.weigher);
      if (!sel.ok) {
        return {
          ok: false,
          reason: describeReport(sel.report, hosts.filter((h) => h.roles.includes('compute')).length),
          report: sel.report,
        };
      }
      const prev = this.placement.allocationOf(s.instanceId);
      const c = this.placement.claim(s.instanceId, sel.host.id, s.resources);
      if (prev) this.cache.apply(prev.host_id, prev.resources, -1);
      if (c.ok) {
        this.cache.apply(sel.host.id, s.resources, 1);
        return { ok: true, host: sel.host, report: sel.report, claimRetries: retries };
      }
      retries++;
      this.refusedClaims++;
      skip.push(sel.host.name);
      this.cache.invalidate();
      if (retries > maxClaimRetries) return { ok: false, reason: `claims refused: ${c.reason}`, report: sel.report };
    }
  }

  release(instanceId: string): void {
    const r = this.placement.release(instanceId);
    if (r) this.cache.apply(r.host_id, r.resources, -1);
  }
}
