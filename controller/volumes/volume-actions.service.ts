import { Value } from 'typebox/value';
import { TerminateConnection } from '../../shared/agent/volume.js';
import { ConnectorIn } from '../../shared/api/volume.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { complete, connect, connectorFromApi, removeAttachment, reserve, rollback } from './attachments.service.js';
import { must, type VolumeCtx } from './context.js';
import type { VolumeRow } from './volumes.repo.js';
import { volumeHosts } from './hosts.service.js';
import { deleteVolume } from './volume-delete.service.js';
import { extendVolume, VOLUME_STATUSES, visibleVolume } from './volumes.service.js';
import { uploadVolumeToImage } from './volume-upload.service.js';

/** An action answered 200 without a body (Cinder's @wsgi.response(200) returning None). */
export const OK_EMPTY = Symbol('200, no body');
/** The key of an action's 202 answer that has a body (os-volume_upload_image). */
export const ACCEPTED = Symbol('202 with a body');

const boolOf = (v: unknown): boolean | null => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['true', '1', 'yes', 'on', 't', 'y'].includes(s)) return true;
    if (['false', '0', 'no', 'off', 'f', 'n'].includes(s)) return false;
  }
  return null;
};

/** POST /volumes/{id}/action: one key naming the action. Returns a body (200), OK_EMPTY (200, no body), { [ACCEPTED]: body } (202 with a body) or undefined (202). */
export async function volumeActions(
  ctx: VolumeCtx,
  auth: AuthContext,
  id: string,
  body: unknown,
  requestId?: string,
  minor = 0,
): Promise<unknown> {
  const v = visibleVolume(ctx, auth, id);
  if (!body || typeof body !== 'object' || Object.keys(body).length !== 1)
    throw new BadRequest('Invalid request body: exactly one action is expected.');
  const [action, raw] = Object.entries(body as Record<string, unknown>)[0]!;
  const arg = (raw ?? {}) as Record<string, unknown>;
  const target = { project_id: v.project_id };
  switch (action) {
    case 'os-extend':
      extendVolume(ctx, auth, v, arg, requestId);
      return undefined;
    case 'os-set_bootable': {
      must(ctx, 'volume:update', auth, target);
      const b = boolOf(arg.bootable);
      if (b === null)
        throw new BadRequest(`Invalid value '${String(arg.bootable)}' for bootable. Accepted values are 'true' or 'false'.`);
      ctx.repo.updateVolume(v.id, { bootable: b ? 1 : 0 });
      return OK_EMPTY; // cinder/api/contrib/volume_actions.py _set_bootable: 200, no body
    }
    case 'os-update_readonly_flag': {
      // _volume_readonly_update: 202; the flag is admin metadata that the volume's
      // `metadata` shows as readonly "True"/"False" (cinder/volume/api.py update_readonly_flag).
      must(ctx, 'volume:update_readonly_flag', auth, target);
      const ro = boolOf(arg.readonly);
      if (ro === null) throw new BadRequest("Invalid value for readonly. Accepted values are 'true' or 'false'.");
      const meta = JSON.parse(v.metadata || '{}') as Record<string, string>;
      ctx.repo.updateVolume(v.id, { metadata: JSON.stringify({ ...meta, readonly: ro ? 'True' : 'False' }) });
      return undefined;
    }
    case 'os-volume_upload_image':
      return { [ACCEPTED]: uploadVolumeToImage(ctx, auth, v, arg, { minor, requestId }) };
    case 'os-retype':
      retype(ctx, auth, v, arg);
      return undefined;
    case 'os-force_delete':
      // cinder/api/contrib/admin_actions.py VolumeAdminController._force_delete: 202.
      deleteVolume(ctx, auth, v.id, requestId, { force: true });
      return undefined;
    case 'os-reset_status': {
      must(ctx, 'volume_extension:volume_admin_actions:reset_status', auth, target);
      const st = arg.status;
      if (typeof st !== 'string' || !VOLUME_STATUSES.includes(st))
        throw new BadRequest(`Invalid input received: bad status value ${String(st)}.`);
      if (arg.attach_status === 'detached') ctx.repo.deleteAttachmentsOf(v.id);
      ctx.repo.updateVolume(v.id, { status: st, reason: null });
      return undefined;
    }
    case 'os-reserve': {
      must(ctx, 'volume_extension:volume_actions:reserve', auth, target);
      reserve(ctx, v, { instance: null });
      return undefined;
    }
    case 'os-unreserve': {
      must(ctx, 'volume_extension:volume_actions:unreserve', auth, target);
      for (const a of ctx.repo
        .attachmentsOf(v.id)
        .filter((x) => x.attach_status === 'reserved' || x.attach_status === 'attaching'))
        await rollback(ctx, a, 'unreserved');
      return undefined;
    }
    case 'os-initialize_connection': {
      must(ctx, 'volume_extension:volume_actions:initialize_connection', auth, target);
      if (!Value.Check(ConnectorIn, arg.connector))
        throw new BadRequest('Invalid input received: a connector with an iSCSI initiator is required.');
      const c = connectorFromApi(arg.connector);
      let a = ctx.repo
        .attachmentsOf(v.id)
        .find((x) => x.attach_status === 'reserved' || (x.attach_status === 'attaching' && !x.connector));
      let reserved = false;
      if (!a) {
        a = reserve(ctx, v, { instance: null, host: typeof arg.connector.host === 'string' ? arg.connector.host : null });
        reserved = true;
      }
      try {
        return { connection_info: await connect(ctx, a, c, requestId) };
      } catch (e) {
        if (reserved) await rollback(ctx, a, (e as Error).message);
        throw e;
      }
    }
    case 'os-attach': {
      must(ctx, 'volume_extension:volume_actions:attach', auth, target);
      const instance = typeof arg.instance_uuid === 'string' ? arg.instance_uuid : null;
      const mount = typeof arg.mountpoint === 'string' ? arg.mountpoint : null;
      if (!mount) throw new BadRequest("Invalid input received: 'mountpoint' is required.");
      let a = ctx.repo.attachmentsOf(v.id).find((x) => x.attach_status === 'reserved' || x.attach_status === 'attaching');
      if (!a) a = reserve(ctx, v, { instance });
      ctx.repo.updateAttachment(a.id, {
        instance_uuid: instance ?? a.instance_uuid,
        attached_host: typeof arg.host_name === 'string' ? arg.host_name : a.attached_host,
      });
      complete(ctx, a.id, mount);
      return undefined;
    }
    case 'os-begin_detaching':
      must(ctx, 'volume_extension:volume_actions:begin_detaching', auth, target);
      if (v.status !== 'in-use')
        throw new BadRequest(
          `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`,
        );
      ctx.repo.updateVolume(v.id, { status: 'detaching' }, ['in-use']);
      return undefined;
    case 'os-roll_detaching':
      must(ctx, 'volume_extension:volume_actions:roll_detaching', auth, target);
      ctx.repo.updateVolume(v.id, { status: 'in-use' }, ['detaching']);
      return undefined;
    case 'os-detach': {
      must(ctx, 'volume_extension:volume_actions:detach', auth, target);
      const rows = ctx.repo.attachmentsOf(v.id);
      const want = typeof arg.attachment_id === 'string' ? arg.attachment_id : null;
      const a = want ? rows.find((x) => x.id === want) : rows.length === 1 ? rows[0] : undefined;
      if (!a) {
        if (want) throw new NotFound(`Attachment ${want} could not be found.`, 'VolumeAttachmentNotFound');
        throw new BadRequest(`Invalid volume: Volume ${v.id} is not attached (or has several attachments: name one).`);
      }
      await removeAttachment(ctx, a.id, requestId);
      return undefined;
    }
    case 'os-terminate_connection': {
      must(ctx, 'volume_extension:volume_actions:terminate_connection', auth, target);
      if (!Value.Check(ConnectorIn, arg.connector))
        throw new BadRequest('Invalid input received: a connector with an iSCSI initiator is required.');
      const init = arg.connector.initiator;
      for (const a of ctx.repo.attachmentsOf(v.id)) {
        const c = a.connector ? (JSON.parse(a.connector) as { initiator: string }) : null;
        if (!c || c.initiator !== init || !v.host_id || !ctx.layer) continue;
        await ctx.layer.dispatcher.send(
          {
            hostId: v.host_id,
            route: TerminateConnection,
            body: { id: v.id, connector: c, auth: { username: a.chap_username, password: a.chap_password } },
            resource: { type: 'volume', id: v.id },
            requestId,
          },
          { waitMs: ctx.config.volume.operation_wait_s * 1000 },
        );
        ctx.repo.clearConnector(a.id);
      }
      return undefined;
    }
    default:
      throw new BadRequest(`There is no such action: ${action}`);
  }
}

const RETYPE_REFUSED =
  'Invalid volume: Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.';

/**
 * os-retype (cinder/volume/api.py retype; 202). Homestack's hosts have one back end each and
 * no migration between them, so a retype is served when the new type fits the volume's back
 * end (no volume_backend_name, or the same one): the type changes in place, as Cinder's
 * driver-level retype does. A type naming another back end is refused at once (400
 * NoValidBackend) where Cinder would migrate (migration_policy on-demand) or fail in the
 * scheduler (never).
 */
function retype(ctx: VolumeCtx, auth: AuthContext, v: VolumeRow, arg: Record<string, unknown>): void {
  must(ctx, 'volume:retype', auth, { project_id: v.project_id });
  const want = arg.new_type;
  if (typeof want !== 'string' || want === '') throw new BadRequest("Invalid input received: 'new_type' is required.");
  const policy = arg.migration_policy ?? 'never';
  if (policy !== 'never' && policy !== 'on-demand')
    throw new BadRequest('Invalid input received: migration_policy must be never or on-demand.');
  const t = ctx.repo.getType(want);
  if (!t) throw new NotFound(`Volume type with name ${want} could not be found.`, 'VolumeTypeNotFoundByName');
  if (!['available', 'in-use'].includes(v.status) || t.id === v.volume_type_id)
    throw new BadRequest(RETYPE_REFUSED, 'InvalidVolume');
  const backend = (JSON.parse(t.extra_specs || '{}') as Record<string, string>).volume_backend_name;
  const current = v.backend ?? volumeHosts(ctx).find((h) => h.id === v.host_id)?.backend ?? null;
  if (backend !== undefined && backend !== current)
    throw new BadRequest(`No valid backend was found. Volume type ${t.name} needs back end ${backend}.`, 'NoValidBackend');
  if (!ctx.repo.updateVolume(v.id, { volume_type_id: t.id }, ['available', 'in-use']))
    throw new BadRequest(RETYPE_REFUSED, 'InvalidVolume');
}
