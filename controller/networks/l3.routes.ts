import type { FastifyInstance } from 'fastify';
import { FloatingIpCreate, FloatingIpUpdate, RouterCreate, RouterInterface, RouterUpdate } from '../../shared/api/network.js';
import { ctxOf } from '../http/auth.js';
import { check } from './common.js';
import type { Svc } from './context.js';
import { crudRoutes } from './crud.js';
import {
  createFloatingIp,
  deleteFloatingIp,
  floatingIpView,
  getFloatingIp,
  listFloatingIps,
  updateFloatingIp,
} from './floatingips.service.js';
import {
  addInterface,
  createRouter,
  deleteRouter,
  getRouter,
  listRouters,
  removeInterface,
  routerView,
  updateRouter,
} from './routers.service.js';

/** /v2.0/routers (with the interface actions) and /v2.0/floatingips. */
export function l3Routes(app: FastifyInstance, s: Svc): void {
  crudRoutes(app, {
    plural: 'routers',
    singular: 'router',
    list: (ctx) => listRouters(s, ctx).map((r) => routerView(s, r)),
    show: (ctx, id) => routerView(s, getRouter(s, ctx, id)),
    create: { schema: RouterCreate, run: (ctx, b) => routerView(s, createRouter(s, ctx, b)) },
    update: { schema: RouterUpdate, run: (ctx, id, b) => routerView(s, updateRouter(s, ctx, id, b)) },
    remove: (ctx, id) => deleteRouter(s, ctx, id),
  });
  type P = { Params: { id: string } };
  // Unwrapped bodies and replies (notes 1.6).
  app.put<P>('/v2.0/routers/:id/add_router_interface', async (req) =>
    addInterface(s, ctxOf(req), req.params.id, check(req.body ?? {}, RouterInterface, 'add_router_interface')),
  );
  app.put<P>('/v2.0/routers/:id/remove_router_interface', async (req) =>
    removeInterface(s, ctxOf(req), req.params.id, check(req.body ?? {}, RouterInterface, 'remove_router_interface')),
  );
  crudRoutes(app, {
    plural: 'floatingips',
    singular: 'floatingip',
    list: (ctx) => listFloatingIps(s, ctx).map((f) => floatingIpView(s, f)),
    show: (ctx, id) => floatingIpView(s, getFloatingIp(s, ctx, id)),
    create: { schema: FloatingIpCreate, run: (ctx, b) => floatingIpView(s, createFloatingIp(s, ctx, b)) },
    update: { schema: FloatingIpUpdate, run: (ctx, id, b) => floatingIpView(s, updateFloatingIp(s, ctx, id, b)) },
    remove: (ctx, id) => deleteFloatingIp(s, ctx, id),
  });
}
