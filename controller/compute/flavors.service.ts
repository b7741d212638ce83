import { FlavorAccessAction, FlavorCreate, ExtraSpecs } from '../../shared/api/compute.js';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { boolParam, can, links, must, type ComputeCtx } from './context.js';
import type { Flavor } from './flavors.repo.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { toInt, validate } from '../http/validate.js';
import { actionBody } from '../http/json-body.js';

const notFound = (id: string) => new NotFound(`Flavor ${id} could not be found.`, 'FlavorNotFound');

/** Nova's flavor document at the request's microversion. */
export function flavorView(ctx: ComputeCtx, f: Flavor, base: string, v: Microversion, detail = true): Record<string, unknown> {
  const l = links(base, undefined, 'flavors', f.id);
  if (!detail) return { id: f.id, name: f.name, links: l, ...(mvAtLeast(v, '2.55') ? { description: f.description } : {}) };
  return {
    id: f.id,
    name: f.name,
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    swap: f.swap === 0 && !mvAtLeast(v, '2.75') ? '' : f.swap,
    rxtx_factor: f.rxtx_factor,
    'os-flavor-access:is_public': f.is_public,
    'OS-FLV-DISABLED:disabled': f.disabled,
    links: l,
    ...(mvAtLeast(v, '2.55') ? { description: f.description } : {}),
    ...(mvAtLeast(v, '2.61') ? { extra_specs: ctx.flavors.extraSpecs(f.id) } : {}),
  };
}

/** A flavor `auth` may see (public, or private with access, or admin); 404 otherwise. */
export function visibleFlavor(ctx: ComputeCtx, auth: AuthContext, id: string): Flavor {
  const f = ctx.flavors.get(id);
  if (!f) throw notFound(id);
  if (f.is_public || auth.isAdmin || (auth.projectId && ctx.flavors.projects(f.id).includes(auth.projectId))) return f;
  throw notFound(id);
}

/** GET /flavors[/detail]: is_public handling as in Nova (admins: True/False/None; others: public + their private ones). */
export function listFlavors(ctx: ComputeCtx, auth: AuthContext, q: Record<string, string | undefined>): Flavor[] {
  let isPublic: boolean | null = true;
  let projectId: string | undefined = auth.projectId;
  if (auth.isAdmin) {
    projectId = undefined;
    const raw = q.is_public;
    if (raw !== undefined) {
      if (raw.toLowerCase() === 'none') isPublic = null;
      else {
        const b = boolParam(raw);
        if (b === null) throw new BadRequest(`Invalid is_public filter [${raw}]`);
        isPublic = b;
      }
    }
  }
  const minRam = q.minRam !== undefined ? toInt(q.minRam, 'minRam') : undefined;
  const minDisk = q.minDisk !== undefined ? toInt(q.minDisk, 'minDisk') : undefined;
  let rows = ctx.flavors.list({ isPublic, projectId, minRam, minDisk });
  const key = (q.sort_key ?? 'flavorid') as string;
  const col: Record<string, (f: Flavor) => string | number> = {
    flavorid: (f) => f.id,
    id: (f) => f.id,
    name: (f) => f.name,
    memory_mb: (f) => f.ram,
    ram: (f) => f.ram,
    vcpus: (f) => f.vcpus,
    root_gb: (f) => f.disk,
    disk: (f) => f.disk,
    created_at: (f) => f.created_at,
  };
  const get = col[key];
  if (!get) throw new BadRequest(`Invalid sort_key ${key}`);
  const dir = (q.sort_dir ?? 'asc').toLowerCase();
  if (dir !== 'asc' && dir !== 'desc') throw new BadRequest(`Invalid sort_dir ${q.sort_dir}`);
  rows.sort((a, b) => {
    const x = get(a);
    const y = get(b);
    const c =
      typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
    return dir === 'asc' ? c : -c;
  });
  if (q.marker) {
    const i = rows.findIndex((f) => f.id === q.marker);
    if (i < 0) throw new BadRequest(`marker [${q.marker}] not found`);
    rows = rows.slice(i + 1);
  }
  if (q.limit !== undefined) {
    const limit = toInt(q.limit, 'limit');
    if (limit < 0) throw new BadRequest('limit must be >= 0');
    rows = rows.slice(0, limit);
  }
  return rows;
}

export function createFlavor(ctx: ComputeCtx, auth: AuthContext, body: unknown): Flavor {
  must(ctx, 'os_compute_api:os-flavor-manage:create', auth);
  const f = validate(FlavorCreate, body).flavor;
  const id = f.id ?? newUuid();
  const name = f.name.trim();
  if (!name) throw new BadRequest('Invalid input for field/attribute name. Value: "". Flavor names can not be empty.');
  if (ctx.flavors.get(id)) throw new Conflict(`Flavor with ID ${id} already exists.`, 'FlavorIdExists');
  if (ctx.flavors.byName(name)) throw new Conflict(`Flavor with name ${name} already exists.`, 'FlavorExists');
  const swap = f.swap === '' || f.swap === undefined ? 0 : toInt(f.swap, 'swap');
  const flavor: Flavor = {
    id,
    name,
    ram: toInt(f.ram, 'ram'),
    vcpus: toInt(f.vcpus, 'vcpus'),
    disk: toInt(f.disk, 'disk'),
    ephemeral:
      f['OS-FLV-EXT-DATA:ephemeral'] !== undefined ? toInt(f['OS-FLV-EXT-DATA:ephemeral'], 'OS-FLV-EXT-DATA:ephemeral') : 0,
    swap,
    rxtx_factor: f.rxtx_factor ?? 1.0,
    is_public: f['os-flavor-access:is_public'] ?? true,
    disabled: false,
    description: f.description ?? null,
    created_at: ctx.now().toISOString(),
  };
  for (const [k, v] of [
    ['ram', flavor.ram],
    ['vcpus', flavor.vcpus],
  ] as const) {
    if (v < 1) throw new BadRequest(`Invalid input for field/attribute ${k}. Value: ${v}. ${v} is less than the minimum of 1`);
  }
  ctx.flavors.insert(flavor);
  // Nova gives the creating project access to a private flavor.
  if (!flavor.is_public && auth.projectId) ctx.flavors.addProject(id, auth.projectId);
  return flavor;
}

export function deleteFlavor(ctx: ComputeCtx, auth: AuthContext, id: string): void {
  must(ctx, 'os_compute_api:os-flavor-manage:delete', auth);
  if (!ctx.flavors.delete(id)) throw notFound(id);
}

export function setExtraSpecs(
  ctx: ComputeCtx,
  auth: AuthContext,
  id: string,
  body: unknown,
  key?: string,
): Record<string, string> {
  must(ctx, `os_compute_api:os-flavor-extra-specs:${key ? 'update' : 'create'}`, auth);
  if (!ctx.flavors.get(id)) throw notFound(id);
  let specs: Record<string, unknown>;
  if (key) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('Malformed request body');
    specs = body as Record<string, unknown>;
    if (Object.keys(specs).length !== 1 || !(key in specs)) throw new BadRequest('Request body and URI mismatch');
  } else {
    specs = validate(ExtraSpecs, body).extra_specs;
  }
  const norm = Object.fromEntries(
    Object.entries(specs).map(([k, v]) => {
      if (typeof v === 'object' || v === undefined)
        throw new BadRequest(`Invalid input for field/attribute ${k}. Value must be a string.`);
      return [k, String(v)];
    }),
  );
  ctx.flavors.setExtraSpecs(id, norm);
  return norm;
}

export function addOrRemoveAccess(
  ctx: ComputeCtx,
  auth: AuthContext,
  id: string,
  body: unknown,
): Array<{ flavor_id: string; tenant_id: string }> {
  const b = actionBody(body);
  const f = ctx.flavors.get(id);
  if ('addTenantAccess' in b) {
    must(ctx, 'os_compute_api:os-flavor-access:add_tenant_access', auth);
    const { tenant } = validate(FlavorAccessAction, b.addTenantAccess);
    if (!f) throw notFound(id);
    if (f.is_public) throw new Conflict('Can not add access to a public flavor.');
    if (!ctx.flavors.addProject(id, tenant))
      throw new Conflict(`Flavor access already exists for flavor ${id} and project ${tenant} combination.`);
  } else if ('removeTenantAccess' in b) {
    must(ctx, 'os_compute_api:os-flavor-access:remove_tenant_access', auth);
    const { tenant } = validate(FlavorAccessAction, b.removeTenantAccess);
    if (!f) throw notFound(id);
    if (!ctx.flavors.removeProject(id, tenant)) throw new NotFound(`Flavor access not found for ${id} / ${tenant} combination.`);
  } else {
    throw new BadRequest('There is no such action: ' + (Object.keys(b)[0] ?? ''));
  }
  return accessList(ctx, auth, id, false);
}

export function accessList(
  ctx: ComputeCtx,
  auth: AuthContext,
  id: string,
  check = true,
): Array<{ flavor_id: string; tenant_id: string }> {
  if (check) must(ctx, 'os_compute_api:os-flavor-access', auth);
  const f = ctx.flavors.get(id);
  if (!f) throw notFound(id);
  if (f.is_public) throw new NotFound('Access list not available for public flavors.');
  return ctx.flavors.projects(id).map((p) => ({ flavor_id: id, tenant_id: p }));
}

export const canSeeAllFlavors = (ctx: ComputeCtx, auth: AuthContext) => can(ctx, 'os_compute_api:os-flavor-manage:create', auth);
