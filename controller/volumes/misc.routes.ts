import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AttachmentCreate, AttachmentUpdate, boolIn, TypeCreate, TypeUpdate } from '../../shared/api/volume.js';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import { validate } from '../http/validate.js';
import { complete, connectorFromApi, connect, removeAttachment, reserve, reserveAndConnect } from './attachments.service.js';
import { must, type VolumeCtx } from './context.js';
import { servicesView, volumeHosts } from './hosts.service.js';
import { defaultQuotas, limitsView, quotaSetView, updateQuotas } from './quotas.service.js';
import { authOf } from './volumes.routes.js';
import { visibleVolume } from './volumes.service.js';
import { attachmentView, typeView } from './view.js';
import { actionBody } from '../http/json-body.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

/** One type per back end reported by a volume host (`volume_backend_name`), made on first sight. */
function ensureBackendTypes(ctx: VolumeCtx): void {
  const have = new Set(ctx.repo.listTypes().map((t) => t.name));
  for (const b of new Set(volumeHosts(ctx).map((h) => h.backend))) {
    if (have.has(b)) continue;
    ctx.repo.insertType({
      id: randomUUID(),
      name: b,
      description: `Volumes on the ${b} back end`,
      is_public: 1,
      extra_specs: JSON.stringify({ volume_backend_name: b }),
    });
  }
}

export function miscRoutes(app: FastifyInstance, ctx: VolumeCtx, prefix: string): void {
  // Volume types
  app.get(`${prefix}/types`, async (req: Req) => {
    must(ctx, 'volume_extension:type_get_all', authOf(req));
    ensureBackendTypes(ctx);
    let rows = ctx.repo.listTypes();
    if (req.query.is_public !== undefined && req.query.is_public !== 'None')
      rows = rows.filter((t) => (t.is_public === 1) === ['true', '1'].includes(req.query.is_public!.toLowerCase()));
    return { volume_types: rows.map((t) => typeView(t)) };
  });
  app.get(`${prefix}/types/default`, async (req: Req) => {
    must(ctx, 'volume_extension:type_get', authOf(req));
    const t = ctx.repo.getType(ctx.config.volume.default_volume_type);
    if (!t) throw new NotFound('Default volume type can not be found.', 'VolumeTypeNotFound');
    return { volume_type: typeView(t) };
  });
  app.get(`${prefix}/types/:id`, async (req: Req) => {
    must(ctx, 'volume_extension:type_get', authOf(req));
    ensureBackendTypes(ctx);
    const t = ctx.repo.getType(req.params.id!);
    if (!t || (t.id !== req.params.id && t.name !== req.params.id))
      throw new NotFound(`Volume type ${req.params.id} could not be found.`, 'VolumeTypeNotFound');
    return { volume_type: typeView(t) };
  });
  app.post(`${prefix}/types`, async (req: Req) => {
    must(ctx, 'volume_extension:types_manage', authOf(req));
    const b = validate(TypeCreate, req.body).volume_type;
    if (ctx.repo.getType(b.name)) throw new BadRequest(`Volume Type ${b.name} already exists.`, 'VolumeTypeExists');
    const pub = b['os-volume-type-access:is_public'];
    const t = ctx.repo.insertType({
      id: randomUUID(),
      name: b.name,
      description: b.description ?? null,
      is_public: pub === false || pub === 'false' ? 0 : 1,
      extra_specs: JSON.stringify(b.extra_specs ?? {}),
    });
    return { volume_type: typeView(t, 'create') };
  });
  // cinder/api/contrib/types_manage.py _update: name, description, is_public; 200 with the type.
  app.put(`${prefix}/types/:id`, async (req: Req) => {
    must(ctx, 'volume_extension:types_manage', authOf(req));
    const b = validate(TypeUpdate, req.body).volume_type;
    const t = ctx.repo.getType(req.params.id!);
    if (!t || t.id !== req.params.id)
      throw new NotFound(`Volume type ${req.params.id} could not be found.`, 'VolumeTypeNotFound');
    if (b.name == null && b.description == null && b.is_public == null)
      throw new BadRequest('Specify volume type name, description, is_public or a combination thereof.');
    if (b.name != null && b.name !== t.name) {
      if (ctx.repo.getType(b.name)) throw new Conflict(`Volume Type ${b.name} already exists.`, 'VolumeTypeExists');
      if (t.name === ctx.config.volume.default_volume_type)
        throw new BadRequest('Default volume type can not be updated.', 'VolumeTypeUpdateFailed');
    }
    ctx.repo.updateType(t.id, {
      name: b.name ?? undefined,
      description: b.description ?? undefined,
      is_public: b.is_public == null ? undefined : boolIn(b.is_public) ? 1 : 0,
    });
    return { volume_type: typeView(ctx.repo.getType(t.id)!, 'update') };
  });
  app.delete(`${prefix}/types/:id`, async (req: Req, reply: FastifyReply) => {
    must(ctx, 'volume_extension:types_manage', authOf(req));
    const t = ctx.repo.getType(req.params.id!);
    if (!t) throw new NotFound(`Volume type ${req.params.id} could not be found.`, 'VolumeTypeNotFound');
    if (t.name === ctx.config.volume.default_volume_type) throw new BadRequest('Default volume type can not be deleted.');
    if (ctx.repo.typeInUse(t.id)) throw new BadRequest(`Target volume type is still in use.`, 'VolumeTypeInUse');
    ctx.repo.deleteType(t.id);
    return reply.code(202).send();
  });

  // Services, zones
  app.get(`${prefix}/os-services`, async (req: Req) => {
    must(ctx, 'volume_extension:services:index', authOf(req));
    return { services: servicesView(ctx, { binary: req.query.binary, host: req.query.host }) };
  });
  app.get(`${prefix}/os-availability-zone`, async (req: Req) => {
    must(ctx, 'volume_extension:availability_zone_list', authOf(req));
    const zones = new Map<string, boolean>([[ctx.config.volume.default_availability_zone, false]]);
    for (const h of volumeHosts(ctx)) zones.set(h.zone, (zones.get(h.zone) ?? false) || (h.up && h.enabled));
    return {
      availabilityZoneInfo: [...zones.entries()].map(([zoneName, available]) => ({ zoneName, zoneState: { available } })),
    };
  });

  // Quotas and limits
  app.get(`${prefix}/os-quota-sets/:tenant`, async (req: Req) => {
    const auth = authOf(req);
    must(ctx, 'volume_extension:quotas:show', auth, { project_id: req.params.tenant! });
    return { quota_set: quotaSetView(ctx, req.params.tenant!, ['true', '1'].includes((req.query.usage ?? '').toLowerCase())) };
  });
  app.get(`${prefix}/os-quota-sets/:tenant/defaults`, async (req: Req) => {
    authOf(req);
    return { quota_set: { id: req.params.tenant, ...defaultQuotas(ctx) } };
  });
  app.put(`${prefix}/os-quota-sets/:tenant`, async (req: Req) => {
    must(ctx, 'volume_extension:quotas:update', authOf(req), { project_id: req.params.tenant! });
    return { quota_set: updateQuotas(ctx, req.params.tenant!, req.body) };
  });
  app.delete(`${prefix}/os-quota-sets/:tenant`, async (req: Req, reply: FastifyReply) => {
    must(ctx, 'volume_extension:quotas:delete', authOf(req), { project_id: req.params.tenant! });
    ctx.repo.deleteQuotas(req.params.tenant!);
    return reply.code(200).send();
  });
  app.get(`${prefix}/limits`, async (req: Req) => {
    const auth = authOf(req);
    const p = auth.isAdmin && req.query.project_id ? req.query.project_id : (auth.projectId ?? '');
    return { limits: limitsView(ctx, p) };
  });

  // v3 attachments API (3.27+ in Cinder; served at 3.0 here because Nova-style clients use it)
  const visibleAttachment = (req: Req) => {
    const auth = authOf(req);
    const a = ctx.repo.getAttachment(req.params.id!);
    if (!a)
      throw new NotFound(
        `Volume attachment could not be found with filter: attachment_id = ${req.params.id}.`,
        'VolumeAttachmentNotFound',
      );
    visibleVolume(ctx, auth, a.volume_id);
    return { auth, a };
  };
  app.get(`${prefix}/attachments`, async (req: Req) => {
    const auth = authOf(req);
    const rows = ctx.repo.listAttachments().filter((a) => {
      const v = ctx.repo.getVolume(a.volume_id);
      return (
        v &&
        (auth.isAdmin || v.project_id === auth.projectId) &&
        (!req.query.volume_id || a.volume_id === req.query.volume_id) &&
        (!req.query.instance_id || a.instance_uuid === req.query.instance_id)
      );
    });
    return {
      attachments: rows.map((a) => ({ id: a.id, volume_id: a.volume_id, instance: a.instance_uuid, status: a.attach_status })),
    };
  });
  app.get(`${prefix}/attachments/detail`, async (req: Req) => {
    const auth = authOf(req);
    const rows = ctx.repo.listAttachments().filter((a) => {
      const v = ctx.repo.getVolume(a.volume_id);
      return v && (auth.isAdmin || v.project_id === auth.projectId);
    });
    return { attachments: rows.map((a) => attachmentView(a)) };
  });
  app.get(`${prefix}/attachments/:id`, async (req: Req) => ({ attachment: attachmentView(visibleAttachment(req).a) }));
  app.post(`${prefix}/attachments`, async (req: Req) => {
    const auth = authOf(req);
    must(ctx, 'volume:attachment_create', auth);
    const b = validate(AttachmentCreate, req.body).attachment;
    const v = visibleVolume(ctx, auth, b.volume_uuid);
    if (b.connector) {
      const { attachment, connection } = await reserveAndConnect(ctx, v, {
        instance: b.instance_uuid ?? null,
        host: typeof b.connector.host === 'string' ? b.connector.host : null,
        connector: connectorFromApi(b.connector),
        mode: b.mode ?? 'rw',
        requestId: req.id,
      });
      return { attachment: attachmentView(attachment, connection) };
    }
    return { attachment: attachmentView(reserve(ctx, v, { instance: b.instance_uuid ?? null, mode: b.mode ?? 'rw' })) };
  });
  app.put(`${prefix}/attachments/:id`, async (req: Req) => {
    const { auth, a } = visibleAttachment(req);
    must(ctx, 'volume:attachment_update', auth);
    const b = validate(AttachmentUpdate, req.body).attachment;
    const connection = await connect(ctx, a, connectorFromApi(b.connector), req.id);
    return { attachment: attachmentView(ctx.repo.getAttachment(a.id)!, connection) };
  });
  app.post(`${prefix}/attachments/:id/action`, async (req: Req, reply: FastifyReply) => {
    const { auth, a } = visibleAttachment(req);
    must(ctx, 'volume:attachment_complete', auth);
    const b = actionBody(req.body);
    if (!('os-complete' in b)) throw new BadRequest(`There is no such action: ${Object.keys(b).join(',')}`);
    complete(ctx, a.id, a.mountpoint);
    return reply.code(204).send();
  });
  app.delete(`${prefix}/attachments/:id`, async (req: Req) => {
    const { auth, a } = visibleAttachment(req);
    must(ctx, 'volume:attachment_delete', auth);
    await removeAttachment(ctx, a.id, req.id);
    return { attachments: [] };
  });
}
