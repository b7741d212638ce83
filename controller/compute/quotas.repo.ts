import type { Db } from '../db/open.js';

/** SQL for compute's per-project quota overrides (compute_quotas). */
export class ComputeQuotasRepo {
  constructor(private readonly db: Db) {}

  /** The project's overrides: resource → hard limit. */
  limits(projectId: string): Array<{ resource: string; hard_limit: number }> {
    return this.db.prepare('SELECT resource, hard_limit FROM compute_quotas WHERE project_id = ?').all(projectId) as Array<{
      resource: string;
      hard_limit: number;
    }>;
  }

  /** Sets every limit given, in one transaction. */
  set(projectId: string, limits: Array<[string, number]>): void {
    const set = this.db.prepare(
      'INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?) ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit',
    );
    this.db.transaction(() => {
      for (const [k, n] of limits) set.run(projectId, k, n);
    })();
  }

  reset(projectId: string): void {
    this.db.prepare('DELETE FROM compute_quotas WHERE project_id = ?').run(projectId);
  }
}
