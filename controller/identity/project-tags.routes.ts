import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound } from '../../shared/errors/index.js';
import { ProjectTag, ProjectTags } from '../../shared/api/identity.js';
import { validate } from '../http/validate.js';
import type { Kit } from './auth.routes.js';
import { keystoneRejection } from './body.js';
import { parseJson } from './input.js';

/**
 * /v3/projects/{id}/tags[/{tag}]: the project's `tags` one at a time, as
 * keystone/api/projects.py serves them (PUT one tag → 201 with Location and no body,
 * check → 204, list and replace → {"tags": [...], "links"}, delete → 204).
 */
type P = { id: string };
type PT = { id: string; tag: string };

export function projectTagRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const project = (req: FastifyRequest<{ Params: P }>, action: string) => {
    const p = svc.res.project(req.params.id);
    kit.enforce(req, action, { project_id: p.id, domain_id: p.domain_id });
    return { p, tags: parseJson<string[]>(p.tags, []) };
  };
  const save = (id: string, tags: string[]) => {
    validate(ProjectTags, tags, keystoneRejection);
    svc.res.updateProject(id, { tags });
  };
  const doc = (req: FastifyRequest, tags: string[]) => ({
    tags,
    links: { self: `${kit.base(req)}/projects/${(req.params as P).id}/tags` },
  });

  app.get<{ Params: P }>('/v3/projects/:id/tags', async (req) => doc(req, project(req, 'identity:list_project_tags').tags));
  app.put<{ Params: P }>('/v3/projects/:id/tags', async (req) => {
    const { p } = project(req, 'identity:update_project_tags');
    const tags = validate(ProjectTags, (req.body as { tags?: unknown } | undefined)?.tags ?? [], keystoneRejection);
    save(p.id, tags);
    return doc(req, tags);
  });
  app.delete<{ Params: P }>('/v3/projects/:id/tags', async (req, reply) => {
    save(project(req, 'identity:delete_project_tags').p.id, []);
    return reply.status(204).send();
  });
  app.get<{ Params: PT }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const { tags } = project(req, 'identity:get_project_tag');
    if (!tags.includes(req.params.tag)) throw new NotFound(`Could not find project tag: ${req.params.tag}.`);
    return reply.status(204).send();
  });
  app.put<{ Params: PT }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const { p, tags } = project(req, 'identity:create_project_tag');
    const tag = validate(ProjectTag, req.params.tag, keystoneRejection);
    if (!tags.includes(tag)) save(p.id, [...tags, tag]);
    return reply
      .status(201)
      .header('Location', `${kit.base(req)}/projects/${p.id}/tags/${encodeURIComponent(tag)}`)
      .send();
  });
  app.delete<{ Params: PT }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const { p, tags } = project(req, 'identity:delete_project_tag');
    if (!tags.includes(req.params.tag)) throw new NotFound(`Could not find project tag: ${req.params.tag}.`);
    save(
      p.id,
      tags.filter((t) => t !== req.params.tag),
    );
    return reply.status(204).send();
  });
}
