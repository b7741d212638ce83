import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound, UnsupportedMediaType } from '../../shared/errors/index.js';
import { authHook, ctxOf, type TokenValidator } from '../http/auth.js';
import { uploadBody } from './body.js';
import type { ImageImport } from './image-import.service.js';
import { taskView } from './image-import.service.js';
import type { ImageStoreRemoval } from './store-removal.service.js';

export interface ImageImportRouteDeps {
  validator: TokenValidator;
  importer: ImageImport;
  removal: ImageStoreRemoval;
}

type IdParams = { Params: { id: string } };

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

/**
 * HTTP only (house style 3.1): the interoperable import (v2.6), stores (v2.8, v2.10)
 * and the image's tasks (v2.12). Registered in the image plugin after
 * registerImageRoutes, whose octet-stream parser the stage route uses.
 */
export function registerImageImportRoutes(app: FastifyInstance, d: ImageImportRouteDeps): void {
  const auth = authHook(d.validator);
  const pre = { preHandler: auth };

  app.get('/v2/info/import', pre, async () => d.importer.info());
  app.get('/v2/info/stores', pre, async () => d.importer.storesInfo());

  // Glance's deserializer answers these before anything reads the body.
  const stageable = async (req: FastifyRequest) => {
    if (!d.importer.methods().includes('glance-direct'))
      throw new NotFound("'glance-direct' method is not available at this site.");
    if ((req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/octet-stream')
      throw new UnsupportedMediaType('Unsupported Content-Type: image data must be sent as application/octet-stream');
  };
  app.put<IdParams>('/v2/images/:id/stage', { onRequest: [auth, stageable] }, async (req, reply) => {
    const cl = req.headers['content-length'];
    const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    const body = uploadBody(req.raw);
    try {
      await d.importer.stage(ctxOf(req), req.params.id, body, length);
    } finally {
      body.destroy();
    }
    return reply.status(204).send();
  });

  app.post<IdParams>('/v2/images/:id/import', pre, async (req, reply) => {
    await d.importer.start(ctxOf(req), req.params.id, req.body, {
      requestId: String(req.id),
      storeHeader: header(req, 'x-image-meta-store'),
    });
    return reply.status(202).send();
  });

  app.get<IdParams>('/v2/images/:id/tasks', pre, async (req) => ({
    tasks: d.importer.tasksOf(ctxOf(req), req.params.id).map(taskView),
  }));

  app.delete<{ Params: { store: string; id: string } }>('/v2/stores/:store/:id', pre, async (req, reply) => {
    await d.removal.deleteFromStore(ctxOf(req), req.params.store, req.params.id);
    return reply.status(204).send();
  });
}
