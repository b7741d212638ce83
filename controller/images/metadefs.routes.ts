import type { FastifyInstance } from 'fastify';
import { authHook, ctxOf, type TokenValidator } from '../http/auth.js';
import type { MetadefContents } from './metadef-contents.service.js';
import { METADEF_SCHEMAS } from './metadefs-schemas.js';
import type { MetadefService, NamespaceListQuery } from './metadefs.service.js';
import { namespaceHref } from './metadefs.views.js';

export interface MetadefRouteDeps {
  validator: TokenValidator;
  namespaces: MetadefService;
  contents: MetadefContents;
}

type Ns = { Params: { ns: string } };
type Named = { Params: { ns: string; name: string } };
type ByType = { Querystring: { resource_type?: string } };

const NS = '/v2/metadefs/namespaces/:ns';

/** HTTP only (house style 3.1): Glance v2's metadata definitions API and its schemas. */
export function registerMetadefRoutes(app: FastifyInstance, d: MetadefRouteDeps): void {
  const pre = { preHandler: authHook(d.validator) };
  const c = d.contents;

  for (const [name, doc] of Object.entries(METADEF_SCHEMAS)) app.get(`/v2/schemas/metadefs/${name}`, async () => doc);

  app.get('/v2/metadefs/resource_types', pre, async (req) => d.namespaces.resourceTypes(ctxOf(req)));

  // Namespaces.
  app.get<{ Querystring: NamespaceListQuery }>('/v2/metadefs/namespaces', pre, async (req) => {
    const r = d.namespaces.list(ctxOf(req), req.query);
    const params = new URLSearchParams(req.query as Record<string, string>);
    params.delete('marker');
    const first = `/v2/metadefs/namespaces${params.size ? `?${params}` : ''}`;
    if (r.next) params.set('marker', r.next);
    const next = r.next ? `/v2/metadefs/namespaces?${params}` : undefined;
    return { namespaces: r.namespaces, first, schema: '/v2/schemas/metadefs/namespaces', ...(next ? { next } : {}) };
  });
  app.post('/v2/metadefs/namespaces', pre, async (req, reply) => {
    const n = d.namespaces.create(ctxOf(req), req.body);
    reply.header('Location', namespaceHref(n.namespace as string));
    return reply.status(201).send(n);
  });
  app.get<Ns & ByType>(NS, pre, async (req) => d.namespaces.show(ctxOf(req), req.params.ns, req.query.resource_type));
  app.put<Ns>(NS, pre, async (req) => d.namespaces.update(ctxOf(req), req.params.ns, req.body));
  app.delete<Ns>(NS, pre, async (req, reply) => {
    d.namespaces.delete(ctxOf(req), req.params.ns);
    return reply.status(204).send();
  });

  // Resource type associations.
  app.get<Ns>(`${NS}/resource_types`, pre, async (req) => d.namespaces.associations(ctxOf(req), req.params.ns));
  app.post<Ns>(`${NS}/resource_types`, pre, async (req, reply) =>
    reply.status(201).send(d.namespaces.associate(ctxOf(req), req.params.ns, req.body)),
  );
  app.delete<Named>(`${NS}/resource_types/:name`, pre, async (req, reply) => {
    d.namespaces.dissociate(ctxOf(req), req.params.ns, req.params.name);
    return reply.status(204).send();
  });

  // Objects.
  app.get<Ns>(`${NS}/objects`, pre, async (req) => c.listObjects(ctxOf(req), req.params.ns));
  app.post<Ns>(`${NS}/objects`, pre, async (req, reply) =>
    reply.status(201).send(c.createObject(ctxOf(req), req.params.ns, req.body)),
  );
  app.delete<Ns>(`${NS}/objects`, pre, async (req, reply) => {
    c.deleteObjects(ctxOf(req), req.params.ns);
    return reply.status(204).send();
  });
  app.get<Named>(`${NS}/objects/:name`, pre, async (req) => c.showObject(ctxOf(req), req.params.ns, req.params.name));
  app.put<Named>(`${NS}/objects/:name`, pre, async (req) => c.updateObject(ctxOf(req), req.params.ns, req.params.name, req.body));
  app.delete<Named>(`${NS}/objects/:name`, pre, async (req, reply) => {
    c.deleteObject(ctxOf(req), req.params.ns, req.params.name);
    return reply.status(204).send();
  });

  // Properties.
  app.get<Ns>(`${NS}/properties`, pre, async (req) => c.listProperties(ctxOf(req), req.params.ns));
  app.post<Ns>(`${NS}/properties`, pre, async (req, reply) =>
    reply.status(201).send(c.createProperty(ctxOf(req), req.params.ns, req.body)),
  );
  app.delete<Ns>(`${NS}/properties`, pre, async (req, reply) => {
    c.deleteProperties(ctxOf(req), req.params.ns);
    return reply.status(204).send();
  });
  app.get<Named & ByType>(`${NS}/properties/:name`, pre, async (req) =>
    c.showProperty(ctxOf(req), req.params.ns, req.params.name, req.query.resource_type),
  );
  app.put<Named>(`${NS}/properties/:name`, pre, async (req) =>
    c.updateProperty(ctxOf(req), req.params.ns, req.params.name, req.body),
  );
  app.delete<Named>(`${NS}/properties/:name`, pre, async (req, reply) => {
    c.deleteProperty(ctxOf(req), req.params.ns, req.params.name);
    return reply.status(204).send();
  });

  // Tags.
  app.get<Ns>(`${NS}/tags`, pre, async (req) => c.listTags(ctxOf(req), req.params.ns));
  app.post<Ns>(`${NS}/tags`, pre, async (req, reply) => {
    const append = String(req.headers['x-openstack-append'] ?? '').toLowerCase() === 'true';
    return reply.status(201).send(c.createTags(ctxOf(req), req.params.ns, req.body, append));
  });
  app.delete<Ns>(`${NS}/tags`, pre, async (req, reply) => {
    c.deleteTags(ctxOf(req), req.params.ns);
    return reply.status(204).send();
  });
  app.get<Named>(`${NS}/tags/:name`, pre, async (req) => c.showTag(ctxOf(req), req.params.ns, req.params.name));
  app.post<Named>(`${NS}/tags/:name`, pre, async (req, reply) =>
    reply.status(201).send(c.createTag(ctxOf(req), req.params.ns, req.params.name)),
  );
  app.put<Named>(`${NS}/tags/:name`, pre, async (req) => c.updateTag(ctxOf(req), req.params.ns, req.params.name, req.body));
  app.delete<Named>(`${NS}/tags/:name`, pre, async (req, reply) => {
    c.deleteTag(ctxOf(req), req.params.ns, req.params.name);
    return reply.status(204).send();
  });
}
