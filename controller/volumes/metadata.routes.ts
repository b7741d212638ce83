import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MetadataBody, MetaItemBody } from '../../shared/api/volume.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { validate } from '../http/validate.js';
import { must, type VolumeCtx } from './context.js';
import { visibleSnapshot, visibleVolume } from './visible.js';
import { authOf } from './volumes.routes.js';

type Req = FastifyRequest<{ Params: Record<string, string> }>;
type Meta = Record<string, string>;

/** Where a resource's metadata lives: volumes and snapshots share Cinder's metadata controller shape. */
interface Owner {
  collection: 'volumes' | 'snapshots';
  /** Cinder's policy names (cinder/policies/volume_metadata.py, snapshot_metadata.py). */
  rules: { get: string; update: string; delete: string };
  read(ctx: VolumeCtx, req: Req): { id: string; project_id: string; metadata: string };
  write(ctx: VolumeCtx, id: string, m: Meta): void;
}

const OWNERS: Owner[] = [
  {
    collection: 'volumes',
    rules: {
      get: 'volume:get_volume_metadata',
      update: 'volume:update_volume_metadata',
      delete: 'volume:delete_volume_metadata',
    },
    read: (ctx, req) => visibleVolume(ctx, authOf(req as never), req.params.id!),
    write: (ctx, id, m) => void ctx.repo.updateVolume(id, { metadata: JSON.stringify(m) }),
  },
  {
    collection: 'snapshots',
    rules: {
      get: 'volume:get_snapshot_metadata',
      update: 'volume:update_snapshot_metadata',
      delete: 'volume:delete_snapshot_metadata',
    },
    read: (ctx, req) => visibleSnapshot(ctx, authOf(req as never), req.params.id!),
    write: (ctx, id, m) => void ctx.repo.updateSnapshot(id, { metadata: JSON.stringify(m) }),
  },
];

const parse = (s: string): Meta => {
  try {
    return (JSON.parse(s) as Meta) ?? {};
  } catch {
    return {};
  }
};

/**
 * /{volumes|snapshots}/{id}/metadata as cinder/api/v3/volume_metadata.py and
 * cinder/api/v2/snapshot_metadata.py: POST merges and answers the whole set, PUT replaces it
 * and answers what was sent, /metadata/{key} shows, replaces (`meta` with exactly that one
 * key) or deletes one item; all 200. An absent key is 404 "Metadata item was not found".
 * The resource and the policy are checked before the body (Cinder's schema decorator runs
 * first): a caller who may not write gets 403/404, never a hint from the validator.
 */
export function metadataRoutes(app: FastifyInstance, ctx: VolumeCtx, prefix: string): void {
  for (const o of OWNERS) {
    const base = `${prefix}/${o.collection}/:id/metadata`;
    const load = (req: Req, rule: string) => {
      const r = o.read(ctx, req);
      must(ctx, rule, authOf(req as never), { project_id: r.project_id });
      return { r, m: parse(r.metadata) };
    };
    app.get(base, async (req: Req) => ({ metadata: load(req, o.rules.get).m }));
    app.post(base, async (req: Req) => {
      const { r, m } = load(req, o.rules.update);
      const b = validate(MetadataBody, req.body);
      const next = { ...m, ...b.metadata };
      o.write(ctx, r.id, next);
      return { metadata: next };
    });
    app.put(base, async (req: Req) => {
      const { r } = load(req, o.rules.update);
      const b = validate(MetadataBody, req.body);
      o.write(ctx, r.id, b.metadata);
      return { metadata: b.metadata };
    });
    app.get(`${base}/:key`, async (req: Req) => {
      const { m } = load(req, o.rules.get);
      const k = req.params.key!;
      if (!Object.hasOwn(m, k)) throw new NotFound('Metadata item was not found', 'MetadataItemNotFound');
      return { meta: { [k]: m[k] } };
    });
    app.put(`${base}/:key`, async (req: Req) => {
      const { r, m } = load(req, o.rules.update);
      const b = validate(MetaItemBody, req.body);
      const k = req.params.key!;
      const keys = Object.keys(b.meta);
      if (keys.length > 1) throw new BadRequest('Request body contains too many items');
      if (keys[0] !== k) throw new BadRequest('Request body and URI mismatch');
      o.write(ctx, r.id, { ...m, [k]: b.meta[k]! });
      return { meta: { [k]: b.meta[k]! } };
    });
    app.delete(`${base}/:key`, async (req: Req, reply: FastifyReply) => {
      const { r, m } = load(req, o.rules.delete);
      const k = req.params.key!;
      if (!Object.hasOwn(m, k)) throw new NotFound('Metadata item was not found', 'MetadataItemNotFound');
      const { [k]: _gone, ...rest } = m;
      o.write(ctx, r.id, rest);
      return reply.code(200).send();
    });
  }
}
