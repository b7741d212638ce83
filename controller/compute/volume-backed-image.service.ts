import { Readable } from 'node:stream';
import { BadRequest, Conflict } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { ImageInfo, VolumeSnapshotInfo } from '../facades.js';
import { background, type ComputeCtx } from './context.js';
import { messageOf } from './host-gateway.js';
import type { ActionEnv, ActionResult } from './server-action-types.js';
import type { BlockDevice, Instance } from './servers.repo.js';

/**
 * createImage of a volume-backed server, as Nova's compute API snapshot_volume_backed
 * does it: every attached volume gets a forced Cinder snapshot ("snapshot for <name>")
 * and the image carries no data, only the mapping (`block_device_mapping` as a JSON
 * string, `bdm_v2` True, `root_device_name`), disk_format raw and container_format bare
 * as Nova's glance client forces for a data-less image. Booting from the image makes
 * the boot volume from its snapshot (server-create.service.ts, imageBootMapping).
 *
 * Unlike Nova, the image stays `queued` until every snapshot is available, then becomes
 * active (size 0); a snapshot that fails kills the image and deletes the snapshots made
 * for it, so nothing half-made is left (Nova leaves an active image pointing at an
 * errored snapshot). The 202 carries the image's id as for an image-backed server.
 */
export function createVolumeBackedImage(
  ctx: ComputeCtx,
  env: ActionEnv,
  i: Instance,
  a: { name: string; metadata?: Record<string, string> },
): ActionResult {
  const { auth, requestId } = env;
  const images = ctx.facades.images;
  const volumes = ctx.facades.volumes;
  if (!images || !volumes) throw new Conflict('The image or block storage service is not available.');
  const attached = ctx.servers.attachedVolumes(i.id);
  if (!attached.some((b) => b.boot_index === 0)) throw new Conflict(`Instance ${i.id} has no boot volume recorded.`);
  if (!ctx.servers.updateIf(i.id, { taskState: null }, { task_state: 'image_snapshot' }, ctx.now().toISOString()))
    throw new Conflict(`Cannot 'createImage' instance ${i.id} while it is in task_state ${i.task_state}`);
  const made: VolumeSnapshotInfo[] = [];
  const mapping: Array<Record<string, unknown>> = [];
  let img: ImageInfo;
  try {
    for (const b of attached) {
      const snap = volumes.snapshotForImage(auth, b.volume_id, `snapshot for ${a.name}`);
      made.push(snap);
      mapping.push(imageMapping(b, snap));
    }
    img = images.createRecord(auth, {
      name: a.name,
      owner: i.project_id,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      properties: {
        ...(a.metadata ?? {}),
        image_type: 'snapshot',
        instance_uuid: i.id,
        user_id: auth.userId,
        root_device_name: '/dev/vda',
        bdm_v2: 'True',
        block_device_mapping: JSON.stringify(mapping),
      },
    });
  } catch (e) {
    void dropSnapshots(ctx, made);
    ctx.servers.updateIf(i.id, { taskState: 'image_snapshot' }, { task_state: null }, ctx.now().toISOString());
    throw e;
  }
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'createImage',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  background(ctx, `volume snapshot image ${i.id}`, async () => {
    const ev = ctx.actions.eventStart(action, 'compute_snapshot_volume_backed', i.host);
    try {
      for (const s of made) await volumes.snapshotReady(s.id);
      // No data: an empty upload activates the image (size 0), as Nova's force_activate does.
      await images.upload(img.id, Readable.from([]));
      ctx.actions.eventFinish(ev, true, undefined, i.host);
      ctx.actions.finish(action);
    } catch (e) {
      try {
        images.kill(img.id, messageOf(e));
      } catch (err) {
        ctx.log.warn({ err, image: img.id }, 'could not mark a failed snapshot image killed');
      }
      await dropSnapshots(ctx, made);
      ctx.actions.eventFinish(ev, false, messageOf(e), i.host);
      ctx.actions.finish(action, 'Error');
    } finally {
      ctx.servers.updateIf(i.id, { taskState: 'image_snapshot' }, { task_state: null }, ctx.now().toISOString());
    }
  });
  const location = `${env.publicUrl}/image/v2/images/${img.id}`;
  if (env.imageApiVersionAtLeast245) return { status: 202, body: { image_id: img.id } };
  return { status: 202, headers: { Location: location } };
}

/** One entry of the image's block_device_mapping (Nova's snapshot_from_bdm → get_image_mapping). */
function imageMapping(
  b: { volume_id: string; device_name: string | null; boot_index: number | null; delete_on_termination: boolean },
  snap: VolumeSnapshotInfo,
): Record<string, unknown> {
  return {
    source_type: 'snapshot',
    destination_type: 'volume',
    snapshot_id: snap.id,
    volume_id: null,
    image_id: null,
    volume_size: snap.size,
    device_name: b.device_name,
    boot_index: b.boot_index,
    delete_on_termination: b.delete_on_termination,
    device_type: 'disk',
    disk_bus: null,
    guest_format: null,
    no_device: null,
    tag: null,
    volume_type: null,
  };
}

async function dropSnapshots(ctx: ComputeCtx, made: VolumeSnapshotInfo[]): Promise<void> {
  for (const s of made) {
    try {
      // A snapshot still creating is deleted once it settles (Cinder refuses to delete it meanwhile).
      await ctx.facades.volumes!.snapshotReady(s.id).catch(() => undefined);
      await ctx.facades.volumes!.deleteSnapshot(s.id);
    } catch (err) {
      ctx.log.warn({ err, snapshot: s.id }, 'could not delete the snapshot of a failed server image');
    }
  }
}

/**
 * The boot mapping of an image made from a volume-backed server (its `bdm_v2` /
 * `block_device_mapping` properties), as Nova merges an image's mappings into a boot
 * request; null for an ordinary image. Only the boot volume is made from it: extra
 * mappings in the image are not restored (as extra block_device_mapping_v2 entries of a
 * request are not, yet).
 */
export function imageBootMapping(image: ImageInfo): BlockDevice | null {
  const p = image.properties;
  if (String(p.bdm_v2 ?? '').toLowerCase() !== 'true' || !p.block_device_mapping) return null;
  let list: unknown;
  try {
    list = JSON.parse(p.block_device_mapping);
  } catch {
    throw new BadRequest(`Image ${image.id} has a block_device_mapping property that is not JSON.`);
  }
  if (!Array.isArray(list)) throw new BadRequest(`Image ${image.id} has a block_device_mapping property that is not a list.`);
  const boot = list.find((m) => m && typeof m === 'object' && Number((m as { boot_index?: unknown }).boot_index) === 0) as
    | Record<string, unknown>
    | undefined;
  if (!boot) return null;
  if (boot.source_type !== 'snapshot' || typeof boot.snapshot_id !== 'string')
    throw new BadRequest(`Image ${image.id}: booting from a ${String(boot.source_type)} mapping is not supported.`);
  return {
    uuid: boot.snapshot_id,
    source_type: 'snapshot',
    destination_type: 'volume',
    boot_index: 0,
    volume_size: typeof boot.volume_size === 'number' ? boot.volume_size : null,
    delete_on_termination: boot.delete_on_termination === true,
  };
}

/** The snapshot a boot mapping names, checked as Nova's _validate_bdm does (404 → 400). */
export function checkBootSnapshot(ctx: ComputeCtx, auth: AuthContext, bdm: BlockDevice): void {
  if (!bdm.uuid) throw new BadRequest('Invalid input for field/attribute uuid: a snapshot id is required.');
  const volumes = ctx.facades.volumes;
  if (!volumes) throw new BadRequest('Block storage is not available: cannot boot from volume.');
  const snap = volumes.snapshot(auth, bdm.uuid);
  if (!snap) throw new BadRequest(`Snapshot ${bdm.uuid} could not be found.`, 'SnapshotNotFound');
  if (snap.status !== 'available')
    throw new BadRequest(
      `Invalid snapshot: Snapshot ${bdm.uuid} status must be available, but current status is: ${snap.status}.`,
    );
  if (bdm.volume_size && bdm.volume_size < snap.size)
    throw new BadRequest(`Volume size ${bdm.volume_size} GB is smaller than the snapshot's ${snap.size} GB.`);
}
