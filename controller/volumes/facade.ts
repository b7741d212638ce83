import { HostsRepo } from '../agents/hosts.repo.js';
import { BadRequest, CloudError, Conflict, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { VolumeFacade, VolumeInfo, VolumeSnapshotInfo } from '../facades.js';
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
import type { SnapshotRow, VolumeRow } from './volumes.repo.js';
import { createSnapshot, createVolume, deleteSnapshot, deleteVolume } from './volumes.service.js';

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

function snapInfo(s: SnapshotRow): VolumeSnapshotInfo {
  return { id: s.id, volume_id: s.volume_id, project_id: s.project_id, status: s.status, size: s.size };
}

/** Waits (polling the row) until a snapshot leaves 'creating'. */
async function snapshotSettled(ctx: VolumeCtx, id: string, timeoutMs: number): Promise<SnapshotRow | null> {
  const t0 = Date.now();
  for (;;) {
    const s = ctx.repo.getSnapshot(id);
    if (!s || s.status !== 'creating' || Date.now() - t0 > timeoutMs) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
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
      const volume: Record<string, unknown> = { name: req.name ?? '' };
      if (req.size !== null) volume.size = req.size;
      if (req.snapshotId) volume.snapshot_id = req.snapshotId;
      else volume.imageRef = req.imageId ?? null;
      const row = createVolume(ctx, auth, { volume });
      const v = await waitSettled(ctx, row.id, 3_600_000);
      if (!v) throw new NotFound(`Volume ${row.id} disappeared while being created.`);
      if (v.status !== 'available')
        throw new Conflict(
          `Volume ${v.id} did not become available (${v.status}${v.reason ? `: ${v.reason}` : ''}).`,
          'VolumeCreateFailed',
        );
      return info(ctx, v);
    },

    snapshot(auth, id) {
      const s = ctx.repo.getSnapshot(id);
      if (!s || (auth && !auth.isAdmin && auth.projectId !== s.project_id)) return null;
      return snapInfo(s);
    },

    snapshotForImage(auth, volumeId, name) {
      return snapInfo(createSnapshot(ctx, auth, { snapshot: { volume_id: volumeId, name, force: true } }));
    },

    async snapshotReady(id, timeoutMs = 1_800_000) {
      const s = await snapshotSettled(ctx, id, timeoutMs);
      if (s?.status === 'available') return snapInfo(s);
      throw new Conflict(
        `Snapshot ${id} did not become available (${s?.status ?? 'gone'}${s?.reason ? `: ${s.reason}` : ''}).`,
        'SnapshotCreateFailed',
      );
    },

    async deleteSnapshot(id) {
      try {
        deleteSnapshot(ctx, null, id, undefined, { force: true });
      } catch (e) {
        if (e instanceof CloudError && e.status === 404) return;
        throw e;
      }
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
