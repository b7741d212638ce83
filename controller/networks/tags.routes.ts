import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ctxOf, type AuthContext } from '../http/auth.js';
import { check } from './common.js';
import { enforce, type Svc } from './context.js';
import { getFloatingIp } from './floatingips.service.js';
import { getNetwork } from './networks.service.js';
import { getPort } from './ports.service.js';
import { getRouter } from './routers.service.js';
import { getGroup } from './secgroups.service.js';
import { getSubnet } from './subnets.service.js';
import { NotFound } from '../../shared/errors/index.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { networksRepo } from './networks.repo.js';
import { portsRepo } from './ports.repo.js';
import { routersRepo } from './routers.repo.js';
import { groupsRepo } from './secgroups.repo.js';
import { subnetsRepo } from './subnets.repo.js';
import type { Table } from './table.repo.js';

/** Which table holds each taggable collection, and how to find a visible row. */
const TAGGABLE: Record<
  string,
  {
    repo: Pick<Table<{ id: string }>, 'tags' | 'saveTags'>;
    find: (s: Svc, ctx: AuthContext, id: string) => { project_id: string };
  }
> = {
  networks: { repo: networksRepo, find: (s, c, id) => getNetwork(s, c, id) },
  subnets: { repo: subnetsRepo, find: (s, c, id) => getSubnet(s, c, id) },
  ports: { repo: portsRepo, find: (s, c, id) => getPort(s, c, id) },
  routers: { repo: routersRepo, find: (s, c, id) => getRouter(s, c, id) },
  floatingips: { repo: floatingIpsRepo, find: (s, c, id) => getFloatingIp(s, c, id) },
  'security-groups': { repo: groupsRepo, find: (s, c, id) => getGroup(s, c, id) },
};

const TagList = Type.Object({ tags: Type.Array(Type.String({ minLength: 1, maxLength: 255 })) });

/** standard-attr-tag: GET/PUT/DELETE /v2.0/{collection}/{id}/tags[/{tag}]. */
export function tagRoutes(app: FastifyInstance, s: Svc): void {
  const load = (ctx: AuthContext, coll: string, id: string, write: boolean) => {
    // Own keys only: a collection named like an Object.prototype member (valueOf, constructor) is a 404.
    const t = Object.hasOwn(TAGGABLE, coll) ? TAGGABLE[coll] : undefined;
    if (!t) throw new NotFound('The resource could not be found.');
    const row = t.find(s, ctx, id);
    if (write) enforce(s, `network:update_${coll}_tags`, ctx, { project_id: row.project_id });
    const tags = t.repo.tags(s.db, id);
    const save = (next: string[]) => t.repo.saveTags(s.db, id, [...new Set(next)]);
    return { tags, save };
  };
  type P = { Params: { coll: string; id: string; tag?: string } };
  app.get<P>('/v2.0/:coll/:id/tags', async (req) => ({ tags: load(ctxOf(req), req.params.coll, req.params.id, false).tags }));
  app.get<P>('/v2.0/:coll/:id/tags/:tag', async (req, reply) => {
    const { tags } = load(ctxOf(req), req.params.coll, req.params.id, false);
    if (!tags.includes(req.params.tag!)) throw new NotFound(`Tag ${req.params.tag} could not be found.`, 'TagNotFound');
    return reply.code(204).send();
  });
  app.put<P>('/v2.0/:coll/:id/tags', async (req) => {
    const { save } = load(ctxOf(req), req.params.coll, req.params.id, true);
    const b = check(req.body ?? {}, TagList, 'tags');
    save(b.tags);
    return { tags: [...new Set(b.tags)] };
  });
  app.put<P>('/v2.0/:coll/:id/tags/:tag', async (req, reply) => {
    const { tags, save } = load(ctxOf(req), req.params.coll, req.params.id, true);
    save([...tags, req.params.tag!]);
    return reply.code(201).send();
  });
  app.delete<P>('/v2.0/:coll/:id/tags', async (req, reply) => {
    load(ctxOf(req), req.params.coll, req.params.id, true).save([]);
    return reply.code(204).send();
  });
  app.delete<P>('/v2.0/:coll/:id/tags/:tag', async (req, reply) => {
    const { tags, save } = load(ctxOf(req), req.params.coll, req.params.id, true);
    if (!tags.includes(req.params.tag!)) throw new NotFound(`Tag ${req.params.tag} could not be found.`, 'TagNotFound');
    save(tags.filter((t) => t !== req.params.tag));
    return reply.code(204).send();
  });
}
