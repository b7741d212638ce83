import type { CreateSnapshot, CreateVolume, DeleteSnapshot, DeleteVolume, ExtendVolume } from '../../shared/agent/volume.js';
import type { VolumeCtx } from './context.js';

/** The statuses from which a volume may be deleted (Cinder's volume API delete checks). */
export const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

/** Queues one volume operation for a host's agent through the durable dispatcher. */
export function enqueue(
  ctx: VolumeCtx,
  hostId: string,
  route: typeof CreateVolume | typeof DeleteVolume | typeof ExtendVolume | typeof CreateSnapshot | typeof DeleteSnapshot,
  body: never,
  resource: { type: string; id: string },
  requestId?: string,
): void {
  if (!ctx.layer) throw new Error('the agent layer is not wired');
  ctx.layer.dispatcher.enqueue({ hostId, route, body, resource, requestId });
}
