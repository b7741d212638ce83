import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TSchema, Static } from 'typebox';
import type { AuthContext } from '../http/auth.js';
import { ctxOf } from '../http/auth.js';
import { listResponse, showResponse, unwrap } from './common.js';

type Doc = Record<string, unknown>;

export interface Crud<C extends TSchema, U extends TSchema> {
  /** Collection and member names: 'networks' / 'network'; url defaults to the collection. */
  plural: string;
  singular: string;
  url?: string;
  list(ctx: AuthContext, req: FastifyRequest): Doc[];
  show(ctx: AuthContext, id: string): Doc;
  create?: { schema: C; run(ctx: AuthContext, body: Static<C>, req: FastifyRequest): Doc };
  update?: { schema: U; run(ctx: AuthContext, id: string, body: Static<U>): Doc };
  remove?(ctx: AuthContext, id: string): void;
}

/** The five Neutron routes of a collection (routes hold no logic: parse, call, render). */
export function crudRoutes<C extends TSchema, U extends TSchema>(app: FastifyInstance, c: Crud<C, U>): void {
  const base = `/v2.0/${c.url ?? c.plural}`;
  type P = { Params: { id: string } };
  app.get(base, async (req) => listResponse(req, c.plural, c.list(ctxOf(req), req)));
  app.get<P>(`${base}/:id`, async (req) => showResponse(req, c.singular, c.show(ctxOf(req), req.params.id)));
  if (c.create) {
    const cr = c.create;
    app.post(base, async (req, reply) => {
      const doc = cr.run(ctxOf(req), unwrap(req.body, c.singular, cr.schema), req);
      return reply.code(201).send({ [c.singular]: doc });
    });
  }
  if (c.update) {
    const up = c.update;
    app.put<P>(`${base}/:id`, async (req) => ({
      [c.singular]: up.run(ctxOf(req), req.params.id, unwrap(req.body, c.singular, up.schema)),
    }));
  }
  if (c.remove) {
    const rm = c.remove;
    app.delete<P>(`${base}/:id`, async (req, reply) => {
      rm(ctxOf(req), req.params.id);
      return reply.code(204).send();
    });
  }
}
