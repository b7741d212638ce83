import { UploadVolumeToImage } from '../../shared/agent/volume.js';
import { BadRequest, Conflict } from '../../shared/errors/index.js';
import type { OpOutcome, Operation } from '../agents/index.js';
import type { AuthContext } from '../http/auth.js';
import { localBaseUrl } from '../http/base-url.js';
import { must, type VolumeCtx } from './context.js';
import type { VolumeRow } from './volumes.repo.js';
import { ct, typeView } from './view.js';

/** The disk formats a volume is uploaded as (Cinder's schema has these and ploop; qemu-img writes them). */
const DISK_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx'] as const;
type DiskFormat = (typeof DISK_FORMATS)[number];

const strictBool = (v: unknown, what: string): boolean => {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw new BadRequest(`Invalid input received: '${String(v)}' is not a valid boolean value for ${what}.`);
};

/**
 * POST /volumes/{id}/action {"os-volume_upload_image": {...}} (202), as Cinder's
 * VolumeActionsController._volume_upload_image and volume API copy_volume_to_image: a
 * queued Glance image (name, disk_format default raw, container_format bare) owned by the
 * volume's project, the volume `uploading` until the host has converted and uploaded it,
 * then `available` again. From 3.1 `visibility` (default private; public needs
 * volume_extension:volume_actions:upload_public, admin) and `protected` are taken and
 * answered. `force` (uploading an in-use volume) is refused as Cinder refuses it by default
 * (enable_force_upload = False). Other container formats (ovf, compressed) are not built.
 */
export function uploadVolumeToImage(
  ctx: VolumeCtx,
  auth: AuthContext,
  v: VolumeRow,
  arg: Record<string, unknown>,
  o: { minor: number; requestId?: string },
): Record<string, unknown> {
  must(ctx, 'volume_extension:volume_actions:upload_image', auth, { project_id: v.project_id });
  const name = arg.image_name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255)
    throw new BadRequest("Invalid input received: 'image_name' must be a string of 1 to 255 characters.");
  const disk = (arg.disk_format ?? 'raw') as string;
  if (!DISK_FORMATS.includes(disk as DiskFormat))
    throw new BadRequest(`Invalid input received: disk_format must be one of ${DISK_FORMATS.join(', ')}.`);
  const container = (arg.container_format ?? 'bare') as string;
  if (container !== 'bare')
    throw new BadRequest(`Invalid input received: container_format ${String(container)} is not supported.`);
  if (arg.force !== undefined && strictBool(arg.force, 'force'))
    throw new BadRequest('Invalid volume: Uploading an in-use volume (force) is not allowed.', 'InvalidVolume');
  let visibility = 'private';
  let isProtected = false;
  if (o.minor >= 1) {
    // cinder/api/microversions.py UPLOAD_IMAGE_PARAMS = '3.1'
    visibility = (arg.visibility ?? 'private') as string;
    if (!['public', 'private', 'shared', 'community'].includes(visibility))
      throw new BadRequest(`Invalid input received: visibility ${String(visibility)} is not valid.`);
    if (visibility === 'public') must(ctx, 'volume_extension:volume_actions:upload_public', auth, { project_id: v.project_id });
    isProtected = arg.protected === undefined ? false : strictBool(arg.protected, 'protected');
  }
  if (v.status !== 'available')
    throw new BadRequest(
      `Invalid volume: Volume ${v.id} status must be available, but current status is: ${v.status}.`,
      'InvalidVolume',
    );
  if (!v.host_id) throw new BadRequest(`Invalid volume: Volume ${v.id} is on no host.`, 'InvalidVolume');
  const images = ctx.facades.images;
  const identity = ctx.facades.identity;
  if (!images || !identity || !ctx.layer) throw new Conflict('The image service is not available.');
  const img = images.createRecord(auth, {
    name,
    owner: v.project_id,
    disk_format: disk,
    container_format: container,
    visibility,
    protected: isProtected,
  });
  if (!ctx.repo.updateVolume(v.id, { status: 'uploading' }, ['available'])) {
    images.kill(img.id, 'the volume changed status');
    throw new BadRequest(`Invalid volume: Volume ${v.id} status must be available.`, 'InvalidVolume');
  }
  const base = (ctx.config.public_url || localBaseUrl(ctx.config)).replace(/\/+$/, '');
  ctx.layer.dispatcher.enqueue({
    hostId: v.host_id,
    route: UploadVolumeToImage,
    body: {
      id: v.id,
      image_id: img.id,
      upload_url: `${base}/image/v2/images/${img.id}/file`,
      token: identity.serviceToken(),
      disk_format: disk as DiskFormat,
    },
    resource: { type: 'volume', id: v.id },
    requestId: o.requestId,
  });
  const after = ctx.repo.getVolume(v.id)!;
  const type = after.volume_type_id ? ctx.repo.getType(after.volume_type_id) : null;
  return {
    'os-volume_upload_image': {
      id: after.id,
      updated_at: ct(after.updated_at),
      status: 'uploading',
      display_description: after.description,
      size: after.size,
      volume_type: type ? typeView(type) : null,
      image_id: img.id,
      container_format: container,
      disk_format: disk,
      image_name: name,
      ...(o.minor >= 1 ? { visibility, protected: isProtected } : {}),
    },
  };
}

/**
 * The upload's end: the volume is available again either way (Cinder's
 * copy_volume_to_image puts it back whatever happened); an image still without data is
 * killed, so nobody waits on it (Glance's image then shows `killed`).
 */
export function registerUploadCompletion(ctx: VolumeCtx): void {
  const d = ctx.layer?.dispatcher as (NonNullable<VolumeCtx['layer']>['dispatcher'] & { __uploads?: boolean }) | undefined;
  if (!d || d.__uploads) return;
  d.__uploads = true;
  d.onComplete(UploadVolumeToImage, (op: Operation, out: OpOutcome) => {
    const imageId = (op.payload as { image_id: string }).image_id;
    ctx.repo.updateVolume(op.resource_id!, { status: 'available' }, ['uploading']);
    const img = ctx.facades.images?.get(null, imageId);
    if (img && (img.status === 'queued' || img.status === 'saving')) {
      const why = out.ok ? 'the host reported the upload done but the image has no data' : out.error.message;
      ctx.facades.images?.kill(imageId, why);
      ctx.log.warn({ volume: op.resource_id, image: imageId, reason: why }, 'volume upload to image failed');
    }
  });
}
