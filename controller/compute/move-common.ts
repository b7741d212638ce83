import { randomBytes } from 'node:crypto';
import type { IscsiConnectionInfo } from '../../shared/agent/compute.js';
import { BadRequest } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import type { ComputeCtx } from './context.js';
import type { HostRef } from './host-gateway.js';
import type { MigrationRow, MigrationType } from './migrations.repo.js';
import type { RequestSpec } from './scheduler.js';
import type { FlavorSnapshot, Instance } from './servers.repo.js';
import { initiatorOf } from './hosts.repo.js';

/**
 * What live migration, cold migration, resize and evacuation share: the migration
 * record, the claim on the destination (the source's allocation handed to the migration,
 * Nova's migration consumer), a second attachment of every volume for the destination,
 * ports wired on both hosts, and the undo of each.
 */

/** Statuses after which a migration no longer moves anything (Nova's final states). */
export const FINAL_STATUSES = ['completed', 'confirmed', 'reverted', 'error', 'failed', 'cancelled'] as const;

export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

export function newMigration(
  ctx: ComputeCtx,
  i: Instance,
  auth: AuthContext,
  type: MigrationType,
  o: { status: string; newFlavor?: FlavorSnapshot; dest?: HostRef | null },
): MigrationRow {
  return ctx.migrations.insert({
    uuid: newUuid(),
    instance_uuid: i.id,
    migration_type: type,
    status: o.status,
    source_compute: i.host,
    source_node: i.host,
    source_host_id: i.host_id,
    dest_compute: o.dest?.name ?? null,
    dest_node: o.dest?.name ?? null,
    dest_host_id: o.dest?.id ?? null,
    old_flavor: i.flavor,
    new_flavor: o.newFlavor ?? i.flavor,
    project_id: i.project_id,
    user_id: auth.userId,
    created_at: ctx.now().toISOString(),
  });
}

/** What the instance asks of a destination (its flavor, the image's properties, the hosts to avoid). */
export function moveRequestSpec(
  ctx: ComputeCtx,
  i: Instance,
  o: { flavor?: FlavorSnapshot; ignoreHosts: string[]; host?: string | null },
): RequestSpec {
  const f = o.flavor ?? i.flavor;
  return {
    instanceId: i.id,
    resources: { vcpus: f.vcpus, memory_mb: f.ram, disk_gb: i.image_ref ? f.disk + f.ephemeral : f.ephemeral },
    az: null,
    forcedHost: o.host ?? null,
    ignoreHosts: o.ignoreHosts,
    ...(i.image_ref ? { imageProperties: ctx.facades.images?.get(null, i.image_ref)?.properties } : {}),
  };
}

/**
 * Claims the destination: the source's allocation moves to the migration (so it stays
 * counted on the source), then the scheduler picks and claims a host for the instance.
 * On failure everything is as before and the reason is returned.
 */
export function claimDestination(
  ctx: ComputeCtx,
  i: Instance,
  m: MigrationRow,
  spec: RequestSpec,
): { ok: true; host: HostRef & { az: string } } | { ok: false; reason: string } {
  const moved = ctx.placement.moveConsumer(i.id, m.uuid);
  const sel = ctx.scheduler.scheduleAndClaim(spec);
  if (!sel.ok) {
    if (moved) ctx.placement.moveConsumer(m.uuid, i.id);
    ctx.scheduler.cache.invalidate();
    return { ok: false, reason: sel.reason };
  }
  ctx.migrations.update(m.id, { dest_compute: sel.host.name, dest_node: sel.host.name, dest_host_id: sel.host.id });
  return { ok: true, host: { id: sel.host.id, name: sel.host.name, az: sel.host.az } };
}

/** The move failed or was reverted: the destination's claim goes, the source's comes back to the instance. */
export function releaseDestination(ctx: ComputeCtx, i: Instance, m: MigrationRow): void {
  ctx.scheduler.release(i.id);
  ctx.placement.moveConsumer(m.uuid, i.id);
  ctx.scheduler.cache.invalidate();
}

/** The move is final: the source's allocation (held by the migration) is freed. */
export function releaseSource(ctx: ComputeCtx, m: MigrationRow): void {
  ctx.placement.release(m.uuid);
  ctx.scheduler.cache.invalidate();
}

/** One volume as the destination will see it. */
export interface MovedVolume {
  volume_id: string;
  device: string;
  boot: boolean;
  oldAttachmentId: string | null;
  attachmentId: string;
  connection: IscsiConnectionInfo;
}

/**
 * Every volume of the instance attached a second time, for `dest` (its own CHAP user and
 * ACL entry): the target admits both hosts until the move ends. Undone on failure.
 */
export async function connectVolumesFor(ctx: ComputeCtx, i: Instance, dest: HostRef): Promise<MovedVolume[]> {
  const rows = ctx.servers.volumeMappings(i.id);
  if (!rows.length) return [];
  const vf = ctx.facades.volumes;
  if (!vf?.attachForMove) throw new Error('block storage cannot attach a volume to a second host');
  const out: MovedVolume[] = [];
  try {
    for (const r of rows) {
      const device = r.device_name ?? (r.boot_index === 0 ? '/dev/vda' : '/dev/vdb');
      const a = await vf.attachForMove(r.volume_id, {
        serverId: i.id,
        host: dest.name,
        initiator: initiatorOf(ctx.hosts, dest.id),
        device,
      });
      out.push({
        volume_id: r.volume_id,
        device,
        boot: r.boot_index === 0,
        oldAttachmentId: r.attachment_id,
        attachmentId: a.attachmentId,
        connection: a.connection,
      });
    }
    return out;
  } catch (e) {
    await dropVolumes(ctx, out);
    throw e;
  }
}

/** The destination's attachments go (the move failed); the source's stay. */
export async function dropVolumes(ctx: ComputeCtx, vols: Array<Omit<MovedVolume, 'connection'>>): Promise<void> {
  for (const v of vols)
    await ctx.facades.volumes
      ?.detach(v.attachmentId)
      .catch((err) => ctx.log.warn({ err, volume: v.volume_id }, 'could not remove the destination attachment of a failed move'));
}

/** The destination's attachments become the volumes' attachments; the source's go (its connection is revoked). */
export async function adoptVolumes(
  ctx: ComputeCtx,
  i: Instance,
  vols: Array<Omit<MovedVolume, 'connection'>>,
  dropOld = true,
): Promise<void> {
  for (const v of vols) {
    ctx.facades.volumes?.attachComplete(v.attachmentId, v.device);
    ctx.servers.setAttachment(i.id, v.volume_id, v.attachmentId);
    if (dropOld && v.oldAttachmentId)
      await ctx.facades.volumes
        ?.detach(v.oldAttachmentId)
        .catch((err) => ctx.log.warn({ err, volume: v.volume_id }, 'could not revoke the source attachment after a move'));
  }
}

/** A random token for a one-time file offer (shared/agent/migration.ts). */
export const transferToken = (): string => randomBytes(32).toString('hex');

/** The image source the destination fetches a base image from (as a spawn does). */
export function imageSourceOf(ctx: ComputeCtx, i: Instance, publicUrl: string) {
  if (!i.image_ref) return undefined;
  const img = ctx.facades.images?.get(null, i.image_ref);
  if (!img) throw new Error(`image ${i.image_ref} is gone`);
  if (!ctx.facades.identity) throw new Error('no service token available for the image download');
  return {
    id: img.id,
    download_url: `${publicUrl}/image/v2/images/${img.id}/file`,
    token: ctx.facades.identity.serviceToken(),
    checksum: img.checksum && /^[0-9a-f]{32}$/.test(img.checksum) ? img.checksum : null,
    disk_format: img.disk_format ?? 'raw',
    size: img.size,
  };
}

/** A host by name among the compute hosts (os-migrateLive `host`, evacuate `host`); 400 as Nova when unknown. */
export function computeHostNamed(ctx: ComputeCtx, name: string): HostRef {
  const h = ctx.scheduler.cache.all().find((x) => x.name === name && x.roles.includes('compute'));
  if (!h) throw new BadRequest(`Compute host ${name} could not be found.`, 'ComputeHostNotFound');
  return { id: h.id, name: h.name };
}
