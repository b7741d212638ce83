import { BadRequest } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { must, type VolumeCtx } from './context.js';
import { visibleSnapshot } from './volumes.service.js';

/** The transitions os-update_snapshot_status allows (cinder/api/contrib/snapshot_actions.py status_map). */
const UPDATE_STATUS_MAP: Record<string, string[]> = {
  creating: ['creating', 'available', 'error'],
  deleting: ['deleting', 'error_deleting'],
};

/**
 * POST /snapshots/{id}/action {"os-update_snapshot_status": {"status", "progress"?}}, as
 * Cinder's SnapshotActionsController._update_snapshot_status: meant for the service that
 * makes the snapshot (Nova's assisted snapshots), so only from creating or deleting, to the
 * statuses above; `progress` an integer percentage string ("80%"), stored and shown as
 * os-extended-snapshot-attributes:progress. Policy
 * snapshot_extension:snapshot_actions:update_snapshot_status (Cinder's default: any caller
 * who can see the snapshot). 202 without a body.
 */
export function updateSnapshotStatus(ctx: VolumeCtx, auth: AuthContext, id: string, body: unknown): void {
  const s = visibleSnapshot(ctx, auth, id);
  must(ctx, 'snapshot_extension:snapshot_actions:update_snapshot_status', auth, { project_id: s.project_id });
  const b = (body && typeof body === 'object' ? body : {}) as { status?: unknown; progress?: unknown };
  if (typeof b.status !== 'string') throw new BadRequest("'status' must be specified.");
  const allowed = UPDATE_STATUS_MAP[s.status];
  if (!allowed) throw new BadRequest(`Snapshot status ${s.status} not allowed for update_snapshot_status`);
  if (!allowed.includes(b.status))
    throw new BadRequest(`Provided snapshot status ${b.status} not allowed for snapshot with status ${s.status}.`);
  let progress: string | undefined;
  if (b.progress !== undefined && b.progress !== null && b.progress !== '') {
    const p = String(b.progress);
    const n = /^-?\d+%$/.test(p) ? Number(p.slice(0, -1)) : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new BadRequest('progress must be an integer percentage');
    progress = p;
  }
  if (!ctx.repo.updateSnapshot(s.id, { status: b.status, progress }, [s.status]))
    throw new BadRequest(`Snapshot status ${s.status} not allowed for update_snapshot_status`);
}
