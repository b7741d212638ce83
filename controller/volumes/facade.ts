import { HostsRepo } from '../agents/hosts.repo.js';
import { BadRequest, CloudError, Conflict, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { VolumeFacade, VolumeInfo } from '../facades.js';
import {
  complete,
  connect,
  connectorFromApi,
  removeAttachment,
  reserveAndConnect,
  reserveForMove,
  rollbackMove,
} from './attachments.service.js';
import type { VolumeCtx } from './context.js';
import { hostAddress } from './hosts.service.js';
import type { VolumeRow } from './volumes.repo.js';
import { createVolume, deleteVolume } from './volumes.service.js';

function info(ctx: VolumeCtx, v: VolumeRow): VolumeInfo {
  const host = v.host_id ? (new HostsRepo(ctx.db).find(v.host_id)?.name ?? null) : null;
  return {
    id: v.id,
    name: v.name,
    status: v.status,
    size: v.size,
    project_id: v.project_id,
    bootable: v.bootable === 1,
    host,
    attachments: ctx.repo
      .attachmentsOf(v.id)
      .filter((a) => a.attach_status === 'attached')
      .map((a) => ({ server_id: a.instance_uuid ?? '', attachment_id: a.id, device: a.mountpoint, host_name: a.attached_host })),
  };
}

/** Waits (polling the row) until a volume leaves its transitional status. */
async function waitSettled(ctx: VolumeCtx, id: string, timeoutMs: number): Promise<VolumeRow | null> {
  const t0 = Date.now();
  for (;;) {
    const v = ctx.repo.getVolume(id);
    if (!v || !['creating', 'downloading'].includes(v.status)) return v;
    if (Date.now() - t0 > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What compute uses (controller/facades.ts VolumeFacade). */
export function createVolumeFacade(ctx: VolumeCtx): VolumeFacade {
  return {
    get(auth: AuthContext | null, id: string) {
      const v = ctx.repo.getVolume(id);
      if (!v || (auth && !auth.isAdmin && auth.projectId !== v.project_id)) return null;
      return info(ctx, v);
    },

    async createForServer(auth, req) {
      const row = createVolume(ctx, auth, { volume: { size: req.size, imageRef: req.imageId ?? null, name: req.name ?? '' } });
      const v = await waitSettled(ctx, row.id, 3_600_000);
      if (!v) throw new NotFound(`Volume ${row.id} disappeared while being created.`);
      if (v.status !== 'available')
        throw new Conflict(
          `Volume ${v.id} did not become available (${v.status}${v.reason ? `: ${v.reason}` : ''}).`,
          'VolumeCreateFailed',
        );
      return info(ctx, v);
    },

    async attach(auth, volumeId, req) {
      const v = ctx.repo.getVolume(volumeId);
      if (!v || (auth && !auth.isAdmin && auth.projectId !== v.project_id))
        throw new NotFound(`Volume ${volumeId} could not be found.`, 'VolumeNotFound');
      if (!/^(iqn|eui|naa)\./.test(req.initiator)) throw new BadRequest(`bad initiator ${req.initiator}`);
      const connector = connectorFromApi({ initiator: req.initiator, ip: hostAddress(ctx, req.host) ?? null });
      const { attachment, connection } = await reserveAndConnect(ctx, v, { instance: req.serverId, host: req.host, connector });
      if (req.device) ctx.repo.updateAttachment(attachment.id, { mountpoint: req.device });
      return { attachmentId: attachment.id, connection };
    },

    async attachForMove(volumeId, req) {
      const v = ctx.repo.getVolume(volumeId);
      if (!v) throw new NotFound(`Volume ${volumeId} could not be found.`, 'VolumeNotFound');
      if (!/^(iqn|eui|naa)\./.test(req.initiator)) throw new BadRequest(`bad initiator ${req.initiator}`);
      const connector = connectorFromApi({ initiator: req.initiator, ip: hostAddress(ctx, req.host) ?? null });
      const a = reserveForMove(ctx, v, { instance: req.serverId, host: req.host });
      try {
        const connection = await connect(ctx, a, connector);
        if (req.device) ctx.repo.updateAttachment(a.id, { mountpoint: req.device });
        return { attachmentId: a.id, connection };
      } catch (e) {
        await rollbackMove(ctx, a);
        throw e;
      }
    },

    attachComplete(attachmentId, device) {
      complete(ctx, attachmentId, device);
    },

    async detach(attachmentId) {
      await removeAttachment(ctx, attachmentId);
    },

    async delete(volumeId) {
      try {
        deleteVolume(ctx, null, volumeId);
      } catch (e) {
        if (e instanceof CloudError && e.status === 404) return;
        throw e;
      }
    },
  };
}
