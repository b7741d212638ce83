import {
  ConsoleOutputAction,
  CreateBackupAction,
  CreateImageAction,
  LockAction,
  RebootAction,
  RebuildAction,
  ResetStateAction,
} from '../../shared/api/compute.js';
import { BadRequest, Conflict, NotFound, NotImplemented } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { background, must, type ComputeCtx } from './context.js';
import { messageOf, type HostRef, type PowerOp } from './host-gateway.js';
import { instanceSpec } from './server-build.service.js';
import type { Instance } from './servers.repo.js';
import { checkNotLocked, visibleServer } from './servers.service.js';
import { getVncConsoleAction } from './remote-consoles.js';
import { liveMigrateAction } from './live-migration.service.js';
import type { ActionEnv, ActionResult } from './server-action-types.js';
import { confirmResizeAction, resizeAction, revertResizeAction } from './resize.service.js';
import { evacuateAction } from './evacuate.service.js';
import { createVolumeBackedImage } from './volume-backed-image.service.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { toInt, validate } from '../http/validate.js';

/** A power action: allowed states, the task_state shown meanwhile, the state after. */
interface PowerAction {
  policy: string;
  /** Nova's instance-action name. */
  action: string;
  vmStates: string[];
  task: string;
  op: PowerOp;
  after: string;
}

const POWER: Record<string, PowerAction> = {
  'os-start': {
    policy: 'os_compute_api:servers:start',
    action: 'start',
    vmStates: ['stopped'],
    task: 'powering-on',
    op: 'start',
    after: 'active',
  },
  'os-stop': {
    policy: 'os_compute_api:servers:stop',
    action: 'stop',
    vmStates: ['active', 'error'],
    task: 'powering-off',
    op: 'stop',
    after: 'stopped',
  },
  pause: {
    policy: 'os_compute_api:os-pause-server:pause',
    action: 'pause',
    vmStates: ['active'],
    task: 'pausing',
    op: 'pause',
    after: 'paused',
  },
  unpause: {
    policy: 'os_compute_api:os-pause-server:unpause',
    action: 'unpause',
    vmStates: ['paused'],
    task: 'unpausing',
    op: 'unpause',
    after: 'active',
  },
  suspend: {
    policy: 'os_compute_api:os-suspend-server:suspend',
    action: 'suspend',
    vmStates: ['active', 'paused'],
    task: 'suspending',
    op: 'suspend',
    after: 'suspended',
  },
  resume: {
    policy: 'os_compute_api:os-suspend-server:resume',
    action: 'resume',
    vmStates: ['suspended'],
    task: 'resuming',
    op: 'resume',
    after: 'active',
  },
};

/** Nova's 409 for an action in the wrong state. */
function wrongState(i: Instance, what: string, attr: 'vm_state' | 'task_state'): Conflict {
  return new Conflict(
    `Cannot '${what}' instance ${i.id} while it is in ${attr} ${attr === 'vm_state' ? i.vm_state : i.task_state}`,
    'InstanceInvalidState',
  );
}

function hostOf(ctx: ComputeCtx, i: Instance, what: string): HostRef {
  if (!i.host_id || !i.host)
    throw new Conflict(`Cannot '${what}' instance ${i.id} while it is in vm_state ${i.vm_state}`, 'InstanceInvalidState');
  return { id: i.host_id, name: i.host };
}

/**
 * Sets the task state (compare-and-set on vm_state and task_state None) before the 202,
 * then runs the host operation in the background; the result sets vm_state and
 * power_state, a failure clears the task and is recorded as an event.
 */
function runPower(
  ctx: ComputeCtx,
  auth: AuthContext,
  i: Instance,
  a: PowerAction,
  requestId: string,
  opts: { vmStates?: string[]; task?: string; op?: PowerOp; action?: string } = {},
): void {
  const vmStates = opts.vmStates ?? a.vmStates;
  const what = opts.action ?? a.action;
  if (!vmStates.includes(i.vm_state)) throw wrongState(i, what, 'vm_state');
  if (i.task_state !== null) throw wrongState(i, what, 'task_state');
  const host = hostOf(ctx, i, what);
  const task = opts.task ?? a.task;
  if (!ctx.servers.updateIf(i.id, { vmStates, taskState: null }, { task_state: task }, ctx.now().toISOString()))
    throw wrongState(i, what, 'task_state');
  const action = ctx.actions.start({ instanceId: i.id, action: what, requestId, projectId: i.project_id, userId: auth.userId });
  background(ctx, `${what} ${i.id}`, async () => {
    const ev = ctx.actions.eventStart(action, `compute_${what.replace(/-/g, '_')}_instance`, host.name);
    try {
      const st = await ctx.gateway.power(host, i.id, opts.op ?? a.op, requestId);
      ctx.servers.updateIf(
        i.id,
        { taskState: task },
        { vm_state: a.after, task_state: null, power_state: st.power_state },
        ctx.now().toISOString(),
      );
      ctx.actions.eventFinish(ev, true, undefined, host.name);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.servers.updateIf(i.id, { taskState: task }, { task_state: null }, ctx.now().toISOString());
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      ctx.actions.finish(action, 'Error');
      ctx.log.warn({ err: e, server: i.id, action: what }, 'server action failed');
    }
  });
}

export type { ActionEnv, ActionResult } from './server-action-types.js';

/** POST /servers/{id}/action: one key names the action. */
export async function serverAction(ctx: ComputeCtx, env: ActionEnv, id: string, body: unknown): Promise<ActionResult> {
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1) {
    throw new BadRequest('Malformed request body: exactly one action is expected.');
  }
  const [name, arg] = Object.entries(body as Record<string, unknown>)[0]!;
  const { auth, requestId } = env;
  const i = visibleServer(ctx, auth, id);

  const power = POWER[name];
  if (power) {
    must(ctx, power.policy, auth, { project_id: i.project_id });
    checkNotLocked(ctx, auth, i);
    runPower(ctx, auth, i, power, requestId);
    return { status: 202 };
  }
  switch (name) {
    case 'reboot': {
      must(ctx, 'os_compute_api:servers:reboot', auth, { project_id: i.project_id });
      const hard = validate(RebootAction, arg).type.toUpperCase() === 'HARD';
      checkNotLocked(ctx, auth, i);
      runPower(
        ctx,
        auth,
        i,
        { ...POWER['os-start']!, after: 'active' },
        requestId,
        hard
          ? {
              vmStates: ['active', 'stopped', 'paused', 'suspended', 'error'],
              task: 'rebooting_hard',
              op: 'reboot_hard',
              action: 'reboot',
            }
          : { vmStates: ['active'], task: 'rebooting', op: 'reboot_soft', action: 'reboot' },
      );
      return { status: 202 };
    }
    case 'os-getConsoleOutput': {
      must(ctx, 'os_compute_api:os-console-output', auth, { project_id: i.project_id });
      const a = validate(ConsoleOutputAction, arg);
      let length: number | null = null;
      if (a?.length !== undefined && a.length !== null) {
        length = toInt(a.length, 'length');
        if (length < -1) throw new BadRequest('Invalid input for field/attribute length. Value: ' + length + '. must be >= -1');
        if (length === -1) length = null;
      }
      if (!i.host || !['active', 'stopped', 'paused', 'suspended', 'error'].includes(i.vm_state)) {
        throw new Conflict('Guest does not have a console available.', 'ConsoleNotAvailable');
      }
      const host = hostOf(ctx, i, 'get console output');
      let out: string;
      try {
        out = await ctx.gateway.consoleLog(host, i.id);
      } catch (e) {
        throw new Conflict(`Guest does not have a console available: ${messageOf(e)}`, 'ConsoleNotAvailable');
      }
      if (length !== null) {
        const lines = out.split('\n');
        if (lines.at(-1) === '') lines.pop();
        out = length === 0 ? '' : lines.slice(-length).join('\n');
      }
      return { status: 200, body: { output: out } };
    }
    case 'os-migrateLive':
      return liveMigrateAction(ctx, env, i, arg);
    case 'migrate':
    case 'resize':
      return resizeAction(ctx, env, i, arg, name);
    case 'confirmResize':
      return confirmResizeAction(ctx, env, i);
    case 'revertResize':
      return revertResizeAction(ctx, env, i);
    case 'evacuate':
      return evacuateAction(ctx, env, i, arg);
    case 'trigger_crash_dump': {
      if (!env.version || !mvAtLeast(env.version, '2.17')) throw new BadRequest(`There is no such action: ${name}`);
      must(ctx, 'os_compute_api:servers:trigger_crash_dump', auth, { project_id: i.project_id });
      if (arg !== null) throw new BadRequest('Invalid input for field/attribute trigger_crash_dump. Value: not null.');
      checkNotLocked(ctx, auth, i);
      if (!['active', 'paused', 'resized', 'rescued', 'error'].includes(i.vm_state)) throw wrongState(i, name, 'vm_state');
      if (i.task_state !== null) throw wrongState(i, name, 'task_state');
      const host = hostOf(ctx, i, name);
      if (!ctx.gateway.crashDump) throw new Conflict('Triggering a crash dump is not available on this cloud.');
      const action = ctx.actions.start({
        instanceId: i.id,
        action: 'trigger_crash_dump',
        requestId,
        projectId: i.project_id,
        userId: auth.userId,
      });
      try {
        await ctx.gateway.crashDump(host, i.id);
        ctx.actions.event(action, 'compute_trigger_crash_dump', true, undefined, host.name);
        ctx.actions.finish(action);
      } catch (e) {
        ctx.actions.event(action, 'compute_trigger_crash_dump', false, messageOf(e), host.name);
        ctx.actions.finish(action, 'Error');
        if ((e as { code?: string }).code === 'InvalidState') throw wrongState(i, name, 'vm_state');
        throw e;
      }
      return { status: 202 };
    }
    case 'os-getVNCConsole':
      // Nova serves the action from 2.1 to 2.5; from 2.6 it is POST /remote-consoles.
      if (env.version && mvAtLeast(env.version, '2.6')) throw new NotFound('The resource could not be found.');
      return { status: 200, body: await getVncConsoleAction(ctx, ctx.consoles, auth, i, arg, env.publicUrl) };
    case 'lock':
    case 'unlock': {
      must(ctx, `os_compute_api:os-lock-server:${name}`, auth, { project_id: i.project_id });
      if (name === 'lock') validate(LockAction, arg);
      if (name === 'unlock' && i.locked && i.locked_by === 'admin' && !auth.isAdmin) {
        must(ctx, 'os_compute_api:os-lock-server:unlock:unlock_override', auth, { project_id: i.project_id });
      }
      const by = i.project_id === auth.projectId ? 'owner' : 'admin';
      ctx.servers.update(
        i.id,
        name === 'lock' ? { locked: true, locked_by: by } : { locked: false, locked_by: null },
        ctx.now().toISOString(),
      );
      ctx.actions.finish(
        ctx.actions.start({ instanceId: i.id, action: name, requestId, projectId: i.project_id, userId: auth.userId }),
      );
      return { status: 202 };
    }
    case 'os-resetState': {
      must(ctx, 'os_compute_api:os-admin-actions:reset_state', auth, { project_id: i.project_id });
      const { state } = validate(ResetStateAction, arg);
      ctx.servers.update(i.id, { vm_state: state, task_state: null }, ctx.now().toISOString());
      ctx.actions.finish(
        ctx.actions.start({ instanceId: i.id, action: 'resetState', requestId, projectId: i.project_id, userId: auth.userId }),
      );
      return { status: 202 };
    }
    case 'createImage': {
      must(ctx, 'os_compute_api:servers:create_image', auth, { project_id: i.project_id });
      const a = validate(CreateImageAction, arg);
      return createImage(ctx, env, i, { name: a.name, metadata: a.metadata, what: 'createImage' });
    }
    case 'createBackup': {
      must(ctx, 'os_compute_api:os-create-backup', auth, { project_id: i.project_id });
      const a = validate(CreateBackupAction, arg);
      if (Number(a.rotation) < 0)
        throw new BadRequest(
          `Invalid input for field/attribute rotation. Value: ${a.rotation}. ${a.rotation} is less than the minimum of 0`,
        );
      return createImage(ctx, env, i, {
        name: a.name,
        metadata: a.metadata,
        what: 'createBackup',
        backup: { type: a.backup_type, rotation: Number(a.rotation) },
      });
    }
    case 'rebuild':
      return rebuild(ctx, env, i, arg);
    default:
      throw new BadRequest(`There is no such action: ${name}`);
  }
}

/**
 * createImage: the Glance record exists (queued) before the 202; the agent then
 * uploads a consistent copy of the root disk to it. Location header below 2.45,
 * `{"image_id"}` from 2.45.
 */
async function createImage(
  ctx: ComputeCtx,
  env: ActionEnv,
  i: Instance,
  a: {
    name: string;
    metadata?: Record<string, string>;
    what: 'createImage' | 'createBackup';
    /** createBackup: image_type backup with backup_type; afterwards the newest `rotation` of that type are kept. */
    backup?: { type: string; rotation: number };
  },
): Promise<ActionResult> {
  const { auth, requestId } = env;
  const what = a.what;
  const task = a.backup ? 'image_backup' : 'image_snapshot'; // Nova's task_states
  if (!['active', 'stopped', 'paused', 'suspended'].includes(i.vm_state)) throw wrongState(i, what, 'vm_state');
  if (i.task_state !== null) throw wrongState(i, what, 'task_state');
  if (!i.image_ref) {
    // nova/compute/api.py backup(): InvalidRequest → 400; snapshot(): snapshot_volume_backed.
    if (a.backup) throw new BadRequest('Backup is not supported for volume-backed instances.');
    return createVolumeBackedImage(ctx, env, i, { name: a.name, metadata: a.metadata });
  }
  const host = hostOf(ctx, i, what);
  const images = ctx.facades.images;
  const identity = ctx.facades.identity;
  if (!images || !identity) throw new Conflict('The image service is not available.');
  const base = images.get(null, i.image_ref);
  const img = images.createRecord(auth, {
    name: a.name,
    owner: i.project_id,
    disk_format: 'qcow2',
    container_format: 'bare',
    min_disk: Math.max(i.flavor.disk, base?.min_disk ?? 0),
    min_ram: base?.min_ram ?? 0,
    visibility: 'private',
    properties: {
      ...(a.metadata ?? {}),
      image_type: a.backup ? 'backup' : 'snapshot',
      ...(a.backup ? { backup_type: a.backup.type } : {}),
      instance_uuid: i.id,
      base_image_ref: i.image_ref,
      user_id: auth.userId,
      ...(base?.properties.architecture ? { architecture: base.properties.architecture } : {}),
    },
  });
  if (!ctx.servers.updateIf(i.id, { taskState: null }, { task_state: task }, ctx.now().toISOString())) {
    images.kill(img.id, 'the server changed state');
    throw wrongState(i, what, 'task_state');
  }
  const action = ctx.actions.start({
    instanceId: i.id,
    action: what,
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  background(ctx, `snapshot ${i.id}`, async () => {
    const ev = ctx.actions.eventStart(action, 'compute_snapshot_instance', host.name);
    try {
      await ctx.gateway.snapshot(
        host,
        i.id,
        {
          image_id: img.id,
          upload_url: `${env.publicUrl}/image/v2/images/${img.id}/file`,
          token: identity.serviceToken(),
          disk_format: 'qcow2',
        },
        requestId,
      );
      // The agent uploads before it answers: an image still without data means the upload never happened.
      const after = images.get(null, img.id);
      if (after && (after.status === 'queued' || after.status === 'saving')) {
        throw new Error(`the host reported the snapshot done but image ${img.id} is still ${after.status}`);
      }
      if (a.backup) await rotateBackups(ctx, i, a.backup);
      ctx.actions.eventFinish(ev, true, undefined, host.name);
      ctx.actions.finish(action);
    } catch (e) {
      try {
        images.kill(img.id, messageOf(e));
      } catch (err) {
        ctx.log.warn({ err, image: img.id }, 'could not mark a failed snapshot image killed');
      }
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      ctx.actions.finish(action, 'Error');
    } finally {
      ctx.servers.updateIf(i.id, { taskState: task }, { task_state: null }, ctx.now().toISOString());
    }
  });
  const location = `${env.publicUrl}/image/v2/images/${img.id}`;
  if (env.imageApiVersionAtLeast245) return { status: 202, body: { image_id: img.id } };
  // Nova: createBackup with rotation 0 gives no Location.
  return a.backup?.rotation === 0 ? { status: 202 } : { status: 202, headers: { Location: location } };
}

/**
 * Nova's _rotate_backups: the server's backup images of this type (image_type backup,
 * backup_type, instance_uuid), newest first; those beyond `rotation` are deleted.
 */
async function rotateBackups(ctx: ComputeCtx, i: Instance, b: { type: string; rotation: number }): Promise<void> {
  const images = ctx.facades.images!;
  const all = images.withProperties(i.project_id, { image_type: 'backup', backup_type: b.type, instance_uuid: i.id });
  for (const old of all.slice(b.rotation)) {
    try {
      await images.remove(old.id);
    } catch (err) {
      ctx.log.warn({ err, image: old.id }, 'backup rotation could not delete an old backup image');
    }
  }
}

/** rebuild: the same host and ports, a new root disk from the (new) image. */
async function rebuild(ctx: ComputeCtx, env: ActionEnv, i: Instance, arg: unknown): Promise<ActionResult> {
  const { auth, requestId } = env;
  must(ctx, 'os_compute_api:servers:rebuild', auth, { project_id: i.project_id });
  checkNotLocked(ctx, auth, i);
  const a = validate(RebuildAction, arg);
  const imageId = a.imageRef.split('/').pop()!;
  const img = ctx.facades.images?.get(auth, imageId);
  if (!img) throw new BadRequest(`Image ${imageId} could not be found.`, 'ImageNotFound');
  if (img.status !== 'active') throw new BadRequest(`Image ${imageId} is not active.`, 'ImageNotActive');
  if (!i.image_ref) throw new NotImplemented('Rebuilding a volume-backed server is not supported yet.');
  const what = 'rebuild';
  const states = ['active', 'stopped', 'error'];
  if (!states.includes(i.vm_state)) throw wrongState(i, what, 'vm_state');
  if (i.task_state !== null) throw wrongState(i, what, 'task_state');
  const host = hostOf(ctx, i, what);
  const fields: Partial<Instance> = { task_state: 'rebuilding', image_ref: imageId };
  if (a.name) fields.name = a.name;
  if (a.metadata) fields.metadata = a.metadata;
  if (a.description !== undefined) fields.description = a.description;
  if (!ctx.servers.updateIf(i.id, { vmStates: states, taskState: null }, fields, ctx.now().toISOString()))
    throw wrongState(i, what, 'task_state');
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'rebuild',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  background(ctx, `rebuild ${i.id}`, async () => {
    const ev = ctx.actions.eventStart(action, 'compute_rebuild_instance', host.name);
    try {
      const cur = ctx.servers.get(i.id)!;
      const ports = ctx.facades.networks?.portsOfDevice(i.id) ?? [];
      await ctx.gateway.destroy(host, i.id, requestId);
      const res = await ctx.gateway.spawn(host, instanceSpec(ctx, cur, ports, env.publicUrl), requestId);
      const now = ctx.now().toISOString();
      ctx.servers.update(
        i.id,
        { vm_state: 'active', task_state: null, power_state: res.state.power_state, launched_at: now },
        now,
      );
      ctx.actions.eventFinish(ev, true, undefined, host.name);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      ctx.actions.finish(action, 'Error');
      const now = ctx.now().toISOString();
      ctx.servers.update(i.id, { vm_state: 'error', task_state: null, power_state: 0 }, now);
      ctx.servers.addFault(i.id, 500, `Rebuild of instance ${i.id} failed: ${messageOf(e)}`, messageOf(e), now);
    }
  });
  return { status: 202, showServer: true };
}
