import { randomBytes } from 'node:crypto';
import {
  InitializeConnection,
  SyncConnections,
  TerminateConnection,
  type ChapAuth,
  type Connector,
} from '../../shared/agent/volume.js';
import { BadRequest, CloudError, Conflict, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import { AgentError, AgentUnavailable } from '../agents/index.js';
import type { IscsiConnectionInfo } from '../../shared/agent/compute.js';
import type { VolumeCtx } from './context.js';
import { volumeHosts } from './hosts.service.js';
import type { AttachmentRow, VolumeRow } from './volumes.repo.js';

/**
 * Attachments (Cinder's attachment API flow, which Nova's attach uses):
 * reserve (row `reserved`, volume `attaching`) → connect (the volume host exports the
 * volume for the compute host's initiator with this attachment's CHAP credentials) →
 * complete (row `attached`, volume `in-use`). Removing one revokes the credentials on
 * the volume host and frees the volume. Any failure before `complete` removes the row
 * and puts the volume back to `available` (never half-attached).
 */

const credentialsOf = (a: AttachmentRow): ChapAuth => ({ username: a.chap_username, password: a.chap_password });
const connectorOf = (a: AttachmentRow): Connector | null => (a.connector ? (JSON.parse(a.connector) as Connector) : null);

/** Sets the volume's status from its remaining attachments. */
function settleStatus(ctx: VolumeCtx, volumeId: string): void {
  const rows = ctx.repo.attachmentsOf(volumeId);
  const status = rows.some((a) => a.attach_status === 'attached')
    ? 'in-use'
    : rows.some((a) => a.attach_status === 'detaching')
      ? 'detaching'
      : rows.length
        ? 'attaching'
        : 'available';
  ctx.repo.updateVolume(volumeId, { status, ...(status === 'available' ? { reason: null } : {}) });
}

export function reserve(
  ctx: VolumeCtx,
  v: VolumeRow,
  o: { instance: string | null; host?: string | null; mode?: 'rw' | 'ro' },
): AttachmentRow {
  if (o.instance && ctx.repo.attachmentsOf(v.id).some((a) => a.instance_uuid === o.instance)) {
    throw new BadRequest(`Invalid volume: volume ${v.id} is already attached to instance ${o.instance}.`, 'InvalidVolume');
  }
  if (v.status !== 'available') {
    throw new BadRequest(
      `Invalid volume: Volume ${v.id} status must be available or downloading to reserve, but the current status is ${v.status}.`,
      'InvalidVolume',
    );
  }
  if (!v.host_id) throw new BadRequest(`Invalid volume: Volume ${v.id} has no host.`, 'InvalidVolume');
  const id = newUuid();
  let row!: AttachmentRow;
  ctx.db.transaction(() => {
    if (!ctx.repo.updateVolume(v.id, { status: 'attaching' }, ['available']))
      throw new BadRequest(`Invalid volume: Volume ${v.id} status must be available to reserve.`, 'InvalidVolume');
    row = ctx.repo.insertAttachment({
      id,
      volume_id: v.id,
      instance_uuid: o.instance,
      attached_host: o.host ?? null,
      connector: null,
      chap_username: `hs-${id}`,
      chap_password: randomBytes(16).toString('hex'),
      mountpoint: null,
      attach_mode: o.mode ?? 'rw',
      attach_status: 'reserved',
      attached_at: null,
    });
  })();
  return row;
}

/**
 * A second attachment for a server the volume is already attached to, on the host the
 * server moves to (Cinder lets Nova create one for a migration's destination): the
 * volume keeps its status; the row is `reserved` until connected and completed.
 */
export function reserveForMove(ctx: VolumeCtx, v: VolumeRow, o: { instance: string; host: string }): AttachmentRow {
  const mine = ctx.repo.attachmentsOf(v.id).filter((a) => a.instance_uuid === o.instance);
  if (!mine.length)
    throw new BadRequest(`Invalid volume: volume ${v.id} is not attached to instance ${o.instance}.`, 'InvalidVolume');
  if (!v.host_id) throw new BadRequest(`Invalid volume: Volume ${v.id} has no host.`, 'InvalidVolume');
  const id = newUuid();
  return ctx.repo.insertAttachment({
    id,
    volume_id: v.id,
    instance_uuid: o.instance,
    attached_host: o.host,
    connector: null,
    chap_username: `hs-${id}`,
    chap_password: randomBytes(16).toString('hex'),
    mountpoint: mine[0]!.mountpoint,
    attach_mode: mine[0]!.attach_mode,
    attach_status: 'reserved',
    attached_at: null,
  });
}

/** Undo of a move's attachment that never completed: revoke it, drop the row, the volume keeps its other attachments. */
export async function rollbackMove(ctx: VolumeCtx, a: AttachmentRow): Promise<void> {
  const cur = ctx.repo.getAttachment(a.id);
  if (!cur) return;
  const c = connectorOf(cur);
  const v = ctx.repo.getVolume(cur.volume_id);
  if (c && v?.host_id && ctx.layer)
    ctx.layer.dispatcher.enqueue({
      hostId: v.host_id,
      route: TerminateConnection,
      body: { id: v.id, connector: c, auth: credentialsOf(cur) },
      resource: { type: 'volume', id: v.id },
    });
  ctx.db.transaction(() => {
    ctx.repo.deleteAttachment(a.id);
    settleStatus(ctx, cur.volume_id);
  })();
}

function agentMessage(e: unknown): string {
  if (e instanceof AgentError) return `${e.agentCode}: ${e.message}`;
  return (e as Error).message;
}

/** Export for this connector (synchronous, through the durable dispatcher). */
export async function connect(ctx: VolumeCtx, a: AttachmentRow, c: Connector, requestId?: string): Promise<IscsiConnectionInfo> {
  const v = ctx.repo.getVolume(a.volume_id);
  if (!v?.host_id || !ctx.layer) throw new Conflict(`Volume ${a.volume_id} has no volume host.`);
  ctx.repo.updateAttachment(a.id, {
    connector: JSON.stringify(c),
    attach_status: a.attach_status === 'reserved' ? 'attaching' : a.attach_status,
  });
  const reply = await ctx.layer.dispatcher.send(
    {
      hostId: v.host_id,
      route: InitializeConnection,
      body: { id: v.id, connector: c, auth: credentialsOf(a) },
      resource: { type: 'volume', id: v.id },
      requestId,
    },
    { waitMs: ctx.config.volume.operation_wait_s * 1000 },
  );
  return reply.connection;
}

/** Undo of a reservation that never completed: revoke what may have been granted, drop the row, volume available. */
export async function rollback(ctx: VolumeCtx, a: AttachmentRow, why: string): Promise<void> {
  const cur = ctx.repo.getAttachment(a.id);
  if (!cur) return;
  const c = connectorOf(cur);
  const v = ctx.repo.getVolume(cur.volume_id);
  if (c && v?.host_id && ctx.layer) {
    // Durable: delivered even if the volume host is down now.
    ctx.layer.dispatcher.enqueue({
      hostId: v.host_id,
      route: TerminateConnection,
      body: { id: v.id, connector: c, auth: credentialsOf(cur) },
      resource: { type: 'volume', id: v.id },
    });
  }
  ctx.db.transaction(() => {
    ctx.repo.deleteAttachment(a.id);
    settleStatus(ctx, cur.volume_id);
    ctx.repo.updateVolume(cur.volume_id, { reason: `attach failed: ${why}`.slice(0, 1000) });
  })();
}

/** reserve + connect, rolled back on failure (the facade's attach and attachment create with a connector). */
export async function reserveAndConnect(
  ctx: VolumeCtx,
  v: VolumeRow,
  o: { instance: string | null; host: string | null; connector: Connector; mode?: 'rw' | 'ro'; requestId?: string },
): Promise<{ attachment: AttachmentRow; connection: IscsiConnectionInfo }> {
  const a = reserve(ctx, v, { instance: o.instance, host: o.host, mode: o.mode });
  try {
    const connection = await connect(ctx, a, o.connector, o.requestId);
    return { attachment: ctx.repo.getAttachment(a.id)!, connection };
  } catch (e) {
    await rollback(ctx, a, agentMessage(e));
    if (e instanceof CloudError && e.status < 500) throw e;
    if (e instanceof AgentUnavailable) throw e;
    throw new Conflict(
      `Unable to export volume ${v.id} for the connector: ${agentMessage(e)}`.slice(0, 500),
      'VolumeExportFailed',
    );
  }
}

export function complete(ctx: VolumeCtx, attachmentId: string, mountpoint: string | null): void {
  const a = ctx.repo.getAttachment(attachmentId);
  if (!a) throw new NotFound(`Attachment ${attachmentId} could not be found.`, 'VolumeAttachmentNotFound');
  ctx.db.transaction(() => {
    ctx.repo.updateAttachment(a.id, {
      attach_status: 'attached',
      mountpoint: mountpoint ?? a.mountpoint,
      attached_at: ctx.now().toISOString(),
    });
    ctx.repo.updateVolume(a.volume_id, { status: 'in-use', reason: null });
  })();
}

/**
 * Removes an attachment: revoke its credentials on the volume host (durable), drop the
 * row, the volume becomes available (or stays in-use for other attachments). A
 * refusal by the agent leaves the volume `error_detaching` with the reason.
 */
export async function removeAttachment(ctx: VolumeCtx, attachmentId: string, requestId?: string): Promise<void> {
  const a = ctx.repo.getAttachment(attachmentId);
  if (!a) return;
  const v = ctx.repo.getVolume(a.volume_id);
  const c = connectorOf(a);
  ctx.repo.updateAttachment(a.id, { attach_status: 'detaching' });
  ctx.repo.updateVolume(a.volume_id, { status: 'detaching' });
  if (c && v?.host_id && ctx.layer) {
    try {
      await ctx.layer.dispatcher.send(
        {
          hostId: v.host_id,
          route: TerminateConnection,
          body: { id: v.id, connector: c, auth: credentialsOf(a) },
          resource: { type: 'volume', id: v.id },
          requestId,
        },
        { waitMs: ctx.config.volume.operation_wait_s * 1000 },
      );
    } catch (e) {
      if (!(e instanceof AgentUnavailable)) {
        ctx.repo.updateAttachment(a.id, { attach_status: 'error_detaching' });
        ctx.repo.updateVolume(a.volume_id, {
          status: 'error_detaching',
          reason: `detach failed: ${agentMessage(e)}`.slice(0, 1000),
        });
        throw e;
      }
      // Still queued: it is delivered when the host answers; the guest no longer uses the volume.
      ctx.log.warn({ volume: a.volume_id, err: (e as Error).message }, 'terminate_connection still queued; freeing the volume');
    }
  }
  ctx.db.transaction(() => {
    ctx.repo.deleteAttachment(a.id);
    settleStatus(ctx, a.volume_id);
  })();
}

/** Every connection a volume host should have (sent when it (re)registers: tgtd forgets). */
export function resyncHost(ctx: VolumeCtx, hostId: string): void {
  if (!ctx.layer || !volumeHosts(ctx).some((h) => h.id === hostId)) return;
  const rows = ctx.repo.connectedOnHost(hostId);
  ctx.layer.dispatcher.enqueue({
    hostId,
    route: SyncConnections,
    body: { connections: rows.map((a) => ({ volume_id: a.volume_id, connector: connectorOf(a)!, auth: credentialsOf(a) })) },
  });
}

export function connectorFromApi(c: { initiator: string; ip?: string | null }): Connector {
  const ip = c.ip && /^[0-9a-fA-F.:]{2,45}$/.test(c.ip) ? c.ip : undefined;
  return { initiator: c.initiator, ...(ip ? { address: ip } : {}) };
}
