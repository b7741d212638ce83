import { BackupProgress, CreateBackup, DeleteBackup, type BackupRef } from '../../shared/agent/backup.js';
import { BackupCreate, boolIn } from '../../shared/api/volume.js';
import { BadRequest, CloudError, NotFound, OverLimit } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { OpOutcome, Operation } from '../agents/index.js';
import type { AuthContext } from '../http/auth.js';
import { validate } from '../http/validate.js';
import type { BackupsRepo, BackupRow } from './backups.repo.js';
import { must, type VolumeCtx } from './context.js';
import { volumeHosts, type VolumeHost } from './hosts.service.js';
import { quotasOf } from './quotas.service.js';
import { visibleVolume } from './visible.js';

/** Cinder's ServiceNotFound for cinder-backup: 503. */
export class BackupServiceUnavailable extends CloudError {
  constructor(detail?: string) {
    super(503, `Service cinder-backup could not be found.${detail ? ` ${detail}` : ''}`, 'ServiceNotFound', true);
  }
}

export const backupsRepo = (ctx: VolumeCtx): BackupsRepo => ctx.backups;

/** A volume host's backup target as it reports it at registration. */
export interface BackupHost extends VolumeHost {
  targetId: string | null;
  service: string | null;
}

export function backupHosts(ctx: VolumeCtx): BackupHost[] {
  return volumeHosts(ctx).map((h) => {
    const caps = h.caps;
    return {
      ...h,
      targetId: typeof caps.backup_target_id === 'string' ? caps.backup_target_id : null,
      service: typeof caps.backup_service === 'string' ? caps.backup_service : null,
    };
  });
}

/** The host to read or delete a backup: an enabled host whose target has the backup's id, up ones first. */
export function hostForTarget(ctx: VolumeCtx, targetId: string | null, prefer?: string | null): BackupHost | null {
  const c = backupHosts(ctx).filter((h) => h.enabled && targetId && h.targetId === targetId);
  c.sort(
    (a, b) => Number(b.up) - Number(a.up) || Number(b.id === prefer) - Number(a.id === prefer) || a.name.localeCompare(b.name),
  );
  return c[0] ?? null;
}

export function visibleBackup(ctx: VolumeCtx, auth: AuthContext | null, id: string): BackupRow {
  const b = backupsRepo(ctx).get(id);
  if (!b || (auth && !auth.isAdmin && auth.projectId !== b.project_id))
    throw new NotFound(`Backup ${id} could not be found.`, 'BackupNotFound');
  return b;
}

/** The backup and its ancestors, newest first, as the agent reads them. */
export function chainOf(ctx: VolumeCtx, b: BackupRow): BackupRef[] {
  const out: BackupRef[] = [];
  let cur: BackupRow | null = b;
  const seen = new Set<string>();
  while (cur) {
    if (seen.has(cur.id)) throw new BadRequest(`Invalid backup: backup ${b.id} has a cycle in its parents.`, 'InvalidBackup');
    seen.add(cur.id);
    if (!cur.container || !cur.service_metadata)
      throw new BadRequest(`Invalid backup: backup ${cur.id} has no objects.`, 'InvalidBackup');
    out.push({ id: cur.id, container: cur.container, service_metadata: cur.service_metadata });
    if (!cur.parent_id) break;
    const parent = backupsRepo(ctx).get(cur.parent_id);
    if (!parent)
      throw new BadRequest(
        `Invalid backup: the parent ${cur.parent_id} of backup ${cur.id} is not known here (import its record first).`,
        'InvalidBackup',
      );
    cur = parent;
  }
  return out;
}

function checkBackupQuota(ctx: VolumeCtx, projectId: string, size: number): void {
  const q = quotasOf(ctx, projectId);
  const u = backupsRepo(ctx).usage(projectId);
  if (q.backup_gigabytes >= 0 && u.gigabytes + size > q.backup_gigabytes)
    throw new OverLimit(
      `VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup gigabytes quota. Requested ${size}G, quota is ${q.backup_gigabytes}G and ${u.gigabytes}G has been consumed.`,
      'VolumeBackupSizeExceedsAvailableQuota',
    );
  if (q.backups >= 0 && u.backups + 1 > q.backups)
    throw new OverLimit(`BackupLimitExceeded: Maximum number of backups allowed (${q.backups}) exceeded.`, 'BackupLimitExceeded');
}

/** Cinder's parent choice: the available backup with the latest data_timestamp (older than the snapshot, when backing up one). */
export function latestParent(
  ctx: VolumeCtx,
  volumeId: string,
  projectId: string,
  snapshotCreatedAt: string | null,
): BackupRow | null {
  const cands = backupsRepo(ctx)
    .ofVolume(volumeId)
    .filter((b) => b.project_id === projectId && b.status === 'available')
    .filter((b) => !snapshotCreatedAt || b.data_timestamp < snapshotCreatedAt);
  cands.sort((a, b) => (a.data_timestamp < b.data_timestamp ? 1 : a.data_timestamp > b.data_timestamp ? -1 : 0));
  return cands[0] ?? null;
}

const reasonOf = (out: OpOutcome) => (out.ok ? null : `${out.error.code}: ${out.error.message}`.slice(0, 1000));

/** POST /backups: Cinder's checks, the row, the volume `backing-up`, then the volume host does the work. */
export function createBackup(
  ctx: VolumeCtx,
  auth: AuthContext,
  body: unknown,
  o: { requestId?: string; scheduleId?: string } = {},
): BackupRow {
  // The policy before the body (a reader is refused as such, whatever it sends), then again on the volume's project.
  must(ctx, 'backup:create', auth, { project_id: auth.projectId ?? null });
  const b = validate(BackupCreate, body).backup;
  const v = visibleVolume(ctx, auth, b.volume_id);
  must(ctx, 'backup:create', auth, { project_id: v.project_id });
  const projectId = auth.projectId ?? v.project_id;
  const incremental = boolIn(b.incremental);
  const force = boolIn(b.force);
  let snapshotCreatedAt: string | null = null;
  if (b.snapshot_id) {
    const s = ctx.repo.getSnapshot(b.snapshot_id);
    if (!s || (!auth.isAdmin && s.project_id !== auth.projectId))
      throw new NotFound(`Snapshot ${b.snapshot_id} could not be found.`, 'SnapshotNotFound');
    if (s.volume_id !== v.id)
      throw new BadRequest(
        `Invalid volume: Volume ${v.id} does not match with snapshot.volume_id ${s.volume_id}.`,
        'InvalidVolume',
      );
    if (s.status !== 'available')
      throw new BadRequest(
        `Invalid snapshot: Snapshot to be backed up must be available, but the current status is "${s.status}".`,
        'InvalidSnapshot',
      );
    snapshotCreatedAt = s.created_at;
  } else if (!['available', 'in-use'].includes(v.status)) {
    throw new BadRequest(
      `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${v.status}".`,
      'InvalidVolume',
    );
  } else if (v.status === 'in-use' && !force) {
    throw new BadRequest('Invalid volume: Backing up an in-use volume must use the force flag.', 'InvalidVolume');
  }
  checkBackupQuota(ctx, projectId, v.size);
  const host = backupHosts(ctx).find((h) => h.id === v.host_id);
  if (!host?.targetId) throw new BackupServiceUnavailable(host ? `Host ${host.name} has no backup target.` : undefined);
  let parent: BackupRow | null = null;
  if (incremental) {
    parent = latestParent(ctx, v.id, projectId, snapshotCreatedAt);
    if (!parent) throw new BadRequest('Invalid backup: No backups available to do an incremental backup.', 'InvalidBackup');
    if (parent.target_id !== host.targetId)
      throw new BadRequest(
        `Invalid backup: the last backup ${parent.id} is on another backup target than host ${host.name}'s. Do a full backup.`,
        'InvalidBackup',
      );
  }
  const container = b.container ?? null;
  if (container !== null && !/^[A-Za-z0-9_.\-/]{1,255}$/.test(container))
    throw new BadRequest(`Invalid input received: container ${JSON.stringify(container)} may hold letters, digits, _ . - and /.`);
  const id = newUuid();
  const now = ctx.now().toISOString();
  const tempSnapshot = !b.snapshot_id && v.status === 'in-use';
  const repo = backupsRepo(ctx);
  ctx.db.transaction(() => {
    repo.insert({
      id,
      project_id: projectId,
      user_id: auth.userId,
      volume_id: v.id,
      snapshot_id: b.snapshot_id ?? null,
      name: b.name ?? null,
      description: b.description ?? null,
      size: v.size,
      status: 'creating',
      fail_reason: null,
      availability_zone: v.availability_zone,
      container,
      service: host.service,
      service_metadata: null,
      target_id: host.targetId,
      host_id: host.id,
      parent_id: parent?.id ?? null,
      object_count: 0,
      stored_bytes: null,
      data_timestamp: snapshotCreatedAt ?? now,
      restore_volume_id: null,
      temp_snapshot: tempSnapshot ? 1 : 0,
      metadata: '{}',
      volume_meta: JSON.stringify({ bootable: v.bootable === 1, image_id: v.image_id, image_name: v.image_name }),
      schedule_id: o.scheduleId ?? null,
      created_at: now,
    });
    if (b.snapshot_id) {
      if (!repo.setSnapshotStatus(b.snapshot_id, 'backing-up', ['available']))
        throw new BadRequest('Invalid snapshot: the snapshot changed state.', 'InvalidSnapshot');
    } else if (!repo.setVolumeBusy(v.id, 'backing-up', [v.status])) {
      throw new BadRequest(`Invalid volume: Volume ${v.id} changed state.`, 'InvalidVolume');
    }
    ctx.layer!.dispatcher.enqueue({
      hostId: host.id,
      route: CreateBackup,
      body: {
        id,
        volume_id: v.id,
        snapshot_id: b.snapshot_id ?? null,
        temp_snapshot: tempSnapshot,
        size_gb: v.size,
        container,
        parent: parent ? { id: parent.id, container: parent.container!, service_metadata: parent.service_metadata! } : null,
        name: b.name ?? null,
        description: b.description ?? null,
        created_at: now,
      },
      resource: { type: 'volume', id: v.id },
      requestId: o.requestId,
    });
  })();
  watchProgress(ctx, id, host.id);
  return repo.get(id)!;
}

/**
 * Polls the volume host every 2 s while the backup or restore runs, so `backup show`
 * moves its object_count (a restore's counts are not shown: Cinder shows none). Stops
 * when the backup leaves the state; a controller restart stops it (the result still
 * arrives through the completion handlers).
 */
export function watchProgress(ctx: VolumeCtx, backupId: string, hostId: string, everyMs = 2000): void {
  const t = setInterval(() => {
    let b: BackupRow | null;
    try {
      b = backupsRepo(ctx).get(backupId);
    } catch {
      b = null; // the database was closed (the controller is stopping)
    }
    if (!b || b.status !== 'creating' || !ctx.layer) {
      clearInterval(t);
      return;
    }
    ctx.layer.agents
      .forHost(hostId)
      .call(BackupProgress, { id: backupId })
      .then((p) => {
        if (p.kind === 'backup' && ctx.db.open) backupsRepo(ctx).update(backupId, { object_count: p.objects }, ['creating']);
      })
      .catch(() => {});
  }, everyMs);
  t.unref?.();
}

export function deleteBackup(
  ctx: VolumeCtx,
  auth: AuthContext,
  id: string,
  o: { force?: boolean; requestId?: string } = {},
): void {
  const b = visibleBackup(ctx, auth, id);
  must(ctx, o.force ? 'volume_extension:backup_admin_actions:force_delete' : 'backup:delete', auth, { project_id: b.project_id });
  if (!o.force && !['available', 'error'].includes(b.status))
    throw new BadRequest('Invalid backup: Backup status must be available or error', 'InvalidBackup');
  if (o.force && ['creating', 'restoring', 'deleting'].includes(b.status))
    throw new BadRequest(`Invalid backup: a ${b.status} backup cannot be force-deleted until its work ends.`, 'InvalidBackup');
  if (backupsRepo(ctx).children(b.id).length)
    throw new BadRequest('Invalid backup: Incremental backups exist for this backup.', 'InvalidBackup');
  const repo = backupsRepo(ctx);
  if (!b.service_metadata) {
    // Nothing was ever written (it failed before its first object).
    repo.delete(b.id);
    return;
  }
  const host = hostForTarget(ctx, b.target_id, b.host_id);
  if (!host) throw new BackupServiceUnavailable(`No volume host reaches the backup target ${b.target_id ?? '?'}.`);
  ctx.db.transaction(() => {
    repo.update(b.id, { status: 'deleting', host_id: host.id });
    ctx.layer!.dispatcher.enqueue({
      hostId: host.id,
      route: DeleteBackup,
      body: { id: b.id, container: b.container, service_metadata: b.service_metadata },
      resource: { type: 'backup', id: b.id },
      requestId: o.requestId,
    });
  })();
}

/** Completion handlers of backup create and delete (once per dispatcher). */
export function registerBackupCompletions(ctx: VolumeCtx): void {
  const d = ctx.layer?.dispatcher as (NonNullable<VolumeCtx['layer']>['dispatcher'] & { __backups?: boolean }) | undefined;
  if (!d || d.__backups) return;
  d.__backups = true;
  const repo = backupsRepo(ctx);
  d.onComplete(CreateBackup, (op: Operation, out) => {
    const body = op.payload as { id: string; volume_id: string; snapshot_id: string | null };
    if (out.ok) {
      const r = out.reply as {
        container: string;
        service_metadata: string;
        service: string;
        target_id: string;
        object_count: number;
        stored_bytes: number;
      };
      repo.update(
        body.id,
        {
          status: 'available',
          fail_reason: null,
          container: r.container,
          service: r.service,
          service_metadata: r.service_metadata,
          target_id: r.target_id,
          object_count: r.object_count,
          stored_bytes: r.stored_bytes,
          host_id: op.host_id,
        },
        ['creating'],
      );
    } else {
      repo.update(body.id, { status: 'error', fail_reason: reasonOf(out) }, ['creating']);
    }
    if (body.snapshot_id) repo.setSnapshotStatus(body.snapshot_id, 'available', ['backing-up']);
    else repo.restoreVolumeStatus(body.volume_id, 'backing-up');
  });
  d.onComplete(DeleteBackup, (op, out) => {
    const id = (op.payload as { id: string }).id;
    if (out.ok) repo.delete(id);
    else repo.update(id, { status: 'error_deleting', fail_reason: reasonOf(out) });
  });
}
