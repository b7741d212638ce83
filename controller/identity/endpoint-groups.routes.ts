import type { FastifyInstance } from 'fastify';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import { EndpointGroupCreate, EndpointGroupUpdate } from '../../shared/api/identity.js';
import type { Kit } from './auth.routes.js';
import { member } from './body.js';
import type { EndpointGroupRow, EndpointRow } from './identity.repo.js';
import { extras, parseJson, q } from './input.js';
import { endpointView } from './views.js';

/**
 * OS-EP-FILTER endpoint groups (/v3/OS-EP-FILTER/endpoint_groups): a name and filters
 * (interface, service_id, region_id, as keystone/api/os_ep_filter.py accepts) and the
 * endpoints they select. Associating groups with projects, and the catalog filtering that
 * follows, is not built yet (issue 19).
 */
type P = { id: string };
const FILTER_KEYS = ['interface', 'service_id', 'region_id'];
const FIELDS = ['name', 'description', 'filters'] as const;

function checkFilters(filters: object): void {
  for (const k of Object.keys(filters))
    if (!FILTER_KEYS.includes(k)) throw new BadRequest(`${k} is not a valid filter for an endpoint group.`, 'ValidationError');
}

function view(base: string, g: EndpointGroupRow) {
  return {
    ...parseJson<Record<string, unknown>>(g.extra, {}),
    id: g.id,
    name: g.name,
    description: g.description,
    filters: parseJson<Record<string, unknown>>(g.filters, {}),
    links: { self: `${base}/OS-EP-FILTER/endpoint_groups/${g.id}` },
  };
}

export function endpointGroupRoutes(app: FastifyInstance, kit: Kit): void {
  const repo = kit.svc.core.repo;
  const b = kit.base;
  const root = '/v3/OS-EP-FILTER/endpoint_groups';
  const get = (id: string) => {
    const g = repo.get<EndpointGroupRow>('endpoint_groups', id);
    if (!g) throw new NotFound(`Could not find Endpoint Group: ${id}.`);
    return g;
  };

  app.get(root, async (req) => {
    kit.enforce(req, 'identity:list_endpoint_groups');
    const rows = repo.list<EndpointGroupRow>('endpoint_groups', { name: q(req.query, 'name') });
    return kit.list(
      req,
      'endpoint_groups',
      rows.map((g) => view(b(req), g)),
    );
  });
  app.post(root, async (req, reply) => {
    kit.enforce(req, 'identity:create_endpoint_group');
    const o = member(EndpointGroupCreate, req.body, 'endpoint_group');
    checkFilters(o.filters);
    const row: EndpointGroupRow = {
      id: newHexId(),
      name: o.name,
      description: o.description ?? null,
      filters: JSON.stringify(o.filters),
      extra: JSON.stringify(extras(o, FIELDS)),
      created_at: nowIso(),
    };
    repo.insert('endpoint_groups', { ...row });
    return reply.status(201).send({ endpoint_group: view(b(req), row) });
  });
  app.get<{ Params: P }>(`${root}/:id`, async (req) => {
    kit.enforce(req, 'identity:get_endpoint_group');
    return { endpoint_group: view(b(req), get(req.params.id)) };
  });
  app.patch<{ Params: P }>(`${root}/:id`, async (req) => {
    kit.enforce(req, 'identity:update_endpoint_group');
    const cur = get(req.params.id);
    const o = member(EndpointGroupUpdate, req.body, 'endpoint_group');
    if (o.filters) checkFilters(o.filters);
    const patch: Partial<EndpointGroupRow> = {};
    if (o.name !== undefined) patch.name = o.name;
    if (o.description !== undefined) patch.description = o.description;
    if (o.filters !== undefined) patch.filters = JSON.stringify(o.filters);
    const extra = extras(o, FIELDS);
    if (Object.keys(extra).length) patch.extra = JSON.stringify({ ...parseJson(cur.extra, {}), ...extra });
    repo.update('endpoint_groups', cur.id, patch);
    return { endpoint_group: view(b(req), get(cur.id)) };
  });
  app.delete<{ Params: P }>(`${root}/:id`, async (req, reply) => {
    kit.enforce(req, 'identity:delete_endpoint_group');
    repo.delete('endpoint_groups', get(req.params.id).id);
    return reply.status(204).send();
  });
  app.get<{ Params: P }>(`${root}/:id/endpoints`, async (req) => {
    kit.enforce(req, 'identity:list_endpoints_associated_with_endpoint_group');
    const filters = parseJson<Record<string, unknown>>(get(req.params.id).filters, {});
    const rows = repo
      .list<EndpointRow>('catalog_endpoints')
      .filter((e) => Object.entries(filters).every(([k, v]) => e[k as keyof EndpointRow] === v));
    return kit.list(
      req,
      'endpoints',
      rows.map((e) => endpointView(b(req), e)),
    );
  });
}
