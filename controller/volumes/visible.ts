import { NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { VolumeCtx } from './context.js';
import type { SnapshotRow, VolumeRow } from './volumes.repo.js';

/** The volume if ctx may see it (own project, or admin); 404 otherwise (no existence leak). */
export function visibleVolume(ctx: VolumeCtx, auth: AuthContext | null, id: string): VolumeRow {
  const v = ctx.repo.getVolume(id);
  if (!v || (auth && !auth.isAdmin && auth.projectId !== v.project_id))
    throw new NotFound(`Volume ${id} could not be found.`, 'VolumeNotFound');
  return v;
}

export function visibleSnapshot(ctx: VolumeCtx, auth: AuthContext | null, id: string): SnapshotRow {
  const s = ctx.repo.getSnapshot(id);
  if (!s || (auth && !auth.isAdmin && auth.projectId !== s.project_id))
    throw new NotFound(`Snapshot ${id} could not be found.`, 'SnapshotNotFound');
  return s;
}
