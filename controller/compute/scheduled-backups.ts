import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { publicBase, type ComputeCtx } from './context.js';
import { serverAction } from './server-actions.service.js';

/**
 * Server runs of the backup schedules (issue 18, item 3): Nova's createBackup through
 * serverAction, the very path of POST /servers/{id}/action (policy, state checks, the
 * queued image, the agent's upload, then _rotate_backups keeping the newest `rotation`
 * images of this backup_type). `openstack server backup create --type T --rotate N`.
 */
export async function startServerBackup(
  ctx: ComputeCtx,
  auth: AuthContext,
  serverId: string,
  b: { name: string; type: string; rotation: number },
): Promise<{ imageId: string; requestId: string }> {
  const requestId = `req-${newUuid()}`;
  const r = await serverAction(
    ctx,
    // 2.45's answer, {"image_id"}: the image id without parsing a Location header.
    { auth, requestId, publicUrl: publicBase(null, ctx), imageApiVersionAtLeast245: true },
    serverId,
    { createBackup: { name: b.name, backup_type: b.type, rotation: b.rotation } },
  );
  const imageId = (r.body as { image_id?: string } | undefined)?.image_id;
  if (!imageId) throw new Error(`createBackup of server ${serverId} answered ${r.status} without an image id`);
  return { imageId, requestId };
}

export type BackupOutcome = { state: 'running' } | { state: 'ok' } | { state: 'error'; reason: string };

const IMAGE_PENDING = new Set(['queued', 'saving', 'importing', 'uploading']);

/**
 * How a server run ended: its image active (ok), still being written (running), or
 * killed/gone (error, with the reason the createBackup instance action recorded).
 */
export function serverBackupOutcome(ctx: ComputeCtx, serverId: string, imageId: string, requestId: string | null): BackupOutcome {
  const img = ctx.facades.images?.get(null, imageId) ?? null;
  if (img && IMAGE_PENDING.has(img.status)) return { state: 'running' };
  if (img?.status === 'active') return { state: 'ok' };
  const action = requestId ? ctx.actions.byRequest(serverId, requestId) : null;
  const failed = action ? ctx.actions.events(action.id).find((e) => e.result === 'Error') : undefined;
  const why = failed?.details ?? action?.message ?? null;
  const what = img ? `the backup image ${imageId} is ${img.status}` : `the backup image ${imageId} is gone`;
  return { state: 'error', reason: why ? `${what}: ${why}` : what };
}
