import { QUOTA_RESOURCES, type QuotaResource } from '../../shared/api/network.js';
import type { Db } from '../db/open.js';
import type { Svc } from './context.js';
import { OverQuota } from './errors.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { networksRepo } from './networks.repo.js';
import { portsRepo } from './ports.repo.js';
import { netQuotasRepo } from './quotas.repo.js';
import { routersRepo } from './routers.repo.js';
import { groupsRepo, rulesRepo } from './secgroups.repo.js';
import { subnetsRepo } from './subnets.repo.js';

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

/** What a project has of each counted resource (the others are not counted: 0). */
const COUNTED: Partial<Record<QuotaResource, { count(db: Db, eq: { project_id: string }): number }>> = {
  network: networksRepo,
  subnet: subnetsRepo,
  port: portsRepo,
  router: routersRepo,
  floatingip: floatingIpsRepo,
  security_group: groupsRepo,
  security_group_rule: rulesRepo,
};

export function usage(db: Db, projectId: string, r: QuotaResource): number {
  return COUNTED[r]?.count(db, { project_id: projectId }) ?? 0;
}

export function limitsOf(db: Db, projectId: string): Record<QuotaResource, number> {
  const out = { ...DEFAULT_QUOTAS };
  for (const r of netQuotasRepo.limits(db, projectId)) {
    if (r.resource in out) out[r.resource as QuotaResource] = r.hard_limit;
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
  netQuotasRepo.set(
    db,
    projectId,
    QUOTA_RESOURCES.flatMap((r) => (q[r] !== undefined ? [[r, q[r]] as [string, number]] : [])),
  );
  return limitsOf(db, projectId);
}

export function resetQuotas(db: Db, projectId: string): void {
  netQuotasRepo.reset(db, projectId);
}

export function projectsWithQuotas(db: Db): string[] {
  return netQuotasRepo.projects(db);
}
