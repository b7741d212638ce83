import { BadRequest, Conflict, Forbidden } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { IdentityCore } from './core.js';
import type {
  EndpointCreate,
  EndpointUpdate,
  RegionCreate,
  RegionUpdate,
  ServiceCreate,
  ServiceUpdate,
} from '../../shared/api/identity.js';
import { invalid } from './body.js';
import { extras, parseJson, type Obj } from './input.js';
import type { EndpointRow, RegionRow, ServiceRow } from './identity.repo.js';
import { notFound } from './resources.service.js';

/** Regions, services and endpoints (the catalog as operators manage it). */
const REGION_FIELDS = ['description', 'parent_region_id'] as const;
const SERVICE_FIELDS = ['type', 'name', 'description', 'enabled'] as const;
const ENDPOINT_FIELDS = ['service_id', 'interface', 'region_id', 'region', 'url', 'enabled'] as const;

export class Catalog {
  constructor(private readonly core: IdentityCore) {}

  private get repo() {
    return this.core.repo;
  }

  region(id: string): RegionRow {
    const r = this.repo.get<RegionRow>('catalog_regions', id);
    if (!r) throw notFound('region', id);
    return r;
  }
  service(id: string): ServiceRow {
    const s = this.repo.get<ServiceRow>('catalog_services', id);
    if (!s) throw notFound('service', id);
    return s;
  }
  endpoint(id: string): EndpointRow {
    const e = this.repo.get<EndpointRow>('catalog_endpoints', id);
    if (!e) throw notFound('endpoint', id);
    return e;
  }

  private parentRegion(o: { parent_region_id?: string | null }, self?: string): string | null | undefined {
    const p = o.parent_region_id;
    if (p && !this.repo.get('catalog_regions', p)) throw new BadRequest(`Could not find region: ${p}.`, 'ValidationError');
    if (p && self) {
      for (let cur: string | null = p; cur; cur = this.repo.get<RegionRow>('catalog_regions', cur)?.parent_region_id ?? null) {
        if (cur === self)
          throw new BadRequest(`Setting the parent region of ${self} to ${p} would create a loop.`, 'ValidationError');
      }
    }
    return p;
  }

  createRegion(o: RegionCreate, explicitId?: string): RegionRow {
    const id = explicitId ?? o.id ?? newHexId();
    if (!id.trim() || id.length > 255) throw invalid('id', 'a region id is 1 to 255 characters');
    if (this.repo.get('catalog_regions', id))
      throw new Conflict(`Conflict occurred attempting to store region - Duplicate ID, ${id}.`);
    const row: RegionRow = {
      id,
      description: o.description ?? '',
      parent_region_id: this.parentRegion(o) ?? null,
      extra: JSON.stringify(extras(o, REGION_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_regions', { ...row });
    this.core.changed();
    return row;
  }

  updateRegion(id: string, o: RegionUpdate): RegionRow {
    const r = this.region(id);
    const patch: Record<string, unknown> = {};
    if (o.description !== undefined) patch.description = o.description ?? '';
    const parent = this.parentRegion(o, id);
    if (parent !== undefined) patch.parent_region_id = parent;
    const ex = extras(o, REGION_FIELDS);
    if (Object.keys(ex).length) patch.extra = JSON.stringify({ ...parseJson<Obj>(r.extra, {}), ...ex });
    this.repo.update('catalog_regions', id, patch);
    this.core.changed();
    return this.region(id);
  }

  deleteRegion(id: string): void {
    this.region(id);
    if (this.repo.list('catalog_regions', { parent_region_id: id }).length) {
      throw new Forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    }
    if (this.repo.list('catalog_endpoints', { region_id: id }).length) {
      throw new Forbidden(`Unable to delete region ${id} because it or its child regions have associated endpoints.`);
    }
    this.repo.delete('catalog_regions', id);
    this.core.changed();
  }

  createService(o: ServiceCreate): ServiceRow {
    const row: ServiceRow = {
      id: newHexId(),
      type: o.type,
      name: o.name ?? '',
      description: o.description ?? '',
      enabled: o.enabled === false ? 0 : 1,
      extra: JSON.stringify(extras(o, SERVICE_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_services', { ...row });
    this.core.changed();
    return row;
  }

  updateService(id: string, o: ServiceUpdate): ServiceRow {
    const s = this.service(id);
    const patch: Record<string, unknown> = {};
    if (o.type) patch.type = o.type;
    if (o.name !== undefined) patch.name = o.name;
    if (o.description !== undefined) patch.description = o.description ?? '';
    const en = o.enabled;
    if (en !== undefined) patch.enabled = en ? 1 : 0;
    const ex = extras(o, SERVICE_FIELDS);
    if (Object.keys(ex).length) patch.extra = JSON.stringify({ ...parseJson<Obj>(s.extra, {}), ...ex });
    this.repo.update('catalog_services', id, patch);
    this.core.changed();
    return this.service(id);
  }

  deleteService(id: string): void {
    this.service(id);
    this.repo.tx(() => this.repo.delete('catalog_services', id)); // endpoints cascade
    this.core.changed();
  }

  /** `region_id`, or the legacy `region` keystoneclient sends; an unknown region is created (as Keystone does). */
  private regionOf(o: { region_id?: string | null; region?: string | null }): string | null | undefined {
    const r = o.region_id ?? o.region;
    if (r === undefined || r === null) return r;
    if (!r.trim() || r.length > 255) throw invalid('region_id', 'a region id is 1 to 255 characters');
    if (!this.repo.get('catalog_regions', r)) this.createRegion({}, r);
    return r;
  }

  createEndpoint(o: EndpointCreate): EndpointRow {
    const serviceId = o.service_id;
    if (!this.repo.get('catalog_services', serviceId))
      throw new BadRequest(`Could not find service: ${serviceId}.`, 'ValidationError');
    const row: EndpointRow = {
      id: newHexId(),
      service_id: serviceId,
      interface: o.interface,
      region_id: this.regionOf(o) ?? null,
      url: o.url,
      enabled: o.enabled === false ? 0 : 1,
      extra: JSON.stringify(extras(o, ENDPOINT_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_endpoints', { ...row });
    this.core.changed();
    return row;
  }

  updateEndpoint(id: string, o: EndpointUpdate): EndpointRow {
    const e = this.endpoint(id);
    const patch: Record<string, unknown> = {};
    const sid = o.service_id;
    if (sid) {
      if (!this.repo.get('catalog_services', sid)) throw new BadRequest(`Could not find service: ${sid}.`, 'ValidationError');
      patch.service_id = sid;
    }
    if (o.interface) patch.interface = o.interface;
    const r = this.regionOf(o);
    if (r !== undefined) patch.region_id = r;
    if (o.url !== undefined) patch.url = o.url;
    const en = o.enabled;
    if (en !== undefined) patch.enabled = en ? 1 : 0;
    const ex = extras(o, ENDPOINT_FIELDS);
    if (Object.keys(ex).length) patch.extra = JSON.stringify({ ...parseJson<Obj>(e.extra, {}), ...ex });
    this.repo.update('catalog_endpoints', id, patch);
    this.core.changed();
    return this.endpoint(id);
  }

  deleteEndpoint(id: string): void {
    this.endpoint(id);
    this.repo.delete('catalog_endpoints', id);
    this.core.changed();
  }
}
