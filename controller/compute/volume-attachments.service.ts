import { Type } from 'typebox';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { background, must, type ComputeCtx } from './context.js';
import { messageOf, type HostRef } from './host-gateway.js';
import { initiatorOf } from './hosts.repo.js';
import type { Instance } from './servers.repo.js';
import { checkNotLocked, visibleServer } from './servers.service.js';
import { validate } from '../http/validate.js';

const AttachBody = Type.Object(
  {
    volumeAttachment: Type.Object(
      {
        volumeId: Type.String({ minLength: 1 }),
        device: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        tag: Type.Optional(Type.String()),
        delete_on_termination: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export const attachmentView = (i: Instance, b: { volume_id: string; device_name?: string | null }) => ({
  id: b.volume_id,
  serverId: i.id,
  volumeId: b.volume_id,
  device: b.device_name ?? null,
});

export const bdmsOf = (ctx: ComputeCtx, id: string) => ctx.servers.volumes(id);

/** The next free guest device (vda is the root disk). */
function nextDevice(used: Array<string | null>): string {
  for (let c = 98; c < 123; c++) {
    const d = `/dev/vd${String.fromCharCode(c)}`;
    if (!used.includes(d)) return d;
  }
  throw new BadRequest('No free device name is left on this server.');
}

/** POST /servers/{id}/os-volume_attachments: reserve + export now, hot-plug in the background. */
export async function attachVolume(ctx: ComputeCtx, auth: AuthContext, id: string, body: unknown, requestId: string) {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:os-volumes-attachments:create', auth, { project_id: i.project_id });
  checkNotLocked(ctx, auth, i);
  const va = validate(AttachBody, body).volumeAttachment;
  const volumes = ctx.facades.volumes;
  if (!volumes) throw new Conflict('Block storage is not available.');
  const vol = volumes.get(auth, va.volumeId);
  if (!vol) throw new NotFound(`Volume ${va.volumeId} could not be found.`, 'VolumeNotFound');
  if (!['active', 'stopped', 'paused'].includes(i.vm_state) || i.task_state !== null || !i.host_id || !i.host) {
    throw new Conflict(`Cannot 'attach_volume' instance ${i.id} while it is in vm_state ${i.vm_state}`, 'InstanceInvalidState');
  }
  const have = bdmsOf(ctx, i.id);
  if (have.some((b) => b.volume_id === vol.id))
    throw new BadRequest(`Invalid volume: volume ${vol.id} is already attached to instance ${i.id}.`);
  if (vol.status !== 'available')
    throw new BadRequest(`Invalid volume: volume ${vol.id} status must be available, but current status is: ${vol.status}.`);
  const device = nextDevice(have.map((b) => b.device_name));
  const host: HostRef = { id: i.host_id, name: i.host };
  const { attachmentId, connection } = await volumes.attach(auth, vol.id, {
    serverId: i.id,
    host: host.name,
    initiator: initiatorOf(ctx.hosts, host.id),
    device,
  });
  ctx.servers.addVolume(
    i.id,
    {
      volume_id: vol.id,
      device_name: device,
      boot_index: null,
      delete_on_termination: va.delete_on_termination ?? false,
      attachment_id: attachmentId,
    },
    ctx.now().toISOString(),
  );
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'attach_volume',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  background(ctx, `attach ${vol.id} to ${i.id}`, async () => {
    try {
      const dev = await ctx.gateway.attachVolume(host, i.id, vol.id, connection, device, requestId);
      const d = dev.startsWith('/dev/') ? dev : `/dev/${dev}`;
      ctx.servers.setVolumeDevice(i.id, vol.id, d);
      volumes.attachComplete(attachmentId, d);
      ctx.actions.event(action, 'compute_attach_volume', true, undefined, host.name);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.event(action, 'compute_attach_volume', false, messageOf(e), host.name);
      ctx.actions.finish(action, 'Error');
      ctx.servers.removeVolume(i.id, vol.id);
      await volumes
        .detach(attachmentId)
        .catch((err) => ctx.log.warn({ err, volume: vol.id }, 'could not undo a failed attachment'));
    }
  });
  return attachmentView(i, { volume_id: vol.id, device_name: device });
}

/** DELETE /servers/{id}/os-volume_attachments/{volume}: 202, unplug then detach in the background. */
export function detachVolume(ctx: ComputeCtx, auth: AuthContext, id: string, volumeId: string, requestId: string): void {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:os-volumes-attachments:delete', auth, { project_id: i.project_id });
  checkNotLocked(ctx, auth, i);
  const b = bdmsOf(ctx, i.id).find((x) => x.volume_id === volumeId);
  if (!b) throw new NotFound(`Volume ${volumeId} is not attached to instance ${i.id}.`, 'VolumeBDMNotFound');
  if (b.boot_index === 0) throw new BadRequest("Can't detach root device volume");
  const volumes = ctx.facades.volumes;
  if (!volumes) throw new Conflict('Block storage is not available.');
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'detach_volume',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  background(ctx, `detach ${volumeId} from ${i.id}`, async () => {
    try {
      if (i.host_id && i.host) await ctx.gateway.detachVolume({ id: i.host_id, name: i.host }, i.id, volumeId, requestId);
      if (b.attachment_id) await volumes.detach(b.attachment_id);
      ctx.servers.removeVolume(i.id, volumeId);
      ctx.actions.event(action, 'compute_detach_volume', true, undefined, i.host);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.event(action, 'compute_detach_volume', false, messageOf(e), i.host);
      ctx.actions.finish(action, 'Error');
    }
  });
}
