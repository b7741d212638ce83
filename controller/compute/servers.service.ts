import { ServerTagsRepo } from './server-tags.repo.js';
import { ServerUpdate } from '../../shared/api/compute.js';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { background, boolParam, can, must, type ComputeCtx } from './context.js';
import { messageOf, type HostRef } from './host-gateway.js';
import { isBuilding, markDeleted, setError } from './server-build.service.js';
import type { Instance, ListFilter } from './servers.repo.js';
import { addressesOf, vmStatesOf } from './servers-view.js';
import { quotaLimit } from './quotas.service.js';
import { toInt, validate } from '../http/validate.js';

export const serverNotFound = (id: string) => new NotFound(`Instance ${id} could not be found.`, 'InstanceNotFound');

/** The server if `auth` may see it (own project, or admin); 404 otherwise (never 403: no leaks). */
export function visibleServer(ctx: ComputeCtx, auth: AuthContext, id: string): Instance {
  const i = ctx.servers.get(id);
  if (!i || (i.project_id !== auth.projectId && !can(ctx, 'os_compute_api:servers:detail:get_all_tenants', auth)))
    throw serverNotFound(id);
  return i;
}

/** Python's re.search semantics are close enough to JS for Nova's name filter; bad patterns match literally. */
function nameRegex(s: string): RegExp {
  try {
    return new RegExp(s);
  } catch {
    return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

export interface ListResult {
  servers: Instance[];
  /** The marker of the next page when the page is full. */
  next: string | null;
}

/** GET /servers[/detail] with Nova's filters. */
export function listServers(
  ctx: ComputeCtx,
  auth: AuthContext,
  q: Record<string, string | undefined>,
  detail: boolean,
): ListResult {
  must(ctx, `os_compute_api:servers:${detail ? 'detail' : 'index'}`, auth, { project_id: auth.projectId });
  const admin = can(ctx, 'os_compute_api:servers:allow_all_filters', auth);
  const f: ListFilter = {};
  const all = q.all_tenants !== undefined && (q.all_tenants === '' || boolParam(q.all_tenants) !== false);
  if (all) {
    must(ctx, `os_compute_api:servers:${detail ? 'detail' : 'index'}:get_all_tenants`, auth);
    if (q.project_id ?? q.tenant_id) f.projectId = q.project_id ?? q.tenant_id;
  } else if (admin && (q.project_id ?? q.tenant_id)) {
    f.projectId = q.project_id ?? q.tenant_id;
  } else {
    if (!auth.projectId) return { servers: [], next: null };
    f.projectId = auth.projectId;
  }
  if (q.name) f.name = nameRegex(q.name);
  if (q.status) {
    const st = vmStatesOf(q.status);
    if (!st) return { servers: [], next: null };
    f.vmStates = st.vm;
    if (st.task) f.taskStates = st.task;
  }
  if (q.host && admin) f.host = q.host;
  if (q['changes-since']) {
    const d = new Date(q['changes-since']);
    if (Number.isNaN(d.getTime())) throw new BadRequest(`Invalid filter field: changes-since.`);
    f.changesSince = d.toISOString();
    f.withDeleted = true;
  }
  if (admin && boolParam(q.deleted) === true) {
    f.withDeleted = true;
    f.vmStates = ['deleted'];
  }
  if (q.image) f.image = q.image.split('/').pop();
  if (q.flavor) f.flavor = q.flavor.split('/').pop();
  if (q.reservation_id) f.reservationId = q.reservation_id;
  if (q.user_id && admin) f.userId = q.user_id;
  if (q.marker) {
    const m = ctx.servers.get(q.marker, true);
    if (!m) throw new BadRequest(`marker [${q.marker}] not found`);
    f.markerSeq = m.seq;
  }
  let limit: number | undefined;
  if (q.limit !== undefined) {
    limit = toInt(q.limit, 'limit');
    if (limit < 0) throw new BadRequest('limit must be >= 0');
    limit = Math.min(limit, 1000);
  }
  const tagged = ['tags', 'tags-any', 'not-tags', 'not-tags-any'].some((k) => q[k] !== undefined);
  let rows = ctx.servers.list({ ...f, limit: q.ip || q.ip6 || tagged ? undefined : limit });
  if (q.ip || q.ip6) {
    const re = nameRegex((q.ip ?? q.ip6)!);
    rows = rows.filter((i) => Object.values(addressesOf(ctx, i.id)).some((l) => l.some((a) => re.test(String(a.addr)))));
  }
  if (tagged) {
    // Nova's tag filters (2.26): tags = all of, tags-any = one of, not-tags = not all of, not-tags-any = none of.
    const tagsOf = new ServerTagsRepo(ctx.db).byInstances(rows.map((i) => i.id));
    const split = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : null);
    const [all, any, notAll, notAny] = [split(q.tags), split(q['tags-any']), split(q['not-tags']), split(q['not-tags-any'])];
    rows = rows.filter((i) => {
      const t = tagsOf.get(i.id) ?? [];
      if (all && !all.every((x) => t.includes(x))) return false;
      if (any && !any.some((x) => t.includes(x))) return false;
      if (notAll && notAll.every((x) => t.includes(x))) return false;
      if (notAny && notAny.some((x) => t.includes(x))) return false;
      return true;
    });
  }
  if ((q.ip || q.ip6 || tagged) && limit !== undefined) rows = rows.slice(0, limit);
  const next = limit !== undefined && limit > 0 && rows.length === limit ? rows[rows.length - 1]!.id : null;
  return { servers: rows, next };
}

export function updateServer(ctx: ComputeCtx, auth: AuthContext, id: string, body: unknown): Instance {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:servers:update', auth, { project_id: i.project_id });
  const s = validate(ServerUpdate, body).server;
  const fields: Partial<Instance> = {};
  if (s.name !== undefined) {
    if (!s.name.trim())
      throw new BadRequest('Invalid input for field/attribute name. The name must not be empty or only spaces.');
    fields.name = s.name;
  }
  if (s.description !== undefined) fields.description = s.description;
  if (s.accessIPv4 !== undefined) fields.access_ipv4 = s.accessIPv4;
  if (s.accessIPv6 !== undefined) fields.access_ipv6 = s.accessIPv6;
  ctx.servers.update(id, fields, ctx.now().toISOString());
  return ctx.servers.get(id)!;
}

/** Nova's lock check: a locked server refuses changes unless the caller is an admin. */
export function checkNotLocked(ctx: ComputeCtx, auth: AuthContext, i: Instance): void {
  if (i.locked && !can(ctx, 'os_compute_api:os-lock-server:unlock:unlock_override', auth, { project_id: i.project_id })) {
    throw new Conflict(`Instance ${i.id} is locked`, 'InstanceIsLocked');
  }
}

/**
 * DELETE /servers/{id}: task_state deleting now (204), the work after the response:
 * destroy on the host, release ports, volumes and the claim, then the row is gone
 * (GET answers 404). A build in progress notices and cleans up itself.
 */
export function deleteServer(ctx: ComputeCtx, auth: AuthContext, id: string, requestId: string): void {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:servers:delete', auth, { project_id: i.project_id });
  checkNotLocked(ctx, auth, i);
  if (i.task_state === 'deleting' && isBuilding(ctx, id)) return;
  ctx.servers.update(id, { task_state: 'deleting' }, ctx.now().toISOString());
  const action = ctx.actions.start({ instanceId: id, action: 'delete', requestId, projectId: i.project_id, userId: auth.userId });
  if (isBuilding(ctx, id)) {
    ctx.actions.finish(action);
    return;
  }
  background(ctx, `delete ${id}`, () => runDelete(ctx, id, action, requestId));
}

export async function runDelete(ctx: ComputeCtx, id: string, action: number, requestId?: string): Promise<void> {
  const i = ctx.servers.get(id);
  if (!i) return;
  const host = i.host_id ? ctx.hosts.get(i.host_id) : undefined;
  if (host && host.state === 'up') {
    const ev = ctx.actions.eventStart(action, 'compute_terminate_instance', host.name);
    try {
      await ctx.gateway.destroy(host, id, requestId);
      ctx.actions.eventFinish(ev, true, undefined, host.name);
    } catch (e) {
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      ctx.actions.finish(action, 'Error');
      setError(ctx, id, 500, `Failed to delete instance ${id}: ${messageOf(e)}`, messageOf(e));
      return;
    }
  } else if (host) {
    // Nova's "local delete": the host is down; its agent removes the leftover domain on reconciliation.
    ctx.actions.event(action, 'compute_terminate_instance', true, `host ${host.name} is down: deleted locally`, host.name);
  }
  if (ctx.facades.networks) {
    await ctx.facades.networks
      .releaseServerPorts(id)
      .catch((err) => ctx.log.warn({ err, server: id }, 'could not release the ports of a deleted server'));
  }
  if (ctx.facades.volumes) {
    for (const b of ctx.servers.attachedVolumes(id)) {
      try {
        if (b.attachment_id) await ctx.facades.volumes.detach(b.attachment_id);
        if (b.delete_on_termination) await ctx.facades.volumes.delete(b.volume_id);
      } catch (err) {
        ctx.log.warn({ err, server: id, volume: b.volume_id }, 'could not detach a volume of a deleted server');
      }
    }
  }
  ctx.scheduler.release(id);
  markDeleted(ctx, id);
  ctx.actions.finish(action);
}

/** Server metadata (GET/PUT/POST /servers/{id}/metadata[/key]); quota metadata_items. */
export function metadataOf(ctx: ComputeCtx, auth: AuthContext, id: string): Record<string, string> {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:server-metadata:index', auth, { project_id: i.project_id });
  return i.metadata;
}

function checkMeta(md: unknown): Record<string, string> {
  if (!md || typeof md !== 'object' || Array.isArray(md))
    throw new BadRequest('Malformed request body: metadata must be an object.');
  for (const [k, v] of Object.entries(md)) {
    if (!k || k.length > 255)
      throw new BadRequest('Invalid input for field/attribute metadata. Keys must be 1 to 255 characters.');
    if (typeof v !== 'string' || v.length > 255)
      throw new BadRequest(`Invalid input for field/attribute ${k}. Value must be a string of at most 255 characters.`);
  }
  return md as Record<string, string>;
}

function saveMeta(ctx: ComputeCtx, auth: AuthContext, i: Instance, md: Record<string, string>): Record<string, string> {
  const limit = quotaLimit(ctx, i.project_id, 'metadata_items');
  if (limit >= 0 && Object.keys(md).length > limit)
    throw new Forbidden('Quota exceeded for metadata_items: too many metadata items.', 'MetadataLimitExceeded');
  checkNotLocked(ctx, auth, i);
  ctx.servers.update(i.id, { metadata: md }, ctx.now().toISOString());
  return md;
}

export function setMetadata(
  ctx: ComputeCtx,
  auth: AuthContext,
  id: string,
  body: unknown,
  replace: boolean,
): Record<string, string> {
  const i = visibleServer(ctx, auth, id);
  must(ctx, `os_compute_api:server-metadata:${replace ? 'update_all' : 'create'}`, auth, { project_id: i.project_id });
  const md = checkMeta((body as { metadata?: unknown } | null)?.metadata);
  return saveMeta(ctx, auth, i, replace ? md : { ...i.metadata, ...md });
}

export function setMetaItem(ctx: ComputeCtx, auth: AuthContext, id: string, key: string, body: unknown): Record<string, string> {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:server-metadata:update', auth, { project_id: i.project_id });
  const meta = checkMeta((body as { meta?: unknown } | null)?.meta);
  if (Object.keys(meta).length !== 1 || !(key in meta)) throw new BadRequest('Request body and URI mismatch');
  saveMeta(ctx, auth, i, { ...i.metadata, ...meta });
  return meta;
}

export function deleteMetaItem(ctx: ComputeCtx, auth: AuthContext, id: string, key: string): void {
  const i = visibleServer(ctx, auth, id);
  must(ctx, 'os_compute_api:server-metadata:delete', auth, { project_id: i.project_id });
  if (!(key in i.metadata)) throw new NotFound('Metadata item was not found');
  const { [key]: _gone, ...rest } = i.metadata;
  saveMeta(ctx, auth, i, rest);
}
