import { DeleteSnapshot, DeleteVolume } from '../../shared/agent/volume.js';
import { BadRequest } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { must, type VolumeCtx } from './context.js';
import { visibleSnapshot, visibleVolume } from './visible.js';
import { DELETABLE, enqueue } from './agent-ops.js';

const NOT_DELETABLE =
  'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.';

/**
 * DELETE /volumes/{id} (`cascade`) and the os-force_delete action (`force`), as
 * cinder/volume/api.py API.delete: without force the volume must be in a deletable status;
 * never while attached (attach_status attached); without cascade never with snapshots; with
 * cascade the snapshots go first, each in status available or error unless forced (Cinder's
 * volume_has_undeletable_snapshots_filter). The snapshot deletes are sent on the volume's
 * resource, so the agent receives them before the volume's delete.
 */
export function deleteVolume(
  ctx: VolumeCtx,
  auth: AuthContext | null,
  id: string,
  requestId?: string,
  o: { force?: boolean; cascade?: boolean } = {},
): void {
  const v = visibleVolume(ctx, auth, id);
  if (auth)
    must(ctx, o.force ? 'volume_extension:volume_admin_actions:force_delete' : 'volume:delete', auth, {
      project_id: v.project_id,
    });
  const attachments = ctx.repo.attachmentsOf(id);
  const attached = o.force ? attachments.some((a) => a.attach_status === 'attached') : attachments.length > 0;
  if ((!o.force && !DELETABLE.includes(v.status)) || attached) throw new BadRequest(NOT_DELETABLE, 'InvalidVolume');
  const snaps = ctx.repo.snapshotsOf(id);
  if (snaps.length && !o.cascade)
    throw new BadRequest(`Invalid volume: Volume ${id} still has ${snaps.length} dependent snapshots.`, 'InvalidVolume');
  if (o.cascade && !o.force && snaps.some((s) => !['available', 'error'].includes(s.status)))
    throw new BadRequest(NOT_DELETABLE, 'InvalidVolume');
  if (snaps.some((s) => ctx.repo.snapshotBusy(s.id)))
    throw new BadRequest('Invalid snapshot: a volume is being created from it.');
  ctx.db.transaction(() => {
    if (!v.host_id) {
      for (const s of snaps) ctx.repo.deleteSnapshot(s.id);
      ctx.repo.deleteVolume(id);
      return;
    }
    for (const s of snaps) {
      ctx.repo.updateSnapshot(s.id, { status: 'deleting' });
      enqueue(ctx, v.host_id, DeleteSnapshot, { id: s.id } as never, { type: 'volume', id }, requestId);
    }
    ctx.repo.updateVolume(id, { status: 'deleting' });
    enqueue(ctx, v.host_id, DeleteVolume, { id } as never, { type: 'volume', id }, requestId);
  })();
}

/**
 * DELETE /snapshots/{id} and the os-force_delete snapshot action (cinder/volume/api.py
 * delete_snapshot: without force the snapshot must be available or error).
 */
export function deleteSnapshot(
  ctx: VolumeCtx,
  auth: AuthContext | null,
  id: string,
  requestId?: string,
  o: { force?: boolean } = {},
): void {
  const s = visibleSnapshot(ctx, auth, id);
  // null auth: the controller's own cleanup (a failed image of a volume-backed server).
  if (auth)
    must(ctx, o.force ? 'volume_extension:snapshot_admin_actions:force_delete' : 'volume:delete_snapshot', auth, {
      project_id: s.project_id,
    });
  if (!o.force && !['available', 'error', 'error_deleting'].includes(s.status))
    throw new BadRequest(
      `Invalid snapshot: Snapshot status must be available or error and must not be part of a group.`,
      'InvalidSnapshot',
    );
  if (ctx.repo.snapshotBusy(id)) throw new BadRequest('Invalid snapshot: a volume is being created from it.');
  const v = ctx.repo.getVolume(s.volume_id);
  ctx.db.transaction(() => {
    if (!v?.host_id) {
      ctx.repo.deleteSnapshot(id);
      return;
    }
    ctx.repo.updateSnapshot(id, { status: 'deleting' });
    enqueue(ctx, v.host_id, DeleteSnapshot, { id } as never, { type: 'snapshot', id }, requestId);
  })();
}
