/**
 * Samples the roles' usage for heartbeats within a time budget. A role's sampler asks
 * its daemon (libvirt, OVS, tgt); when that daemon is busy — libvirtd starting twenty
 * guests, every libuv worker thread waiting on it — the call can take many seconds, and
 * a heartbeat that waited for it would be late: the controller would mark a busy host
 * down. A role that does not answer within the budget is reported with its last sample
 * (its call keeps running and refreshes the cache when it ends); a role never sampled
 * is left out until it answers.
 */
export type RoleUsage = Record<string, number>;

interface Log {
  warn(o: object, m?: string): void;
}

export class UsageSampler {
  private readonly last = new Map<string, RoleUsage>();
  private readonly pending = new Map<string, Promise<RoleUsage | undefined>>();

  constructor(
    private readonly roles: ReadonlyArray<[string, () => Promise<RoleUsage>]>,
    private readonly budgetMs: number,
    private readonly log: Log,
  ) {}

  async sample(): Promise<Record<string, RoleUsage>> {
    const out: Record<string, RoleUsage> = {};
    await Promise.all(
      this.roles.map(async ([role, fn]) => {
        let p = this.pending.get(role);
        if (!p) {
          p = fn()
            .then(
              (u) => {
                this.last.set(role, u);
                return u;
              },
              (e: Error) => {
                this.log.warn({ role, err: e.message }, 'usage sampling failed');
                return undefined;
              },
            )
            .finally(() => this.pending.delete(role));
          this.pending.set(role, p);
        }
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => {
          timer = setTimeout(() => r('late'), this.budgetMs);
        });
        const got = await Promise.race([p, late]).finally(() => clearTimeout(timer));
        if (got === 'late') {
          this.log.warn({ role, budget_ms: this.budgetMs }, 'usage sampling is slow: this heartbeat carries the last sample');
          const prev = this.last.get(role);
          if (prev) out[role] = prev;
        } else if (got) {
          out[role] = got;
        } else if (this.last.has(role)) {
          out[role] = this.last.get(role)!;
        }
      }),
    );
    return out;
  }
}
