import type { BackupRow } from './backups.repo.js';
import type { VolumeCtx } from './context.js';
import { ct, links } from './view.js';

/** Cinder's backup detail view (cinder/api/views/backups.py) at 3.0. */
export function backupView(ctx: VolumeCtx, b: BackupRow, base: string): Record<string, unknown> {
  return {
    id: b.id,
    status: b.status,
    size: b.size,
    object_count: b.object_count,
    availability_zone: b.availability_zone,
    container: b.container,
    created_at: ct(b.created_at),
    updated_at: ct(b.updated_at),
    name: b.name,
    description: b.description,
    fail_reason: b.fail_reason,
    volume_id: b.volume_id,
    links: links(base, b.project_id, 'backups', b.id),
    is_incremental: b.parent_id !== null,
    has_dependent_backups: ctx.backups.children(b.id).length > 0,
    snapshot_id: b.snapshot_id,
    data_timestamp: ct(b.data_timestamp),
  };
}

export function backupSummary(b: BackupRow, base: string): Record<string, unknown> {
  return { id: b.id, name: b.name, links: links(base, b.project_id, 'backups', b.id) };
}
