import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import { ctxOf } from '../http/auth.js';
import { computeBase, must, type ComputeCtx } from './context.js';
import { ServerTagsRepo } from './server-tags.repo.js';
import type { Instance } from './servers.repo.js';
import { visibleServer } from './servers.service.js';
import { mvAtLeast } from './versions.js';

/**
 * Server tags (nova/api/openstack/compute/server_tags.py, microversion 2.26): list,
 * replace all, delete all, check one, add one (201 new / 204 present), delete one. A tag
 * is 1–60 characters without '/' or ','; at most 50 per server. Below 2.26: 404.
 */

const MAX_TAGS = 50;
/** vm_states in which tags may change (Nova's _check_instance_in_valid_state). */
const TAGGABLE = ['active', 'paused', 'rescued', 'resized', 'shelved', 'shelved_offloaded', 'stopped', 'suspended', 'building'];

function checkTag(t: unknown): string {
  if (typeof t !== 'string' || t.length < 1 || t.length > 60 || /[/,]/.test(t))
    throw new BadRequest(`Invalid input for field/attribute tags. Value: ${JSON.stringify(t)}.`);
  return t;
}

export const SERVER_TAG_RULES: Record<string, string> = {
  'os_compute_api:os-server-tags:index': 'rule:admin_required or (role:reader and project_id:%(project_id)s)',
  'os_compute_api:os-server-tags:show': 'rule:admin_required or (role:reader and project_id:%(project_id)s)',
  'os_compute_api:os-server-tags:update': 'rule:admin_required or (role:member and project_id:%(project_id)s)',
  'os_compute_api:os-server-tags:update_all': 'rule:admin_required or (role:member and project_id:%(project_id)s)',
  'os_compute_api:os-server-tags:delete': 'rule:admin_required or (role:member and project_id:%(project_id)s)',
  'os_compute_api:os-server-tags:delete_all': 'rule:admin_required or (role:member and project_id:%(project_id)s)',
};

export function serverTagRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  const tags = new ServerTagsRepo(ctx.db);
  const server = (req: FastifyRequest<{ Params: { id: string } }>, rule: string, change = false): Instance => {
    if (!mvAtLeast(req.computeVersion, '2.26')) throw new NotFound('The resource could not be found.');
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, `os_compute_api:os-server-tags:${rule}`, auth, { project_id: i.project_id });
    if (change && !TAGGABLE.includes(i.vm_state))
      throw new Conflict(`Cannot '${rule}' instance ${i.id} while it is in vm_state ${i.vm_state}`, 'InstanceInvalidState');
    return i;
  };
  app.get<{ Params: { id: string } }>('/servers/:id/tags', async (req) => ({ tags: tags.list(server(req, 'index').id) }));
  app.put<{ Params: { id: string } }>('/servers/:id/tags', async (req) => {
    const i = server(req, 'update_all', true);
    const b = req.body as { tags?: unknown } | null;
    if (!b || typeof b !== 'object' || !Array.isArray(b.tags) || Object.keys(b).length !== 1)
      throw new BadRequest("Invalid input for field/attribute tags. 'tags' is a required property");
    const want = [...new Set(b.tags.map(checkTag))];
    if (want.length > MAX_TAGS) throw new BadRequest(`The number of tags exceeded the per-server limit ${MAX_TAGS}`);
    tags.replace(i.id, want);
    return { tags: tags.list(i.id) };
  });
  app.delete<{ Params: { id: string } }>('/servers/:id/tags', async (req, reply) => {
    tags.replace(server(req, 'delete_all', true).id, []);
    return reply.code(204).send();
  });
  app.get<{ Params: { id: string; tag: string } }>('/servers/:id/tags/:tag', async (req, reply) => {
    const i = server(req, 'show');
    if (!tags.has(i.id, req.params.tag)) throw new NotFound(`Tag ${req.params.tag} could not be found.`, 'TagNotFound');
    return reply.code(204).send();
  });
  app.put<{ Params: { id: string; tag: string } }>('/servers/:id/tags/:tag', async (req, reply) => {
    const i = server(req, 'update', true);
    const t = checkTag(req.params.tag);
    if (tags.has(i.id, t)) return reply.code(204).send();
    if (tags.count(i.id) >= MAX_TAGS) throw new BadRequest(`The number of tags exceeded the per-server limit ${MAX_TAGS}`);
    tags.add(i.id, t);
    reply.header('Location', `${computeBase(req, ctx)}/v2.1/servers/${i.id}/tags/${encodeURIComponent(t)}`);
    return reply.code(201).send();
  });
  app.delete<{ Params: { id: string; tag: string } }>('/servers/:id/tags/:tag', async (req, reply) => {
    const i = server(req, 'delete', true);
    if (!tags.remove(i.id, req.params.tag)) throw new NotFound(`Tag ${req.params.tag} could not be found.`, 'TagNotFound');
    return reply.code(204).send();
  });
}
