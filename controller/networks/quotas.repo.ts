import type { Db } from '../db/open.js';

/** SQL for Neutron's per-project quota overrides (net_quotas). */
export const netQuotasRepo = {
  limits(db: Db, projectId: string): Array<{ resource: string; hard_limit: number }> {
    return db.prepare('SELECT resource, hard_limit FROM net_quotas WHERE project_id = ?').all(projectId) as Array<{
      resource: string;
      hard_limit: number;
    }>;
  },
  /** Sets every limit given, in one transaction. */
  set(db: Db, projectId: string, limits: Array<[string, number]>): void {
    const up = db.prepare(`INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
    ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`);
    db.transaction(() => {
      for (const [r, n] of limits) up.run(projectId, r, n);
    })();
  },
  reset(db: Db, projectId: string): void {
    db.prepare('DELETE FROM net_quotas WHERE project_id = ?').run(projectId);
  },
  /** Projects that have an override, sorted. */
  projects(db: Db): string[] {
    return db.prepare('SELECT DISTINCT project_id FROM net_quotas ORDER BY project_id').pluck().all() as string[];
  },
};
