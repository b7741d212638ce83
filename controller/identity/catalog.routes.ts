import type { FastifyInstance } from 'fastify';
import {
  EndpointCreate,
  EndpointUpdate,
  RegionCreate,
  RegionUpdate,
  ServiceCreate,
  ServiceUpdate,
} from '../../shared/api/identity.js';
import { member } from './body.js';
import { q, qBool } from './input.js';
import type { EndpointRow, RegionRow, ServiceRow } from './identity.repo.js';
import type { Kit } from './auth.routes.js';
import { endpointView, regionView, serviceView } from './views.js';

/** Regions, services and endpoints. */
type P = { id: string };

export function catalogRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const b = kit.base;

  app.get('/v3/regions', async (req) => {
    kit.enforce(req, 'identity:list_regions');
    const rows = svc.core.repo.list<RegionRow>('catalog_regions', { parent_region_id: q(req.query, 'parent_region_id') });
    return kit.list(
      req,
      'regions',
      rows.map((r) => regionView(b(req), r)),
    );
  });
  app.post('/v3/regions', async (req, reply) => {
    kit.enforce(req, 'identity:create_region');
    return reply
      .status(201)
      .send({ region: regionView(b(req), svc.catalog.createRegion(member(RegionCreate, req.body, 'region'))) });
  });
  app.put<{ Params: P }>('/v3/regions/:id', async (req, reply) => {
    kit.enforce(req, 'identity:create_region');
    return reply
      .status(201)
      .send({ region: regionView(b(req), svc.catalog.createRegion(member(RegionCreate, req.body, 'region'), req.params.id)) });
  });
  app.get<{ Params: P }>('/v3/regions/:id', async (req) => {
    kit.enforce(req, 'identity:get_region');
    return { region: regionView(b(req), svc.catalog.region(req.params.id)) };
  });
  app.patch<{ Params: P }>('/v3/regions/:id', async (req) => {
    svc.catalog.region(req.params.id);
    kit.enforce(req, 'identity:update_region');
    return { region: regionView(b(req), svc.catalog.updateRegion(req.params.id, member(RegionUpdate, req.body, 'region'))) };
  });
  app.delete<{ Params: P }>('/v3/regions/:id', async (req, reply) => {
    svc.catalog.region(req.params.id);
    kit.enforce(req, 'identity:delete_region');
    svc.catalog.deleteRegion(req.params.id);
    return reply.status(204).send();
  });

  app.get('/v3/services', async (req) => {
    kit.enforce(req, 'identity:list_services');
    const rows = svc.core.repo.list<ServiceRow>('catalog_services', { name: q(req.query, 'name'), type: q(req.query, 'type') });
    return kit.list(
      req,
      'services',
      rows.map((s) => serviceView(b(req), s)),
    );
  });
  app.post('/v3/services', async (req, reply) => {
    kit.enforce(req, 'identity:create_service');
    return reply
      .status(201)
      .send({ service: serviceView(b(req), svc.catalog.createService(member(ServiceCreate, req.body, 'service'))) });
  });
  app.get<{ Params: P }>('/v3/services/:id', async (req) => {
    const s = svc.catalog.service(req.params.id);
    kit.enforce(req, 'identity:get_service');
    return { service: serviceView(b(req), s) };
  });
  app.patch<{ Params: P }>('/v3/services/:id', async (req) => {
    svc.catalog.service(req.params.id);
    kit.enforce(req, 'identity:update_service');
    return { service: serviceView(b(req), svc.catalog.updateService(req.params.id, member(ServiceUpdate, req.body, 'service'))) };
  });
  app.delete<{ Params: P }>('/v3/services/:id', async (req, reply) => {
    svc.catalog.service(req.params.id);
    kit.enforce(req, 'identity:delete_service');
    svc.catalog.deleteService(req.params.id);
    return reply.status(204).send();
  });

  app.get('/v3/endpoints', async (req) => {
    kit.enforce(req, 'identity:list_endpoints');
    const en = qBool(req.query, 'enabled');
    const rows = svc.core.repo.list<EndpointRow>('catalog_endpoints', {
      service_id: q(req.query, 'service_id'),
      interface: q(req.query, 'interface'),
      region_id: q(req.query, 'region_id') ?? q(req.query, 'region'),
      enabled: en === undefined ? undefined : en ? 1 : 0,
    });
    return kit.list(
      req,
      'endpoints',
      rows.map((e) => endpointView(b(req), e)),
    );
  });
  app.post('/v3/endpoints', async (req, reply) => {
    kit.enforce(req, 'identity:create_endpoint');
    return reply
      .status(201)
      .send({ endpoint: endpointView(b(req), svc.catalog.createEndpoint(member(EndpointCreate, req.body, 'endpoint'))) });
  });
  app.get<{ Params: P }>('/v3/endpoints/:id', async (req) => {
    const e = svc.catalog.endpoint(req.params.id);
    kit.enforce(req, 'identity:get_endpoint');
    return { endpoint: endpointView(b(req), e) };
  });
  app.patch<{ Params: P }>('/v3/endpoints/:id', async (req) => {
    svc.catalog.endpoint(req.params.id);
    kit.enforce(req, 'identity:update_endpoint');
    return {
      endpoint: endpointView(b(req), svc.catalog.updateEndpoint(req.params.id, member(EndpointUpdate, req.body, 'endpoint'))),
    };
  });
  app.delete<{ Params: P }>('/v3/endpoints/:id', async (req, reply) => {
    svc.catalog.endpoint(req.params.id);
    kit.enforce(req, 'identity:delete_endpoint');
    svc.catalog.deleteEndpoint(req.params.id);
    return reply.status(204).send();
  });
}
