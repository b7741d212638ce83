import { QUOTA_RESOURCES, type QuotaResource } from '../../shared/api/network.js';
import type { Db } from '../db/open.js';
import type { Svc } from './context.js';
import { OverQuota } from './errors.js';

/** Neutron's default quotas (-1 = unlimited). */
export const DEFAULT_QUOTAS: Record<QuotaResource, number> = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  rbac_policy: 10,
  subnetpool: -1,
};

const COUNT_SQL: Partial<Record<QuotaResource, string>> = {
  network: 'SELECT COUNT(*) FROM net_networks WHERE project_id = ?',
  subnet: 'SELECT COUNT(*) FROM net_subnets WHERE project_id = ?',
  port: 'SELECT COUNT(*) FROM net_ports WHERE project_id = ?',
  router: 'SELECT COUNT(*) FROM net_routers WHERE project_id = ?',
  floatingip: 'SELECT COUNT(*) FROM net_floatingips WHERE project_id = ?',
  security_group: 'SELECT COUNT(*) FROM net_security_groups WHERE project_id = ?',
  security_group_rule: 'SELECT COUNT(*) FROM net_security_group_rules WHERE project_id = ?',
};

export function usage(db: Db, projectId: string, r: QuotaResource): number {
  const sql = COUNT_SQL[r];
  return sql ? (db.prepare(sql).pluck().get(projectId) as number) : 0;
}

export function limitsOf(db: Db, projectId: string): Record<QuotaResource, number> {
  const out = { ...DEFAULT_QUOTAS };
  for (const r of db.prepare('SELECT resource, hard_limit FROM net_quotas WHERE project_id = ?').all(projectId) as Array<{
    resource: QuotaResource;
    hard_limit: number;
  }>) {
    if (r.resource in out) out[r.resource] = r.hard_limit;
  }
  return out;
}

/** Throws OverQuota (409) when `adding` more of `r` would exceed the project's limit. Call inside the create transaction. */
export function checkQuota(s: Pick<Svc, 'db'>, projectId: string, r: QuotaResource, adding = 1): void {
  const limit = limitsOf(s.db, projectId)[r];
  if (limit < 0) return;
  if (usage(s.db, projectId, r) + adding > limit) throw new OverQuota(r);
}

export function setQuotas(db: Db, projectId: string, q: Partial<Record<QuotaResource, number>>): Record<QuotaResource, number> {
  const up = db.prepare(`INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
    ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`);
  db.transaction(() => {
    for (const r of QUOTA_RESOURCES) if (q[r] !== undefined) up.run(projectId, r, q[r]);
  })();
  return limitsOf(db, projectId);
}

export function resetQuotas(db: Db, projectId: string): void {
  db.prepare('DELETE FROM net_quotas WHERE project_id = ?').run(projectId);
}

export function projectsWithQuotas(db: Db): string[] {
  return db.prepare('SELECT DISTINCT project_id FROM net_quotas ORDER BY project_id').pluck().all() as string[];
}
