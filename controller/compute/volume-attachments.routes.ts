import type { FastifyInstance } from 'fastify';
import { NotFound } from '../../shared/errors/index.js';
import { ctxOf } from '../http/auth.js';
import { must, type ComputeCtx } from './context.js';
import { visibleServer } from './servers.service.js';
import { attachVolume, attachmentView, bdmsOf, detachVolume } from './volume-attachments.service.js';

/** os-volume_attachments: list, show, attach (200 with the attachment), detach (202). */
export function volumeAttachmentRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  app.get<{ Params: { id: string } }>('/servers/:id/os-volume_attachments', async (req) => {
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:os-volumes-attachments:index', auth, { project_id: i.project_id });
    return { volumeAttachments: bdmsOf(ctx, i.id).map((b) => attachmentView(i, b)) };
  });
  app.get<{ Params: { id: string; vol: string } }>('/servers/:id/os-volume_attachments/:vol', async (req) => {
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:os-volumes-attachments:show', auth, { project_id: i.project_id });
    const b = bdmsOf(ctx, i.id).find((x) => x.volume_id === req.params.vol);
    if (!b) throw new NotFound(`Volume ${req.params.vol} is not attached to instance ${i.id}.`, 'VolumeBDMNotFound');
    return { volumeAttachment: attachmentView(i, b) };
  });
  app.post<{ Params: { id: string } }>('/servers/:id/os-volume_attachments', async (req) => ({
    volumeAttachment: await attachVolume(ctx, ctxOf(req), req.params.id, req.body, req.id),
  }));
  app.delete<{ Params: { id: string; vol: string } }>('/servers/:id/os-volume_attachments/:vol', async (req, reply) => {
    detachVolume(ctx, ctxOf(req), req.params.id, req.params.vol, req.id);
    return reply.code(202).send();
  });
}
