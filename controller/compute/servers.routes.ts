import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ctxOf } from '../http/auth.js';
import { background, computeBase, publicBase, type ComputeCtx } from './context.js';
import { serverAction } from './server-actions.service.js';
import { buildInstance } from './server-build.service.js';
import { createServers } from './server-create.service.js';
import {
  deleteMetaItem,
  deleteServer,
  listServers,
  metadataOf,
  setMetadata,
  setMetaItem,
  updateServer,
  visibleServer,
} from './servers.service.js';
import { NotFound } from '../../shared/errors/index.js';
import { serverBrief, serverView, type ViewOpts } from './servers-view.js';
import { mvAtLeast } from './versions.js';

type Q = Record<string, string | undefined>;
type P = { id: string };

const opts = (req: FastifyRequest, ctx: ComputeCtx): ViewOpts => ({
  base: computeBase(req, ctx),
  v: req.computeVersion,
  auth: ctxOf(req),
});

/** /servers (HTTP only; the logic is in servers-*.ts). */
export function serverRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  app.post('/servers', async (req, reply) => {
    const auth = ctxOf(req);
    const r = createServers(ctx, auth, req.body, req.computeVersion, req.id);
    const publicUrl = publicBase(req, ctx);
    for (const i of r.instances)
      background(ctx, `build ${i.id}`, () => buildInstance(ctx, i.id, { auth, requestId: req.id, publicUrl }));
    if (r.returnReservationId) return reply.code(202).send({ reservation_id: r.reservationId });
    const first = r.instances[0]!;
    return reply.code(202).send({
      server: {
        id: first.id,
        links: serverBrief(first, opts(req, ctx)).links,
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: first.security_groups,
        adminPass: r.adminPass,
      },
    });
  });

  const list = (detail: boolean) => async (req: FastifyRequest<{ Querystring: Q }>) => {
    const o = opts(req, ctx);
    const r = listServers(ctx, o.auth, req.query, detail);
    const body: Record<string, unknown> = { servers: r.servers.map((i) => (detail ? serverView(ctx, i, o) : serverBrief(i, o))) };
    if (r.next) {
      const q = new URLSearchParams(
        Object.entries(req.query).filter(([k, v]) => k !== 'marker' && v !== undefined) as Array<[string, string]>,
      );
      q.set('marker', r.next);
      body.servers_links = [{ rel: 'next', href: `${o.base}/v2.1/servers${detail ? '/detail' : ''}?${q.toString()}` }];
    }
    return body;
  };
  app.get('/servers', list(false));
  app.get('/servers/detail', list(true));

  app.get<{ Params: P }>('/servers/:id', async (req) => {
    const o = opts(req, ctx);
    const i = visibleServer(ctx, o.auth, req.params.id);
    ctx.policy.enforce('os_compute_api:servers:show', o.auth, { project_id: i.project_id });
    return { server: serverView(ctx, i, o) };
  });

  app.put<{ Params: P }>('/servers/:id', async (req) => {
    const o = opts(req, ctx);
    return { server: serverView(ctx, updateServer(ctx, o.auth, req.params.id, req.body), o) };
  });

  app.delete<{ Params: P }>('/servers/:id', async (req, reply) => {
    deleteServer(ctx, ctxOf(req), req.params.id, req.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/servers/:id/action', async (req, reply) => {
    const auth = ctxOf(req);
    const r = await serverAction(
      ctx,
      {
        auth,
        requestId: req.id,
        publicUrl: publicBase(req, ctx),
        imageApiVersionAtLeast245: mvAtLeast(req.computeVersion, '2.45'),
        version: req.computeVersion,
      },
      req.params.id,
      req.body,
    );
    if (r.headers) for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
    reply.code(r.status);
    if (r.showServer) return reply.send({ server: serverView(ctx, ctx.servers.get(req.params.id)!, opts(req, ctx)) });
    return r.body === undefined ? reply.send() : reply.send(r.body);
  });

  app.get<{ Params: P }>('/servers/:id/metadata', async (req) => ({ metadata: metadataOf(ctx, ctxOf(req), req.params.id) }));
  app.put<{ Params: P }>('/servers/:id/metadata', async (req) => ({
    metadata: setMetadata(ctx, ctxOf(req), req.params.id, req.body, true),
  }));
  app.post<{ Params: P }>('/servers/:id/metadata', async (req) => ({
    metadata: setMetadata(ctx, ctxOf(req), req.params.id, req.body, false),
  }));
  app.get<{ Params: P & { key: string } }>('/servers/:id/metadata/:key', async (req) => {
    const md = metadataOf(ctx, ctxOf(req), req.params.id);
    if (!Object.hasOwn(md, req.params.key)) throw new NotFound('Metadata item was not found');
    return { meta: { [req.params.key]: md[req.params.key] } };
  });
  app.put<{ Params: P & { key: string } }>('/servers/:id/metadata/:key', async (req) => ({
    meta: setMetaItem(ctx, ctxOf(req), req.params.id, req.params.key, req.body),
  }));
  app.delete<{ Params: P & { key: string } }>('/servers/:id/metadata/:key', async (req, reply) => {
    deleteMetaItem(ctx, ctxOf(req), req.params.id, req.params.key);
    return reply.code(204).send();
  });
}
