import { CreateVolume, type VolumeSource } from '../../shared/agent/volume.js';
import { RestoreBackup, VerifyBackup } from '../../shared/agent/backup.js';
import { BackupImport, BackupRestore } from '../../shared/api/volume.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { OpOutcome, Operation } from '../agents/index.js';
import type { AuthContext } from '../http/auth.js';
import { validate } from '../http/validate.js';
import type { BackupRow } from './backups.repo.js';
import { BackupServiceUnavailable, backupHosts, chainOf, hostForTarget, visibleBackup } from './backups.service.js';
import { must, type VolumeCtx } from './context.js';
import { pickHost } from './hosts.service.js';
import { checkQuota } from './quotas.service.js';
import { visibleVolume } from './visible.js';

/** What restoring a backup into a new volume needs (volume create with backup_id, restore without volume_id). */
export interface BackupSourcePlan {
  backup: BackupRow;
  source: Extract<VolumeSource, { type: 'backup' }>;
  targetId: string;
  bootable: boolean;
  imageId: string | null;
  imageName: string | null;
}

/** Checks the backup can be read now (Cinder: status available) and builds the agent's source. */
export function backupSource(ctx: VolumeCtx, auth: AuthContext, backupId: string): BackupSourcePlan {
  const b = visibleBackup(ctx, auth, backupId);
  must(ctx, 'backup:restore', auth, { project_id: b.project_id });
  if (b.status !== 'available') throw new BadRequest('Invalid backup: Backup status must be available', 'InvalidBackup');
  if (!b.target_id) throw new BadRequest('Invalid backup: Backup to be restored has no backup target.', 'InvalidBackup');
  const meta = JSON.parse(b.volume_meta || '{}') as { bootable?: boolean; image_id?: string | null; image_name?: string | null };
  return {
    backup: b,
    source: { type: 'backup', backup_id: b.id, chain: chainOf(ctx, b) },
    targetId: b.target_id,
    bootable: meta.bootable === true,
    imageId: meta.image_id ?? null,
    imageName: meta.image_name ?? null,
  };
}

/** A host for a new volume restored from a backup: one whose backup target holds it. */
export function pickHostForBackup(ctx: VolumeCtx, o: { targetId: string; zone: string; sizeGb: number; backend: string | null }) {
  const reach = new Set(
    backupHosts(ctx)
      .filter((h) => h.targetId === o.targetId)
      .map((h) => h.id),
  );
  if (!reach.size) throw new BackupServiceUnavailable(`No volume host reaches the backup target ${o.targetId}.`);
  return pickHost(ctx, { ...o, only: reach });
}

/** POST /backups/{id}/restore: into the given volume, or a new one on a host that reaches the backup. */
export function restoreBackup(
  ctx: VolumeCtx,
  auth: AuthContext,
  id: string,
  body: unknown,
  requestId?: string,
): { backup_id: string; volume_id: string; volume_name: string | null } {
  const plan = backupSource(ctx, auth, id); // 404 and the policy before the body
  const r = validate(BackupRestore, body).restore;
  const b = plan.backup;
  const repo = ctx.backups;
  if (r?.volume_id) {
    const v = visibleVolume(ctx, auth, r.volume_id);
    if (v.status !== 'available')
      throw new BadRequest('Invalid volume: Volume to be restored to must be available', 'InvalidVolume');
    if (b.size > v.size)
      throw new BadRequest(
        `Invalid volume: volume size ${v.size} is too small to restore backup of size ${b.size}.`,
        'InvalidVolume',
      );
    const host = backupHosts(ctx).find((h) => h.id === v.host_id);
    if (!host || host.targetId !== plan.targetId)
      throw new BadRequest(
        `Invalid volume: the host of volume ${v.id} cannot reach the backup target of backup ${b.id}.`,
        'InvalidVolume',
      );
    ctx.db.transaction(() => {
      if (!repo.update(b.id, { status: 'restoring', restore_volume_id: v.id }, ['available']))
        throw new BadRequest('Invalid backup: Backup status must be available', 'InvalidBackup');
      if (!ctx.repo.updateVolume(v.id, { status: 'restoring-backup' }, ['available']))
        throw new BadRequest('Invalid volume: Volume to be restored to must be available', 'InvalidVolume');
      ctx.layer!.dispatcher.enqueue({
        hostId: host.id,
        route: RestoreBackup,
        body: { id: b.id, volume_id: v.id, chain: plan.source.chain, volume_is_new: false },
        resource: { type: 'volume', id: v.id },
        requestId,
      });
    })();
    return { backup_id: b.id, volume_id: v.id, volume_name: v.name };
  }
  // A new volume of the backup's size (Cinder: name restore_backup_<id>).
  const projectId = auth.projectId ?? b.project_id;
  const zone = b.availability_zone ?? ctx.config.volume.default_availability_zone;
  checkQuota(ctx, projectId, { volumes: 1, gigabytes: b.size, size: b.size });
  const type = ctx.repo.getType(ctx.config.volume.default_volume_type);
  const wantBackend = type ? ((JSON.parse(type.extra_specs) as Record<string, string>).volume_backend_name ?? null) : null;
  const host = pickHostForBackup(ctx, { targetId: plan.targetId, zone, sizeGb: b.size, backend: wantBackend });
  if (!host) throw new BackupServiceUnavailable('No volume host that reaches the backup has room for it.');
  const vid = newUuid();
  const name = r?.name ?? `restore_backup_${b.id}`;
  ctx.db.transaction(() => {
    if (!repo.update(b.id, { status: 'restoring', restore_volume_id: vid }, ['available']))
      throw new BadRequest('Invalid backup: Backup status must be available', 'InvalidBackup');
    ctx.repo.insertVolume({
      id: vid,
      project_id: projectId,
      user_id: auth.userId,
      name,
      description: 'auto-created_from_restore_from_backup',
      size: b.size,
      status: 'restoring-backup',
      volume_type_id: type?.id ?? null,
      availability_zone: zone,
      host_id: host.id,
      backend: host.backend,
      bootable: plan.bootable ? 1 : 0,
      metadata: '{}',
      snapshot_id: null,
      source_volid: null,
      image_id: plan.imageId,
      image_name: plan.imageName,
      multiattach: 0,
    });
    ctx.layer!.dispatcher.enqueue({
      hostId: host.id,
      route: CreateVolume,
      body: { id: vid, size_gb: b.size, source: plan.source } as never,
      resource: { type: 'volume', id: vid },
      requestId,
    });
  })();
  return { backup_id: b.id, volume_id: vid, volume_name: name };
}

const reasonOf = (out: OpOutcome) => (out.ok ? null : `${out.error.code}: ${out.error.message}`.slice(0, 1000));

/**
 * Completions: a restore (into an existing or a new volume) gives the backup back
 * (`available`, as Cinder does even when the restore failed, with the failure in its
 * `fail_reason`) and the volume
 * `available`, or `error_restoring` with the reason; a volume created with backup_id
 * that fails is `error` (the volume service's own handler).
 */
export function registerRestoreCompletions(ctx: VolumeCtx): void {
  const d = ctx.layer?.dispatcher as (NonNullable<VolumeCtx['layer']>['dispatcher'] & { __restores?: boolean }) | undefined;
  if (!d || d.__restores) return;
  d.__restores = true;
  const repo = ctx.backups;
  const finish = (backupId: string, volumeId: string, out: OpOutcome) => {
    // The backup's fail_reason tells why its last restore failed (a corrupt chunk...);
    // the volume's own reason is not in Cinder's volume view. A good restore clears it.
    const failed = out.ok ? null : `Restore to volume ${volumeId} failed: ${reasonOf(out)}`.slice(0, 1000);
    repo.update(backupId, { status: 'available', restore_volume_id: null, fail_reason: failed }, ['restoring']);
    const b = repo.get(backupId);
    if (out.ok && b) {
      const meta = JSON.parse(b.volume_meta || '{}') as { bootable?: boolean };
      ctx.repo.updateVolume(volumeId, { status: 'available', reason: null, bootable: meta.bootable ? 1 : 0 }, [
        'restoring-backup',
      ]);
    } else ctx.repo.updateVolume(volumeId, { status: 'error_restoring', reason: reasonOf(out) }, ['restoring-backup']);
  };
  d.onComplete(RestoreBackup, (op: Operation, out) => {
    const p = op.payload as { id: string; volume_id: string };
    finish(p.id, p.volume_id, out);
  });
  d.onComplete(CreateVolume, (op: Operation, out) => {
    const p = op.payload as { id: string; source: VolumeSource };
    if (p.source.type !== 'backup') return;
    finish(p.source.backup_id, p.id, out);
  });
  d.onComplete(VerifyBackup, (op: Operation, out) => {
    const id = (op.payload as { id: string }).id;
    if (out.ok) {
      const r = out.reply as { volume_id: string; object_count: number; target_id: string; service: string };
      repo.update(
        id,
        {
          status: 'available',
          fail_reason: null,
          object_count: r.object_count,
          target_id: r.target_id,
          service: r.service,
          host_id: op.host_id,
        },
        ['creating'],
      );
    } else repo.update(id, { status: 'error', fail_reason: reasonOf(out) }, ['creating']);
  });
}

/** Cinder's backup record: base64 of the backup's fields as JSON. */
export function exportRecord(ctx: VolumeCtx, auth: AuthContext, id: string): { backup_service: string; backup_url: string } {
  const b = visibleBackup(ctx, auth, id);
  must(ctx, 'backup:export-import', auth, { project_id: b.project_id });
  if (b.status !== 'available')
    throw new BadRequest(`Invalid backup: Backup status must be available and not ${b.status}.`, 'InvalidBackup');
  const rec = {
    id: b.id,
    volume_id: b.volume_id,
    snapshot_id: b.snapshot_id,
    display_name: b.name,
    display_description: b.description,
    size: b.size,
    availability_zone: b.availability_zone,
    container: b.container,
    service: b.service,
    service_metadata: b.service_metadata,
    parent_id: b.parent_id,
    object_count: b.object_count,
    data_timestamp: b.data_timestamp,
    created_at: b.created_at,
    target_id: b.target_id,
    volume_meta: JSON.parse(b.volume_meta || '{}') as unknown,
  };
  return { backup_service: b.service ?? '', backup_url: Buffer.from(JSON.stringify(rec)).toString('base64') };
}

/** POST /backups/import_record: the record becomes a backup `creating`; a host of its target checks the objects are there. */
export function importRecord(ctx: VolumeCtx, auth: AuthContext, body: unknown, requestId?: string): BackupRow {
  must(ctx, 'backup:backup-import', auth);
  const r = validate(BackupImport, body)['backup-record'];
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(Buffer.from(r.backup_url, 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new BadRequest("Invalid input received: Can't parse backup record.");
  }
  if (typeof rec.id !== 'string' || !/^[0-9a-f-]{36}$/.test(rec.id))
    throw new BadRequest('Invalid input received: Provided backup record is missing an id');
  if (typeof rec.size !== 'number')
    throw new BadRequest('Invalid input received: Provided backup record is missing size attribute');
  const str = (k: string) => (typeof rec[k] === 'string' ? (rec[k] as string) : null);
  if (!str('container') || !str('service_metadata') || !/^[A-Za-z0-9_.-]{1,255}$/.test(str('service_metadata')!))
    throw new BadRequest('Invalid input received: the backup record has no container or object prefix.');
  if (ctx.backups.get(rec.id)) throw new BadRequest('Invalid backup: Backup already exists in database.', 'InvalidBackup');
  const hosts = backupHosts(ctx).filter((h) => h.enabled && h.targetId);
  const host =
    hostForTarget(ctx, str('target_id')) ?? hosts.filter((h) => h.up).find((h) => h.service === r.backup_service) ?? null;
  if (!host) throw new BackupServiceUnavailable();
  const projectId = auth.projectId!;
  const now = ctx.now().toISOString();
  const id = rec.id;
  ctx.db.transaction(() => {
    ctx.backups.insert({
      id,
      project_id: projectId,
      user_id: auth.userId,
      volume_id: str('volume_id') ?? '00000000-0000-0000-0000-000000000000',
      snapshot_id: str('snapshot_id'),
      name: str('display_name'),
      description: str('display_description'),
      size: rec.size as number,
      status: 'creating',
      fail_reason: null,
      availability_zone: str('availability_zone'),
      container: str('container'),
      service: r.backup_service || str('service'),
      service_metadata: str('service_metadata'),
      target_id: str('target_id') ?? host.targetId,
      host_id: host.id,
      parent_id: str('parent_id'),
      object_count: typeof rec.object_count === 'number' ? rec.object_count : 0,
      stored_bytes: null,
      data_timestamp: str('data_timestamp') ?? now,
      restore_volume_id: null,
      temp_snapshot: 0,
      metadata: '{}',
      volume_meta: JSON.stringify(rec.volume_meta ?? {}),
      created_at: str('created_at') ?? now,
    });
    ctx.layer!.dispatcher.enqueue({
      hostId: host.id,
      route: VerifyBackup,
      body: { id, container: str('container')!, service_metadata: str('service_metadata')! },
      resource: { type: 'backup', id },
      requestId,
    });
  })();
  return ctx.backups.get(id)!;
}

/** os-reset_status on a backup (admin): available or error only (Cinder's allowed values). */
export function resetBackupStatus(ctx: VolumeCtx, auth: AuthContext, id: string, status: unknown): void {
  const b = visibleBackup(ctx, auth, id);
  must(ctx, 'volume_extension:backup_admin_actions:reset_status', auth, { project_id: b.project_id });
  if (status !== 'available' && status !== 'error')
    throw new BadRequest(`Invalid input received: Invalid backup status '${String(status)}': must be available or error.`);
  if (!b) throw new NotFound(`Backup ${id} could not be found.`, 'BackupNotFound');
  ctx.backups.update(b.id, { status, restore_volume_id: null });
}
