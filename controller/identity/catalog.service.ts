import { BadRequest, Conflict, Forbidden } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { IdentityCore } from './core.js';
import { extras, invalid, optBool, optStr, parseJson, reqStr, type Obj } from './input.js';
import type { EndpointRow, RegionRow, ServiceRow } from './identity.repo.js';
import { notFound } from './resources.service.js';

/** Regions, services and endpoints (the catalog as operators manage it). */
const INTERFACES = ['public', 'internal', 'admin'];
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

  private parentRegion(o: Obj, self?: string): string | null | undefined {
    const p = optStr(o, 'parent_region_id', { nullable: true });
    if (p && !this.repo.get('catalog_regions', p)) throw new BadRequest(`Could not find region: ${p}.`, 'ValidationError');
    if (p && self) {
      for (let cur: string | null = p; cur; cur = this.repo.get<RegionRow>('catalog_regions', cur)?.parent_region_id ?? null) {
        if (cur === self)
          throw new BadRequest(`Setting the parent region of ${self} to ${p} would create a loop.`, 'ValidationError');
      }
    }
    return p;
  }

  createRegion(o: Obj, explicitId?: string): RegionRow {
    const id = explicitId ?? optStr(o, 'id') ?? newHexId();
    if (!id.trim() || id.length > 255) throw invalid('id', 'a region id is 1 to 255 characters');
    if (this.repo.get('catalog_regions', id))
      throw new Conflict(`Conflict occurred attempting to store region - Duplicate ID, ${id}.`);
    const row: RegionRow = {
      id,
      description: optStr(o, 'description', { nullable: true, max: 65535 }) ?? '',
      parent_region_id: this.parentRegion(o) ?? null,
      extra: JSON.stringify(extras(o, REGION_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_regions', { ...row });
    this.core.changed();
    return row;
  }

  updateRegion(id: string, o: Obj): RegionRow {
    const r = this.region(id);
    const patch: Record<string, unknown> = {};
    const desc = optStr(o, 'description', { nullable: true, max: 65535 });
    if (desc !== undefined) patch.description = desc ?? '';
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

  createService(o: Obj): ServiceRow {
    const type = reqStr(o, 'type', { min: 1 });
    const row: ServiceRow = {
      id: newHexId(),
      type,
      name: optStr(o, 'name', { nullable: true }) ?? '',
      description: optStr(o, 'description', { nullable: true, max: 65535 }) ?? '',
      enabled: optBool(o, 'enabled') === false ? 0 : 1,
      extra: JSON.stringify(extras(o, SERVICE_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_services', { ...row });
    this.core.changed();
    return row;
  }

  updateService(id: string, o: Obj): ServiceRow {
    const s = this.service(id);
    const patch: Record<string, unknown> = {};
    const type = optStr(o, 'type', { min: 1 });
    if (type) patch.type = type;
    const n = optStr(o, 'name', { nullable: true });
    if (n !== undefined) patch.name = n ?? '';
    const desc = optStr(o, 'description', { nullable: true, max: 65535 });
    if (desc !== undefined) patch.description = desc ?? '';
    const en = optBool(o, 'enabled');
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
  private regionOf(o: Obj): string | null | undefined {
    const r = optStr(o, 'region_id', { nullable: true }) ?? optStr(o, 'region', { nullable: true });
    if (r === undefined || r === null) return r;
    if (!r.trim() || r.length > 255) throw invalid('region_id', 'a region id is 1 to 255 characters');
    if (!this.repo.get('catalog_regions', r)) this.createRegion({}, r);
    return r;
  }

  private url(o: Obj, required: boolean): string | undefined {
    const url = optStr(o, 'url', { required, min: 1, max: 2048 });
    if (url === undefined || url === null) return undefined;
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(url)) throw invalid('url', `'${url}' is not a valid URL`);
    return url;
  }

  private iface(o: Obj, required: boolean): string | undefined {
    const i = optStr(o, 'interface', { required });
    if (i === undefined || i === null) return undefined;
    if (!INTERFACES.includes(i)) throw invalid('interface', `'${i}' is not one of ${INTERFACES.join(', ')}`);
    return i;
  }

  createEndpoint(o: Obj): EndpointRow {
    const serviceId = reqStr(o, 'service_id');
    if (!this.repo.get('catalog_services', serviceId))
      throw new BadRequest(`Could not find service: ${serviceId}.`, 'ValidationError');
    const row: EndpointRow = {
      id: newHexId(),
      service_id: serviceId,
      interface: this.iface(o, true)!,
      region_id: this.regionOf(o) ?? null,
      url: this.url(o, true)!,
      enabled: optBool(o, 'enabled') === false ? 0 : 1,
      extra: JSON.stringify(extras(o, ENDPOINT_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('catalog_endpoints', { ...row });
    this.core.changed();
    return row;
  }

  updateEndpoint(id: string, o: Obj): EndpointRow {
    const e = this.endpoint(id);
    const patch: Record<string, unknown> = {};
    const sid = optStr(o, 'service_id');
    if (sid) {
      if (!this.repo.get('catalog_services', sid)) throw new BadRequest(`Could not find service: ${sid}.`, 'ValidationError');
      patch.service_id = sid;
    }
    const i = this.iface(o, false);
    if (i) patch.interface = i;
    const r = this.regionOf(o);
    if (r !== undefined) patch.region_id = r;
    const url = this.url(o, false);
    if (url) patch.url = url;
    const en = optBool(o, 'enabled');
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
