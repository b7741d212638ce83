import { Value } from 'typebox/value';
import { QuotaUpdate } from '../../shared/api/volume.js';
import { BadRequest, OverLimit } from '../../shared/errors/index.js';
import type { VolumeCtx } from './context.js';

export const QUOTA_RESOURCES = [
  'volumes',
  'gigabytes',
  'snapshots',
  'backups',
  'backup_gigabytes',
  'per_volume_gigabytes',
  'groups',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

export function defaultQuotas(ctx: VolumeCtx): Record<QuotaResource, number> {
  const c = ctx.config.volume;
  return {
    volumes: c.quota_volumes,
    gigabytes: c.quota_gigabytes,
    snapshots: c.quota_snapshots,
    backups: c.quota_backups,
    backup_gigabytes: c.quota_backup_gigabytes,
    per_volume_gigabytes: c.quota_per_volume_gigabytes,
    groups: c.quota_groups,
  };
}

export function quotasOf(ctx: VolumeCtx, projectId: string): Record<QuotaResource, number> {
  return { ...defaultQuotas(ctx), ...ctx.repo.quotaOverrides(projectId) } as Record<QuotaResource, number>;
}

export function usageOf(ctx: VolumeCtx, projectId: string): Record<QuotaResource, number> {
  const u = ctx.repo.usage(projectId);
  const b = ctx.backups.usage(projectId);
  return {
    volumes: u.volumes,
    gigabytes: u.gigabytes,
    snapshots: u.snapshots,
    backups: b.backups,
    backup_gigabytes: b.gigabytes,
    per_volume_gigabytes: 0,
    groups: 0,
  };
}

/** Cinder's over-quota messages (413 overLimit). */
export function checkQuota(
  ctx: VolumeCtx,
  projectId: string,
  d: { volumes?: number; gigabytes?: number; snapshots?: number; size?: number },
): void {
  const q = quotasOf(ctx, projectId);
  const u = usageOf(ctx, projectId);
  if (d.size !== undefined && q.per_volume_gigabytes >= 0 && d.size > q.per_volume_gigabytes) {
    throw new OverLimit(
      `VolumeSizeExceedsLimit: Requested volume size ${d.size}G is larger than maximum allowed limit ${q.per_volume_gigabytes}G.`,
      'VolumeSizeExceedsLimit',
    );
  }
  if (d.gigabytes && q.gigabytes >= 0 && u.gigabytes + d.gigabytes > q.gigabytes) {
    throw new OverLimit(
      `VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${d.gigabytes}G, quota is ${q.gigabytes}G and ${u.gigabytes}G has been consumed.`,
      'VolumeSizeExceedsAvailableQuota',
    );
  }
  if (d.volumes && q.volumes >= 0 && u.volumes + d.volumes > q.volumes) {
    throw new OverLimit(
      `VolumeLimitExceeded: Maximum number of volumes allowed (${q.volumes}) exceeded for quota 'volumes'.`,
      'VolumeLimitExceeded',
    );
  }
  if (d.snapshots && q.snapshots >= 0 && u.snapshots + d.snapshots > q.snapshots) {
    throw new OverLimit(
      `SnapshotLimitExceeded: Maximum number of snapshots allowed (${q.snapshots}) exceeded for quota 'snapshots'.`,
      'SnapshotLimitExceeded',
    );
  }
}

export function quotaSetView(ctx: VolumeCtx, projectId: string, withUsage: boolean): Record<string, unknown> {
  const q = quotasOf(ctx, projectId);
  const u = usageOf(ctx, projectId);
  const doc: Record<string, unknown> = { id: projectId };
  for (const r of QUOTA_RESOURCES) doc[r] = withUsage ? { limit: q[r], in_use: u[r], reserved: 0, allocated: 0 } : q[r];
  return doc;
}

export function updateQuotas(ctx: VolumeCtx, projectId: string, body: unknown): Record<string, unknown> {
  if (!Value.Check(QuotaUpdate, body)) throw new BadRequest('Missing required element quota_set in request body.');
  for (const [k, raw] of Object.entries(body.quota_set)) {
    if (k === 'tenant_id' || k === 'id') continue;
    if (!(QUOTA_RESOURCES as readonly string[]).includes(k)) throw new BadRequest(`Bad key(s) in quota set: ${k}`);
    const n = typeof raw === 'string' ? Number(raw) : raw;
    if (!Number.isInteger(n) || n < -1)
      throw new BadRequest(`Quota limit ${raw} for ${k} must be an integer greater than or equal to -1.`);
    if (k !== 'per_volume_gigabytes' && n >= 0) {
      const used = usageOf(ctx, projectId)[k as QuotaResource];
      if (n < used)
        throw new BadRequest(
          `Quota limit invalid for project '${projectId}' for quota '${k}': Limit ${n} must be >= current usage ${used}.`,
        );
    }
    ctx.repo.setQuota(projectId, k, n);
  }
  return quotaSetView(ctx, projectId, false);
}

export function limitsView(ctx: VolumeCtx, projectId: string): Record<string, unknown> {
  const q = quotasOf(ctx, projectId);
  const u = usageOf(ctx, projectId);
  return {
    rate: [],
    absolute: {
      maxTotalVolumes: q.volumes,
      maxTotalSnapshots: q.snapshots,
      maxTotalVolumeGigabytes: q.gigabytes,
      maxTotalBackups: q.backups,
      maxTotalBackupGigabytes: q.backup_gigabytes,
      totalVolumesUsed: u.volumes,
      totalGigabytesUsed: u.gigabytes,
      totalSnapshotsUsed: u.snapshots,
      totalBackupsUsed: u.backups,
      totalBackupGigabytesUsed: u.backup_gigabytes,
    },
  };
}
