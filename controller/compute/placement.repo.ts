import type { Db } from '../db/open.js';
import { capacity, shortfall, type ClaimResult, type Ratios, type Resources, type Usage } from './placement.js';

interface HostRow {
  id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  enabled: number;
  state: string;
}

/**
 * Placement-style accounting in SQLite. Inventory is the `hosts` row (vcpus,
 * memory_mb, disk_gb) times the allocation ratios from config; every instance's
 * allocation is a row of `allocations`. A claim is one IMMEDIATE transaction that
 * re-reads the host's usage and inserts only if everything still fits, so concurrent
 * creates (in this process or another connection) never over-commit a host.
 */
export class Placement {
  private readonly q;
  private readonly claimTx;

  constructor(
    private readonly db: Db,
    readonly ratios: Ratios,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.q = {
      host: db.prepare('SELECT id, name, vcpus, memory_mb, disk_gb, enabled, state FROM hosts WHERE id = ?'),
      usage: db.prepare(
        `SELECT COALESCE(SUM(vcpus),0) AS vcpus, COALESCE(SUM(memory_mb),0) AS memory_mb, COALESCE(SUM(disk_gb),0) AS disk_gb,
                COUNT(*) AS instances FROM allocations WHERE host_id = ?`,
      ),
      usageAll: db.prepare(
        `SELECT host_id, SUM(vcpus) AS vcpus, SUM(memory_mb) AS memory_mb, SUM(disk_gb) AS disk_gb, COUNT(*) AS instances
           FROM allocations GROUP BY host_id`,
      ),
      del: db.prepare('DELETE FROM allocations WHERE instance_id = ?'),
      get: db.prepare('SELECT * FROM allocations WHERE instance_id = ?'),
      ins: db.prepare(
        'INSERT INTO allocations (instance_id, host_id, vcpus, memory_mb, disk_gb, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
    };
    const tx = db.transaction((instanceId: string, hostId: string, want: Resources): ClaimResult => {
      const h = this.q.host.get(hostId) as HostRow | undefined;
      if (!h) return { ok: false, reason: `host ${hostId} no longer exists` };
      if (!h.enabled) return { ok: false, reason: `host ${h.name} is disabled` };
      // An instance holds at most one allocation: a re-claim (retry on another host) replaces it.
      this.q.del.run(instanceId);
      const used = this.q.usage.get(hostId) as Usage;
      const short = shortfall(capacity(h, this.ratios), used, want);
      if (short) return { ok: false, reason: `host ${h.name} has not enough ${short} left` };
      this.q.ins.run(instanceId, hostId, want.vcpus, want.memory_mb, want.disk_gb, this.now().toISOString());
      return { ok: true };
    });
    this.claimTx = (instanceId: string, hostId: string, want: Resources) => tx.immediate(instanceId, hostId, want);
  }

  /** Atomically claims `want` on the host for the instance (replacing its previous claim). */
  claim(instanceId: string, hostId: string, want: Resources): ClaimResult {
    return this.db.inTransaction ? this.claimInside(instanceId, hostId, want) : this.claimTx(instanceId, hostId, want);
  }

  private claimInside(instanceId: string, hostId: string, want: Resources): ClaimResult {
    // Already inside the caller's transaction (which holds the write lock): same checks.
    const h = this.q.host.get(hostId) as HostRow | undefined;
    if (!h) return { ok: false, reason: `host ${hostId} no longer exists` };
    this.q.del.run(instanceId);
    const short = shortfall(capacity(h, this.ratios), this.q.usage.get(hostId) as Usage, want);
    if (short) return { ok: false, reason: `host ${h.name} has not enough ${short} left` };
    this.q.ins.run(instanceId, hostId, want.vcpus, want.memory_mb, want.disk_gb, this.now().toISOString());
    return { ok: true };
  }

  /**
   * Hands an allocation to another consumer (Nova's move of the source allocation to the
   * migration record, and back on a revert or a failed move). Replaces what `to` held.
   * False when `from` holds nothing.
   */
  moveConsumer(from: string, to: string): boolean {
    return this.db.transaction(() => {
      if (!this.q.get.get(from)) return false;
      this.q.del.run(to);
      this.db.prepare('UPDATE allocations SET instance_id = ? WHERE instance_id = ?').run(to, from);
      return true;
    })();
  }

  /** Frees the instance's allocation. Idempotent. Returns what was freed. */
  release(instanceId: string): { host_id: string; resources: Resources } | null {
    const a = this.allocationOf(instanceId);
    if (!a) return null;
    this.q.del.run(instanceId);
    return a;
  }

  allocationOf(instanceId: string): { host_id: string; resources: Resources } | null {
    const r = this.q.get.get(instanceId) as (Resources & { host_id: string }) | undefined;
    return r ? { host_id: r.host_id, resources: { vcpus: r.vcpus, memory_mb: r.memory_mb, disk_gb: r.disk_gb } } : null;
  }

  usageOf(hostId: string): Usage {
    return this.q.usage.get(hostId) as Usage;
  }

  /** Every host's usage in one query (hosts without allocations are absent). */
  usageAll(): Map<string, Usage> {
    const m = new Map<string, Usage>();
    for (const r of this.q.usageAll.all() as Array<Usage & { host_id: string }>) {
      m.set(r.host_id, { vcpus: r.vcpus, memory_mb: r.memory_mb, disk_gb: r.disk_gb, instances: r.instances });
    }
    return m;
  }
}
