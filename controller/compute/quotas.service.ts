import { LEGACY_QUOTA_RESOURCES, QUOTA_RESOURCES, QuotaUpdate } from '../../shared/api/compute.js';
import { BadRequest, Forbidden } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { boolParam, must, type ComputeCtx } from './context.js';
import { KeypairsRepo } from './keypairs.repo.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { validate } from '../http/validate.js';

type Resource = (typeof QUOTA_RESOURCES)[number] | (typeof LEGACY_QUOTA_RESOURCES)[number];

/** Nova's defaults for what Homestack does not configure. */
const FIXED_DEFAULTS: Record<string, number> = {
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  fixed_ips: -1,
  floating_ips: 10,
  security_groups: 10,
  security_group_rules: 20,
};

export function defaultQuotas(ctx: ComputeCtx): Record<Resource, number> {
  const c = ctx.config.compute;
  return {
    instances: c.quota_instances,
    cores: c.quota_cores,
    ram: c.quota_ram,
    key_pairs: c.quota_key_pairs,
    metadata_items: c.quota_metadata_items,
    server_groups: c.quota_server_groups,
    server_group_members: c.quota_server_group_members,
    ...FIXED_DEFAULTS,
  } as Record<Resource, number>;
}

export function projectQuotas(ctx: ComputeCtx, projectId: string): Record<Resource, number> {
  const q = defaultQuotas(ctx);
  for (const r of ctx.quotas.limits(projectId)) (q as Record<string, number>)[r.resource] = r.hard_limit;
  return q;
}

export function quotaLimit(ctx: ComputeCtx, projectId: string, r: Resource): number {
  return projectQuotas(ctx, projectId)[r];
}

/** What a project uses, counted (Nova's counting quota driver). */
export function quotaUsage(ctx: ComputeCtx, projectId: string, userId?: string): Record<string, number> {
  const u = ctx.servers.usage(projectId);
  const groups = ctx.groups.count(projectId);
  const keyPairs = userId ? new KeypairsRepo(ctx.db).count(userId) : 0;
  return { instances: u.instances, cores: u.cores, ram: u.ram, server_groups: groups, key_pairs: keyPairs };
}

/**
 * How many instances of this size the project may still create (Nova creates as many
 * as fit between min_count and max_count). Throws Nova's 403 when even min_count does
 * not fit.
 */
export function checkInstanceQuota(
  ctx: ComputeCtx,
  projectId: string,
  per: { cores: number; ram: number },
  min: number,
  max: number,
): number {
  const q = projectQuotas(ctx, projectId);
  const u = ctx.servers.usage(projectId);
  const room = (limit: number, used: number, each: number) =>
    limit < 0 || each === 0 ? Infinity : Math.floor((limit - used) / each);
  const allowed = Math.min(room(q.instances, u.instances, 1), room(q.cores, u.cores, per.cores), room(q.ram, u.ram, per.ram));
  if (allowed >= max) return max;
  if (allowed >= min) return allowed;
  const overs: Array<[string, number, number, number]> = [];
  if (room(q.instances, u.instances, 1) < min) overs.push(['instances', min, u.instances, q.instances]);
  if (room(q.cores, u.cores, per.cores) < min) overs.push(['cores', min * per.cores, u.cores, q.cores]);
  if (room(q.ram, u.ram, per.ram) < min) overs.push(['ram', min * per.ram, u.ram, q.ram]);
  const names = overs.map((o) => o[0]).join(', ');
  const [, req, used, lim] = overs[0]!;
  throw new Forbidden(`Quota exceeded for ${names}: Requested ${req}, but already used ${used} of ${lim} ${names}`, 'OverQuota');
}

/** The quota_set document at the request's microversion (legacy keys until 2.36). */
export function quotaSetView(q: Record<string, number>, v: Microversion, id?: string): Record<string, unknown> {
  const keys: string[] = [...QUOTA_RESOURCES, ...(mvAtLeast(v, '2.36') ? [] : LEGACY_QUOTA_RESOURCES)];
  const filtered = mvAtLeast(v, '2.57') ? keys.filter((k) => !k.startsWith('injected_')) : keys;
  return { ...(id ? { id } : {}), ...Object.fromEntries(filtered.map((k) => [k, q[k]])) };
}

export function showQuotas(
  ctx: ComputeCtx,
  auth: AuthContext,
  projectId: string,
  v: Microversion,
  detail: boolean,
): Record<string, unknown> {
  must(ctx, detail ? 'os_compute_api:os-quota-sets:show' : 'os_compute_api:os-quota-sets:show', auth, { project_id: projectId });
  const q = projectQuotas(ctx, projectId);
  if (!detail) return quotaSetView(q, v, projectId);
  const used = quotaUsage(ctx, projectId, auth.userId);
  const base = quotaSetView(q, v);
  return {
    id: projectId,
    ...Object.fromEntries(Object.entries(base).map(([k, lim]) => [k, { limit: lim, in_use: used[k] ?? 0, reserved: 0 }])),
  };
}

export function updateQuotas(
  ctx: ComputeCtx,
  auth: AuthContext,
  projectId: string,
  body: unknown,
  v: Microversion,
): Record<string, unknown> {
  must(ctx, 'os_compute_api:os-quota-sets:update', auth, { project_id: projectId });
  const qs = validate(QuotaUpdate, body).quota_set;
  const force = boolParam(qs.force) === true;
  const known = new Set<string>([...QUOTA_RESOURCES, ...(mvAtLeast(v, '2.36') ? [] : LEGACY_QUOTA_RESOURCES)]);
  const bad = Object.keys(qs).filter((k) => k !== 'force' && !known.has(k));
  if (bad.length) throw new BadRequest(`Bad key(s) ${bad.join(', ')} in quota_set`);
  const used = quotaUsage(ctx, projectId);
  const todo: Array<[string, number]> = [];
  for (const [k, raw] of Object.entries(qs)) {
    if (k === 'force') continue;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isInteger(n) || n < -1)
      throw new BadRequest(`Invalid input for field/attribute ${k}. Value: ${String(raw)}. must be an integer >= -1`);
    if (!force && n >= 0 && (used[k] ?? 0) > n) {
      throw new BadRequest(`Quota limit ${n} for ${k} must be greater than or equal to already used and reserved ${used[k]}.`);
    }
    todo.push([k, n]);
  }
  ctx.quotas.set(projectId, todo);
  return quotaSetView(projectQuotas(ctx, projectId), v);
}

export function resetQuotas(ctx: ComputeCtx, auth: AuthContext, projectId: string): void {
  must(ctx, 'os_compute_api:os-quota-sets:delete', auth, { project_id: projectId });
  ctx.quotas.reset(projectId);
}

/** GET /limits: absolute limits and what the project uses. */
export function absoluteLimits(ctx: ComputeCtx, auth: AuthContext, projectId: string, v: Microversion): Record<string, number> {
  must(ctx, 'os_compute_api:limits', auth);
  const q = projectQuotas(ctx, projectId);
  const u = quotaUsage(ctx, projectId, auth.userId);
  const out: Record<string, number> = {
    maxServerMeta: q.metadata_items,
    maxImageMeta: q.metadata_items,
    maxPersonality: q.injected_files,
    maxPersonalitySize: q.injected_file_content_bytes,
    maxTotalKeypairs: q.key_pairs,
    maxServerGroups: q.server_groups,
    maxServerGroupMembers: q.server_group_members,
    maxTotalCores: q.cores,
    maxTotalInstances: q.instances,
    maxTotalRAMSize: q.ram,
    totalCoresUsed: u.cores!,
    totalInstancesUsed: u.instances!,
    totalRAMUsed: u.ram!,
    totalServerGroupsUsed: u.server_groups!,
  };
  if (!mvAtLeast(v, '2.36')) {
    Object.assign(out, {
      maxSecurityGroups: q.security_groups,
      maxSecurityGroupRules: q.security_group_rules,
      maxTotalFloatingIps: q.floating_ips,
      totalFloatingIpsUsed: 0,
      totalSecurityGroupsUsed: 0,
    });
  }
  return out;
}
