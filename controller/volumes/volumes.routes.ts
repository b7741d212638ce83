import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { ctxOf, type AuthContext } from '../http/auth.js';
import { ACCEPTED, OK_EMPTY, volumeActions } from './volume-actions.service.js';
import { volumeMinorOf } from './versions.js';
import { must, volumeBase, type VolumeCtx } from './context.js';
import type { SnapshotRow, VolumeRow } from './volumes.repo.js';
import {
  createSnapshot,
  createVolume,
  deleteSnapshot,
  deleteVolume,
  updateSnapshot,
  updateVolume,
  visibleSnapshot,
  visibleVolume,
} from './volumes.service.js';
import { updateSnapshotStatus } from './snapshot-actions.service.js';
import { links, snapshotView, volumeView } from './view.js';
import { page, SNAPSHOT_SORT_KEYS, sortRows, VOLUME_SORT_KEYS } from './list-params.js';

export { page } from './list-params.js';
import { actionBody } from '../http/json-body.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

/** The caller, with the URL's project checked against the token (Cinder: "Malformed request url"). */
export function authOf(req: Req): AuthContext {
  const auth = ctxOf(req);
  const p = req.params.project_id;
  if (p !== undefined && p !== auth.projectId && !auth.isAdmin) throw new BadRequest('Malformed request url');
  return auth;
}

export const truthy = (v: string | undefined) =>
  v !== undefined && ['1', 'true', 'yes', 'on', 't', 'y'].includes(v.toLowerCase());

/** Which project's rows a list shows: all_tenants only for admins (cinderclient always sends it). */
export function scopeOf(auth: AuthContext, q: Record<string, string | undefined>): string | null {
  if (auth.isAdmin && truthy(q.all_tenants)) return q.project_id ?? null;
  if (auth.isAdmin && q.project_id) return q.project_id;
  return auth.projectId ?? '';
}

/**
 * A boolean list filter's value, as cinder/volume/api.py _check_boolean_filter_value reads
 * it: before 3.2 'False'/'false'/'FALSE' are false, 'True'/'true'/'TRUE' true and any other
 * non-empty string true; from 3.2 (VOLUME_LIST_BOOTABLE) oslo's strict bool_from_string,
 * anything else a 400.
 */
export function booleanFilter(key: string, val: string, minor: number): boolean {
  if (minor >= 2) {
    const s = val.trim().toLowerCase();
    if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
    if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
    throw new BadRequest(`Invalid input received: '${key} = ${val}'`);
  }
  if (['False', 'false', 'FALSE'].includes(val)) return false;
  return val !== '';
}

function filterVolumes(rows: VolumeRow[], q: Record<string, string | undefined>, minor: number): VolumeRow[] {
  let out = rows;
  const name = q.name ?? q.display_name;
  if (name !== undefined) out = out.filter((v) => v.name === name);
  if (q.status) out = out.filter((v) => v.status === q.status);
  if (q.bootable !== undefined) {
    const want = booleanFilter('bootable', q.bootable, minor);
    out = out.filter((v) => (v.bootable === 1) === want);
  }
  if (q.availability_zone) out = out.filter((v) => v.availability_zone === q.availability_zone);
  if (q.metadata) {
    let m: Record<string, string> = {};
    try {
      m = JSON.parse(q.metadata.replace(/'/g, '"')) as Record<string, string>;
    } catch {
      throw new BadRequest('Invalid filter: metadata must be a JSON object.');
    }
    out = out.filter((v) => {
      const vm = JSON.parse(v.metadata) as Record<string, string>;
      return Object.entries(m).every(([k, x]) => vm[k] === x);
    });
  }
  return out;
}

export function volumeRoutes(app: FastifyInstance, ctx: VolumeCtx, prefix: string): void {
  const base = (req: FastifyRequest) => volumeBase(req, ctx);
  const list = (detail: boolean) => async (req: Req) => {
    // GET /volumes/ is a show with an empty id in Cinder's router (404), not the list;
    // the router here ignores trailing slashes, so tell them apart on the raw URL.
    if (!detail && req.url.split('?')[0]!.endsWith('/')) throw new NotFound('The resource could not be found.');
    const auth = authOf(req);
    must(ctx, 'volume:get_all', auth, { project_id: auth.projectId ?? null });
    const rows = sortRows(
      filterVolumes(ctx.repo.listVolumes(scopeOf(auth, req.query)), req.query, volumeMinorOf(req)),
      req.query,
      VOLUME_SORT_KEYS,
    );
    const p = page(rows, req.query);
    const doc: Record<string, unknown> = {
      volumes: p.rows.map((v) =>
        detail
          ? volumeView(ctx, auth, v, base(req))
          : { id: v.id, name: v.name, links: links(base(req), v.project_id, 'volumes', v.id) },
      ),
    };
    if (p.more) {
      const last = p.rows.at(-1)!;
      const qs = new URLSearchParams({
        ...Object.fromEntries(
          Object.entries(req.query).filter(([k, v]) => v !== undefined && k !== 'marker') as Array<[string, string]>,
        ),
        marker: last.id,
      });
      doc.volumes_links = [
        { rel: 'next', href: `${base(req)}/v3/${auth.projectId ?? ''}/volumes${detail ? '/detail' : ''}?${qs}` },
      ];
    }
    if (truthy(req.query.with_count)) doc.count = rows.length;
    return doc;
  };
  app.get(`${prefix}/volumes`, list(false));
  app.get(`${prefix}/volumes/detail`, list(true));
  app.post(`${prefix}/volumes`, async (req: Req, reply: FastifyReply) => {
    const auth = authOf(req);
    const v = createVolume(ctx, auth, req.body, req.id);
    return reply.code(202).send({ volume: volumeView(ctx, auth, v, base(req), { extended: false }) });
  });
  app.get(`${prefix}/volumes/:id`, async (req: Req) => {
    const auth = authOf(req);
    const v = visibleVolume(ctx, auth, req.params.id!);
    must(ctx, 'volume:get', auth, { project_id: v.project_id });
    return { volume: volumeView(ctx, auth, v, base(req)) };
  });
  app.put(`${prefix}/volumes/:id`, async (req: Req) => {
    const auth = authOf(req);
    const v = updateVolume(ctx, auth, req.params.id!, req.body);
    return { volume: volumeView(ctx, auth, v, base(req), { extended: false }) };
  });
  app.delete(`${prefix}/volumes/:id`, async (req: Req, reply: FastifyReply) => {
    deleteVolume(ctx, authOf(req), req.params.id!, req.id, { cascade: truthy(req.query.cascade) });
    return reply.code(202).send();
  });
  app.post(`${prefix}/volumes/:id/action`, async (req: Req, reply: FastifyReply) => {
    const auth = authOf(req);
    const out = await volumeActions(ctx, auth, req.params.id!, req.body, req.id, volumeMinorOf(req));
    if (out === OK_EMPTY) return reply.code(200).send();
    if (out && typeof out === 'object' && ACCEPTED in out) return reply.code(202).send(out[ACCEPTED]);
    return out === undefined ? reply.code(202).send() : reply.code(200).send(out);
  });

  // Snapshots
  const slist = (detail: boolean) => async (req: Req) => {
    const auth = authOf(req);
    must(ctx, 'volume:get_all_snapshots', auth, { project_id: auth.projectId ?? null });
    let rows: SnapshotRow[] = ctx.repo.listSnapshots(scopeOf(auth, req.query));
    const name = req.query.name ?? req.query.display_name;
    if (name !== undefined) rows = rows.filter((s) => s.name === name);
    if (req.query.status) rows = rows.filter((s) => s.status === req.query.status);
    if (req.query.volume_id) rows = rows.filter((s) => s.volume_id === req.query.volume_id);
    const p = page(sortRows(rows, req.query, SNAPSHOT_SORT_KEYS), req.query);
    return {
      snapshots: p.rows.map((s) => snapshotView(s, { extended: detail })),
    };
  };
  app.get(`${prefix}/snapshots`, slist(false));
  app.get(`${prefix}/snapshots/detail`, slist(true));
  app.post(`${prefix}/snapshots`, async (req: Req, reply: FastifyReply) => {
    const s = createSnapshot(ctx, authOf(req), req.body, req.id);
    return reply.code(202).send({ snapshot: snapshotView(s, { extended: false }) });
  });
  app.get(`${prefix}/snapshots/:id`, async (req: Req) => {
    const auth = authOf(req);
    const s = visibleSnapshot(ctx, auth, req.params.id!);
    must(ctx, 'volume:get_snapshot', auth, { project_id: s.project_id });
    return { snapshot: snapshotView(s) };
  });
  app.put(`${prefix}/snapshots/:id`, async (req: Req) => ({
    snapshot: snapshotView(updateSnapshot(ctx, authOf(req), req.params.id!, req.body), { extended: false }),
  }));
  app.delete(`${prefix}/snapshots/:id`, async (req: Req, reply: FastifyReply) => {
    deleteSnapshot(ctx, authOf(req), req.params.id!, req.id);
    return reply.code(202).send();
  });
  app.post(`${prefix}/snapshots/:id/action`, async (req: Req, reply: FastifyReply) => {
    const auth = authOf(req);
    const s = visibleSnapshot(ctx, auth, req.params.id!);
    const b = actionBody(req.body) as Record<string, { status?: string } | undefined>;
    if ('os-force_delete' in b) {
      // cinder/api/contrib/admin_actions.py SnapshotAdminController._force_delete: 202.
      deleteSnapshot(ctx, auth, s.id, req.id, { force: true });
      return reply.code(202).send();
    }
    if ('os-update_snapshot_status' in b) {
      updateSnapshotStatus(ctx, auth, s.id, b['os-update_snapshot_status']);
      return reply.code(202).send();
    }
    if (!('os-reset_status' in b)) throw new BadRequest('There is no such action: ' + Object.keys(b).join(','));
    must(ctx, 'volume_extension:snapshot_admin_actions:reset_status', auth, { project_id: s.project_id });
    const st = b['os-reset_status']?.status;
    if (!st || !['available', 'error', 'creating', 'deleting', 'error_deleting'].includes(st))
      throw new BadRequest(`Invalid input received: bad snapshot status ${String(st)}.`);
    ctx.repo.updateSnapshot(s.id, { status: st });
    return reply.code(202).send();
  });
}
