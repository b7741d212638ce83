import {
  CreateSnapshot,
  CreateVolume,
  DeleteSnapshot,
  DeleteVolume,
  ExtendVolume,
  type VolumeSource,
} from '../../shared/agent/volume.js';
import { SnapshotCreate, SnapshotUpdate, VolumeCreate, VolumeUpdate } from '../../shared/api/volume.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { OpOutcome, Operation } from '../agents/index.js';
import { localBaseUrl } from '../http/base-url.js';
import { validate } from '../http/validate.js';
import type { AuthContext } from '../http/auth.js';
import { enqueue } from './agent-ops.js';
import { must, type VolumeCtx } from './context.js';
import { backupSource, pickHostForBackup } from './backup-restore.service.js';
import { pickHost, volumeHosts } from './hosts.service.js';
import { checkQuota } from './quotas.service.js';
import type { SnapshotRow, VolumeRow } from './volumes.repo.js';
import { visibleSnapshot, visibleVolume } from './visible.js';

const GiB = 1024 ** 3;

export { visibleSnapshot, visibleVolume } from './visible.js';
export { deleteSnapshot, deleteVolume } from './volume-delete.service.js';

function sizeOf(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new BadRequest(`Invalid input received: Volume size '${String(v)}' must be an integer and greater than 0.`);
  return n;
}

/** Registers the completion handlers of the volume operations (once per dispatcher). */
export function registerCompletions(ctx: VolumeCtx): void {
  const d = ctx.layer?.dispatcher as (NonNullable<VolumeCtx['layer']>['dispatcher'] & { __volumes?: boolean }) | undefined;
  if (!d || d.__volumes) return;
  d.__volumes = true;
  const reason = (out: OpOutcome) => (out.ok ? null : `${out.error.code}: ${out.error.message}`.slice(0, 1000));
  d.onComplete(CreateVolume, (op: Operation, out) => {
    const id = op.resource_id!;
    if (out.ok) ctx.repo.updateVolume(id, { status: 'available', reason: null }, ['creating', 'downloading']);
    else ctx.repo.updateVolume(id, { status: 'error', reason: reason(out) }, ['creating', 'downloading']);
  });
  d.onComplete(DeleteVolume, (op, out) => {
    if (out.ok) ctx.repo.deleteVolume(op.resource_id!);
    else ctx.repo.updateVolume(op.resource_id!, { status: 'error_deleting', reason: reason(out) });
  });
  d.onComplete(ExtendVolume, (op, out) => {
    const size = (op.payload as { size_gb: number }).size_gb;
    if (out.ok) ctx.repo.updateVolume(op.resource_id!, { status: 'available', size, reason: null }, ['extending']);
    else ctx.repo.updateVolume(op.resource_id!, { status: 'error_extending', reason: reason(out) }, ['extending']);
  });
  d.onComplete(CreateSnapshot, (op, out) => {
    ctx.repo.updateSnapshot(
      op.resource_id!,
      out.ok ? { status: 'available', reason: null } : { status: 'error', reason: reason(out) },
      ['creating'],
    );
  });
  d.onComplete(DeleteSnapshot, (op, out) => {
    // The payload names the snapshot: a cascade delete sends it on the volume's resource (in order).
    const id = (op.payload as { id?: string } | null)?.id ?? op.resource_id!;
    if (out.ok) ctx.repo.deleteSnapshot(id);
    else ctx.repo.updateSnapshot(id, { status: 'error_deleting', reason: reason(out) });
  });
}

/** The image source for an agent: URL through our own image API, service token, MD5. */
function imageSource(
  ctx: VolumeCtx,
  img: { id: string; checksum: string | null; disk_format: string | null; size: number | null },
) {
  const identity = ctx.facades.identity;
  if (!identity) throw new Error('no identity facade for a service token');
  const base = (ctx.config.public_url || localBaseUrl(ctx.config)).replace(/\/+$/, '');
  return {
    id: img.id,
    download_url: `${base}/image/v2/images/${img.id}/file`,
    token: identity.serviceToken(),
    checksum: img.checksum && /^[0-9a-f]{32}$/.test(img.checksum) ? img.checksum : null,
    disk_format: img.disk_format ?? 'raw',
    size: img.size,
  };
}

/** POST /volumes: validate, check quota, pick a host, write the row, send the work. */
export function createVolume(ctx: VolumeCtx, auth: AuthContext, body: unknown, requestId?: string): VolumeRow {
  must(ctx, 'volume:create', auth);
  const b = validate(VolumeCreate, body).volume;
  const projectId = auth.projectId;
  if (!projectId) throw new BadRequest('A project-scoped token is required to create a volume.');
  let size = sizeOf(b.size);
  const imageId = b.imageRef ?? b.image_id ?? null;
  const sources = [imageId, b.snapshot_id, b.source_volid, b.backup_id].filter((x) => x);
  if (sources.length > 1)
    throw new BadRequest('Invalid input received: only one of imageRef, snapshot_id, source_volid or backup_id may be given.');
  // backup_id: Cinder reads it whenever the body has it (its 3.0 schema lets it through; 3.47 documents it).
  const fromBackup = b.backup_id ? backupSource(ctx, auth, b.backup_id) : null;
  let source: VolumeSource = { type: 'empty' };
  let hostId: string | null = null;
  let backend: string | null = null;
  let imageName: string | null = null;
  let bootable = false;
  if (b.snapshot_id) {
    const s = ctx.repo.getSnapshot(b.snapshot_id);
    if (!s || (!auth.isAdmin && s.project_id !== projectId))
      throw new NotFound(`Snapshot ${b.snapshot_id} could not be found.`, 'SnapshotNotFound');
    if (s.status !== 'available')
      throw new BadRequest(`Invalid snapshot: Originating snapshot status must be one of 'available' values`);
    size ??= s.size;
    if (size < s.size)
      throw new BadRequest(
        `Invalid input received: Volume size '${size}'GB cannot be smaller than the snapshot size ${s.size}GB. They must be >= original snapshot size.`,
      );
    const parent = ctx.repo.getVolume(s.volume_id);
    hostId = parent?.host_id ?? null;
    backend = parent?.backend ?? null;
    bootable = parent?.bootable === 1;
    source = { type: 'snapshot', snapshot_id: s.id };
  } else if (b.source_volid) {
    const src = visibleVolume(ctx, auth, b.source_volid);
    if (!['available', 'in-use'].includes(src.status))
      throw new BadRequest(
        `Invalid volume: Source volume status must be available or in-use, but current status is: ${src.status}.`,
      );
    size ??= src.size;
    if (size < src.size)
      throw new BadRequest(
        `Invalid input received: Volume size '${size}'GB cannot be smaller than original volume size ${src.size}GB. They must be >= original volume size.`,
      );
    hostId = src.host_id;
    backend = src.backend;
    bootable = src.bootable === 1;
    source = { type: 'volume', volume_id: src.id };
  } else if (fromBackup) {
    const bk = fromBackup.backup;
    size ??= bk.size;
    if (size < bk.size)
      throw new BadRequest(
        `Invalid input received: Volume size ${size}GB cannot be smaller than the backup size ${bk.size}GB. It must be >= backup size.`,
      );
    bootable = fromBackup.bootable;
    imageName = fromBackup.imageName;
    source = fromBackup.source;
  } else if (imageId) {
    const img = ctx.facades.images?.get(auth, imageId);
    if (!img) throw new BadRequest(`Invalid image identifier or unable to access requested image.`);
    if (img.status !== 'active') throw new BadRequest(`Invalid image: Image ${imageId} is not active.`);
    const need = Math.max(img.min_disk, Math.ceil((img.virtual_size ?? img.size ?? 0) / GiB), 1);
    size ??= need;
    if (size < need)
      throw new BadRequest(
        `Invalid input received: Volume size ${size}GB cannot be smaller than the image minDisk size ${need}GB.`,
      );
    imageName = img.name;
    bootable = true;
    source = { type: 'image', image: imageSource(ctx, img) };
  }
  if (size === null) throw new BadRequest("Invalid input received: 'size' is a required property when no source is given.");
  if (size > 65536)
    throw new BadRequest(`Invalid input received: Volume size '${size}' must be an integer and less than or equal to 65536.`);
  const typeName = b.volume_type ?? ctx.config.volume.default_volume_type;
  const type = ctx.repo.getType(typeName);
  if (!type) throw new NotFound(`Volume type with name ${typeName} could not be found.`, 'VolumeTypeNotFound');
  const zone = b.availability_zone ?? ctx.config.volume.default_availability_zone;
  if (!volumeHosts(ctx).some((h) => h.zone === zone) && zone !== ctx.config.volume.default_availability_zone) {
    throw new BadRequest(`Invalid availability zone: ${zone}`);
  }
  checkQuota(ctx, projectId, { volumes: 1, gigabytes: size, size });
  const wantBackend = (JSON.parse(type.extra_specs) as Record<string, string>).volume_backend_name ?? null;
  let reason: string | null = null;
  if (!hostId) {
    const h = fromBackup
      ? pickHostForBackup(ctx, { targetId: fromBackup.targetId, backend: wantBackend, zone, sizeGb: size })
      : pickHost(ctx, { backend: wantBackend, zone, sizeGb: size });
    if (h) {
      hostId = h.id;
      backend = h.backend;
    } else reason = 'No valid backend was found. No weighed backends available';
  } else if (!volumeHosts(ctx).some((h) => h.id === hostId && h.up)) {
    // The source's host is down: the dispatcher will deliver when it is back.
    ctx.log.info({ host: hostId }, 'volume host of the source is down; the create waits for it');
  }
  const id = newUuid();
  const status = reason ? 'error' : source.type === 'image' ? 'downloading' : 'creating';
  const name = b.name ?? b.display_name ?? null;
  let row!: VolumeRow;
  ctx.db.transaction(() => {
    row = ctx.repo.insertVolume({
      id,
      project_id: projectId,
      user_id: auth.userId,
      name,
      description: b.description ?? b.display_description ?? null,
      size,
      status,
      volume_type_id: type.id,
      availability_zone: zone,
      host_id: hostId,
      backend,
      bootable: bootable ? 1 : 0,
      metadata: JSON.stringify(b.metadata ?? {}),
      snapshot_id: b.snapshot_id ?? null,
      source_volid: b.source_volid ?? null,
      image_id: imageId ?? fromBackup?.imageId ?? null,
      image_name: imageName,
      multiattach: 0,
    });
    if (
      fromBackup &&
      !reason &&
      !ctx.backups.update(fromBackup.backup.id, { status: 'restoring', restore_volume_id: id }, ['available'])
    )
      throw new BadRequest('Invalid backup: Backup status must be available', 'InvalidBackup');
    if (reason) ctx.repo.updateVolume(id, { reason });
    else enqueue(ctx, hostId!, CreateVolume, { id, size_gb: size, source } as never, { type: 'volume', id }, requestId);
  })();
  return ctx.repo.getVolume(row.id)!;
}

export function updateVolume(ctx: VolumeCtx, auth: AuthContext, id: string, body: unknown): VolumeRow {
  const v = visibleVolume(ctx, auth, id);
  must(ctx, 'volume:update', auth, { project_id: v.project_id });
  const b = validate(VolumeUpdate, body).volume;
  ctx.repo.updateVolume(id, {
    name: b.name !== undefined ? b.name : b.display_name !== undefined ? b.display_name : undefined,
    description:
      b.description !== undefined ? b.description : b.display_description !== undefined ? b.display_description : undefined,
    metadata: b.metadata ? JSON.stringify(b.metadata) : undefined,
  });
  return ctx.repo.getVolume(id)!;
}

/** DELETE /volumes/{id}: Cinder's checks, then the host deletes it (no host: the row goes). */
export function extendVolume(ctx: VolumeCtx, auth: AuthContext, v: VolumeRow, raw: unknown, requestId?: string): void {
  must(ctx, 'volume:extend', auth, { project_id: v.project_id });
  const b = (raw ?? {}) as { new_size?: unknown };
  const n = typeof b.new_size === 'string' ? Number(b.new_size) : b.new_size;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new BadRequest(
      `Invalid input for field/attribute new_size. Value: ${String(b.new_size)}. ${String(b.new_size)} is not of type 'integer'`,
    );
  if (v.status !== 'available')
    throw new BadRequest(
      `Invalid volume: Volume ${v.id} status must be 'available' to extend, currently ${v.status}.`,
      'InvalidVolume',
    );
  if (n <= v.size)
    throw new BadRequest(
      `Invalid input received: New size for extend must be greater than current size. (current: ${v.size}, extended: ${n}).`,
    );
  checkQuota(ctx, v.project_id, { gigabytes: n - v.size, size: n });
  ctx.db.transaction(() => {
    if (!ctx.repo.updateVolume(v.id, { status: 'extending' }, ['available']))
      throw new BadRequest(`Invalid volume: Volume ${v.id} status must be 'available' to extend.`);
    enqueue(ctx, v.host_id!, ExtendVolume, { id: v.id, size_gb: n } as never, { type: 'volume', id: v.id }, requestId);
  })();
}

export function createSnapshot(ctx: VolumeCtx, auth: AuthContext, body: unknown, requestId?: string): SnapshotRow {
  must(ctx, 'volume:create_snapshot', auth);
  const b = validate(SnapshotCreate, body).snapshot;
  // cinder/api/v3/snapshots.py create: volume_api.get(volume_id) first, so null is a 404.
  const v = visibleVolume(ctx, auth, b.volume_id ?? 'None');
  const force = b.force === true || (typeof b.force === 'string' && ['true', '1', 'yes'].includes(b.force.toLowerCase()));
  if (!(v.status === 'available' || (force && v.status === 'in-use'))) {
    throw new BadRequest(
      `Invalid volume: Volume ${v.id} status must be available, but current status is: ${v.status}.`,
      'InvalidVolume',
    );
  }
  if (!v.host_id) throw new BadRequest(`Invalid volume: Volume ${v.id} has no host.`);
  checkQuota(ctx, v.project_id, { snapshots: 1, gigabytes: v.size });
  const id = newUuid();
  ctx.db.transaction(() => {
    ctx.repo.insertSnapshot({
      id,
      project_id: v.project_id,
      user_id: auth.userId,
      volume_id: v.id,
      name: b.name ?? b.display_name ?? null,
      description: b.description ?? b.display_description ?? null,
      size: v.size,
      status: 'creating',
      metadata: JSON.stringify(b.metadata ?? {}),
    });
    enqueue(ctx, v.host_id!, CreateSnapshot, { id, volume_id: v.id } as never, { type: 'snapshot', id }, requestId);
  })();
  return ctx.repo.getSnapshot(id)!;
}

export function updateSnapshot(ctx: VolumeCtx, auth: AuthContext, id: string, body: unknown): SnapshotRow {
  const s = visibleSnapshot(ctx, auth, id);
  must(ctx, 'volume:update_snapshot', auth, { project_id: s.project_id });
  const b = validate(SnapshotUpdate, body).snapshot;
  ctx.repo.updateSnapshot(id, {
    name: b.name !== undefined ? b.name : b.display_name !== undefined ? b.display_name : undefined,
    description:
      b.description !== undefined ? b.description : b.display_description !== undefined ? b.display_description : undefined,
  });
  return ctx.repo.getSnapshot(id)!;
}

export const VOLUME_STATUSES = [
  'creating',
  'available',
  'reserved',
  'attaching',
  'detaching',
  'in-use',
  'maintenance',
  'deleting',
  'awaiting-transfer',
  'error',
  'error_deleting',
  'backing-up',
  'restoring-backup',
  'error_backing-up',
  'error_restoring',
  'error_extending',
  'downloading',
  'uploading',
  'retyping',
  'extending',
];
