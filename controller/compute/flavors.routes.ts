import type { FastifyInstance } from 'fastify';
import { NotFound } from '../../shared/errors/index.js';
import { ctxOf } from '../http/auth.js';
import { computeBase, must, type ComputeCtx } from './context.js';
import {
  accessList,
  addOrRemoveAccess,
  createFlavor,
  deleteFlavor,
  flavorView,
  listFlavors,
  setExtraSpecs,
  visibleFlavor,
} from './flavors.service.js';

type Q = Record<string, string | undefined>;
type P = { id: string; key?: string };

/** /flavors, os-extra_specs, os-flavor-access (HTTP only). */
export function flavorRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  app.get<{ Querystring: Q }>('/flavors', async (req) => {
    const fs = listFlavors(ctx, ctxOf(req), req.query);
    return { flavors: fs.map((f) => flavorView(ctx, f, computeBase(req, ctx), req.computeVersion, false)) };
  });
  app.get<{ Querystring: Q }>('/flavors/detail', async (req) => {
    const fs = listFlavors(ctx, ctxOf(req), req.query);
    return { flavors: fs.map((f) => flavorView(ctx, f, computeBase(req, ctx), req.computeVersion)) };
  });
  app.get<{ Params: P }>('/flavors/:id', async (req) => ({
    flavor: flavorView(ctx, visibleFlavor(ctx, ctxOf(req), req.params.id), computeBase(req, ctx), req.computeVersion),
  }));
  app.post('/flavors', async (req) => ({
    flavor: flavorView(ctx, createFlavor(ctx, ctxOf(req), req.body), computeBase(req, ctx), req.computeVersion),
  }));
  app.delete<{ Params: P }>('/flavors/:id', async (req, reply) => {
    deleteFlavor(ctx, ctxOf(req), req.params.id);
    return reply.code(202).send();
  });

  app.get<{ Params: P }>('/flavors/:id/os-extra_specs', async (req) => {
    const auth = ctxOf(req);
    must(ctx, 'os_compute_api:os-flavor-extra-specs:index', auth);
    visibleFlavor(ctx, auth, req.params.id);
    return { extra_specs: ctx.flavors.extraSpecs(req.params.id) };
  });
  app.post<{ Params: P }>('/flavors/:id/os-extra_specs', async (req) => ({
    extra_specs: setExtraSpecs(ctx, ctxOf(req), req.params.id, req.body),
  }));
  app.get<{ Params: P }>('/flavors/:id/os-extra_specs/:key', async (req) => {
    const auth = ctxOf(req);
    must(ctx, 'os_compute_api:os-flavor-extra-specs:show', auth);
    visibleFlavor(ctx, auth, req.params.id);
    const specs = ctx.flavors.extraSpecs(req.params.id);
    const key = req.params.key!;
    if (!Object.hasOwn(specs, key)) throw new NotFound(`Flavor ${req.params.id} has no extra specs with key ${key}.`);
    return { [key]: specs[key] };
  });
  app.put<{ Params: P }>('/flavors/:id/os-extra_specs/:key', async (req) =>
    setExtraSpecs(ctx, ctxOf(req), req.params.id, req.body, req.params.key),
  );
  app.delete<{ Params: P }>('/flavors/:id/os-extra_specs/:key', async (req, reply) => {
    const auth = ctxOf(req);
    must(ctx, 'os_compute_api:os-flavor-extra-specs:delete', auth);
    if (!ctx.flavors.get(req.params.id)) throw new NotFound(`Flavor ${req.params.id} could not be found.`);
    if (!ctx.flavors.deleteExtraSpec(req.params.id, req.params.key!)) {
      throw new NotFound(`Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
    }
    return reply.code(200).send();
  });

  app.get<{ Params: P }>('/flavors/:id/os-flavor-access', async (req) => ({
    flavor_access: accessList(ctx, ctxOf(req), req.params.id),
  }));
  app.post<{ Params: P }>('/flavors/:id/action', async (req) => ({
    flavor_access: addOrRemoveAccess(ctx, ctxOf(req), req.params.id, req.body),
  }));
}
