import type { AttachedVolume } from '../../shared/agent/compute.js';
import { BadRequest, Conflict, Forbidden } from '../../shared/errors/index.js';
import { background, must, type ComputeCtx } from './context.js';
import { visibleFlavor } from './flavors.service.js';
import type { HostRef } from './host-gateway.js';
import type { MigrationRow } from './migrations.repo.js';
import {
  adoptVolumes,
  claimDestination,
  connectVolumesFor,
  dropVolumes,
  imageSourceOf,
  moveRequestSpec,
  newMigration,
  NO_VALID_HOST,
  releaseDestination,
  releaseSource,
  transferToken,
  type MovedVolume,
} from './move-common.js';
import { projectQuotas } from './quotas.service.js';
import { instanceSpec } from './server-build.service.js';
import { messageOf } from './host-gateway.js';
import type { ActionEnv, ActionResult } from './server-action-types.js';
import type { FlavorSnapshot, Instance } from './servers.repo.js';
import { checkNotLocked } from './servers.service.js';
import { validate } from '../http/validate.js';
import { Type } from 'typebox';

/**
 * Cold migration (`migrate`, admin) and resize (`resize`, the owner): Nova's states
 * (task resize_prep → resize_migrating → resize_migrated → resize_finish, then vm_state
 * resized = VERIFY_RESIZE; migration pre-migrating → migrating → post-migrating →
 * finished), then confirmResize (the source copy goes) or revertResize (the server comes
 * back as it was). The root disk's top layer goes from the source agent to the
 * destination agent (one-time token), grown there with qemu-img for a bigger flavor; the
 * source copy (domain shut off, disk, volume connections) stays until the confirm.
 */

const ResizeBody = Type.Object(
  {
    flavorRef: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Integer({ minimum: 1 })]),
    'OS-DCF:diskConfig': Type.Optional(Type.Union([Type.Literal('AUTO'), Type.Literal('MANUAL')])),
  },
  { additionalProperties: false },
);

const conflict = (i: Instance, what: string, attr: 'vm_state' | 'task_state') =>
  new Conflict(
    `Cannot '${what}' instance ${i.id} while it is in ${attr} ${attr === 'vm_state' ? i.vm_state : i.task_state}`,
    'InstanceInvalidState',
  );

function snapshotOf(
  ctx: ComputeCtx,
  f: { id: string; name: string; ram: number; vcpus: number; disk: number; ephemeral: number; swap: number },
): FlavorSnapshot {
  return {
    id: f.id,
    name: f.name,
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    ephemeral: f.ephemeral,
    swap: f.swap,
    extra_specs: ctx.flavors.extraSpecs(f.id),
  };
}

/** The checks Nova's compute API makes before a resize or cold migration is accepted. */
function checkMovable(ctx: ComputeCtx, i: Instance, what: string): HostRef {
  if (!['active', 'stopped'].includes(i.vm_state)) throw conflict(i, what, 'vm_state');
  if (i.task_state !== null) throw conflict(i, what, 'task_state');
  if (!i.host || !i.host_id) throw conflict(i, what, 'vm_state');
  const h = ctx.scheduler.cache.all().find((x) => x.id === i.host_id);
  if (!h?.up) throw new Conflict('Service is unavailable at this time.', 'ServiceUnavailable');
  if (!ctx.moves) throw new Conflict('Moving servers is not available on this cloud.', 'ServiceUnavailable');
  return { id: i.host_id, name: i.host };
}

/** `migrate` (null body below 2.56) and `resize`: 202 once the task is set; the move runs in the background. */
export function resizeAction(
  ctx: ComputeCtx,
  env: ActionEnv,
  i: Instance,
  arg: unknown,
  kind: 'migrate' | 'resize',
): ActionResult {
  const { auth, requestId } = env;
  let newFlavor = i.flavor;
  if (kind === 'migrate') {
    if (arg !== null && arg !== undefined && !(typeof arg === 'object' && !Array.isArray(arg) && Object.keys(arg).length === 0))
      throw new BadRequest('Invalid input for field/attribute migrate. Value: not null. Additional properties are not allowed');
    must(ctx, 'os_compute_api:os-migrate-server:migrate', auth, { project_id: i.project_id });
  } else {
    must(ctx, 'os_compute_api:servers:resize', auth, { project_id: i.project_id });
    const b = validate(ResizeBody, arg);
    const id = String(b.flavorRef).split('/').pop()!;
    let f;
    try {
      f = visibleFlavor(ctx, auth, id);
    } catch {
      throw new BadRequest('Unable to locate requested flavor.', 'FlavorNotFound');
    }
    if (f.id === i.flavor.id) throw new BadRequest('When resizing, instances must change flavor!', 'CannotResizeToSameFlavor');
    if (f.disabled) throw new BadRequest('Unable to locate requested flavor.', 'FlavorNotFound');
    newFlavor = snapshotOf(ctx, f);
    if (newFlavor.disk === 0 && i.flavor.disk !== 0 && i.image_ref)
      throw new BadRequest(
        'Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.',
        'CannotResizeDisk',
      );
    // Nova's libvirt driver refuses this in migrate_disk_and_power_off, after the 202; with
    // one driver that always refuses it, the API says so first, in the same words.
    if (i.image_ref && newFlavor.disk < i.flavor.disk)
      throw new BadRequest('Resize error: Unable to resize disk down.', 'ResizeError');
    // Upsizes must fit the project's quota (Nova's _check_quota_for_upsize).
    const q = projectQuotas(ctx, i.project_id);
    const u = ctx.servers.usage(i.project_id);
    const over: string[] = [];
    if (q.cores >= 0 && u.cores + newFlavor.vcpus - i.flavor.vcpus > q.cores && newFlavor.vcpus > i.flavor.vcpus)
      over.push('cores');
    if (q.ram >= 0 && u.ram + newFlavor.ram - i.flavor.ram > q.ram && newFlavor.ram > i.flavor.ram) over.push('ram');
    if (over.length) throw new Forbidden(`Quota exceeded for ${over.join(', ')}.`, 'OverQuota');
  }
  checkNotLocked(ctx, auth, i);
  const source = checkMovable(ctx, i, kind);
  if (
    !ctx.servers.updateIf(
      i.id,
      { vmStates: ['active', 'stopped'], taskState: null },
      { task_state: 'resize_prep', progress: 0 },
      ctx.now().toISOString(),
    )
  )
    throw conflict(ctx.servers.get(i.id) ?? i, kind, 'task_state');
  const action = ctx.actions.start({ instanceId: i.id, action: kind, requestId, projectId: i.project_id, userId: auth.userId });
  const type = newFlavor.id === i.flavor.id ? 'migration' : 'resize';
  const m = newMigration(ctx, i, auth, type, { status: 'pre-migrating', newFlavor });
  background(ctx, `${kind} of ${i.id}`, () =>
    runResize(ctx, { instanceId: i.id, migrationId: m.id, action, source, publicUrl: env.publicUrl }),
  );
  return { status: 202 };
}

/** The move itself; ends in VERIFY_RESIZE, or back as it was with a fault. Never throws. */
async function runResize(
  ctx: ComputeCtx,
  o: { instanceId: string; migrationId: number; action: number; source: HostRef; publicUrl: string },
): Promise<void> {
  const moves = ctx.moves!;
  const { action, source } = o;
  const i = ctx.servers.get(o.instanceId)!;
  const m = ctx.migrations.get(o.migrationId)!;
  const newFlavor = m.new_flavor ?? i.flavor;
  const wasRunning = i.vm_state === 'active';
  let dest: HostRef | null = null;
  let vols: MovedVolume[] = [];
  let stopped = false;
  let portsMoved = false;
  const now = () => ctx.now().toISOString();
  const step = async <T>(name: string, host: HostRef, fn: () => Promise<T>): Promise<T> => {
    const ev = ctx.actions.eventStart(action, name, host.name);
    try {
      const r = await fn();
      ctx.actions.eventFinish(ev, true, undefined, host.name);
      return r;
    } catch (e) {
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      throw e;
    }
  };
  try {
    // 1. A destination (another host unless allow_resize_to_same_host for a resize).
    const ev = ctx.actions.eventStart(action, 'conductor_migrate_server');
    const sameHostOk = ctx.config.compute.allow_resize_to_same_host && m.migration_type === 'resize';
    const claim = claimDestination(
      ctx,
      i,
      m,
      moveRequestSpec(ctx, i, { flavor: newFlavor, ignoreHosts: sameHostOk ? [] : [source.name] }),
    );
    if (!claim.ok) {
      ctx.actions.eventFinish(ev, false, `${NO_VALID_HOST} ${claim.reason}`);
      throw new Error(`${NO_VALID_HOST} ${claim.reason}`);
    }
    dest = claim.host;
    ctx.actions.eventFinish(ev, true, `chose host ${dest.name}`, dest.name);
    if (dest.id === source.id) throw new Error('resizing on the same host is not supported yet: no other host fits');

    // 2. The source stops; the destination gets its disk and volumes.
    ctx.servers.update(i.id, { task_state: 'resize_migrating' }, now());
    ctx.migrations.update(m.id, { status: 'migrating' });
    await step('compute_resize_instance', source, async () => {
      // Whatever happens from here, a failure starts the source again if it was running.
      stopped = wasRunning;
      if (wasRunning) await ctx.gateway.power(source, i.id, 'stop');
    });
    const d = dest;
    await step('compute_prep_resize', d, async () => {
      vols = await connectVolumesFor(ctx, i, d);
      ctx.migrations.update(m.id, { details: { volumes: vols.map(({ connection: _c, ...v }) => v) } });
      const token = transferToken();
      if (i.image_ref) await moves.offer(source, i.id, token, ['disk'], 3600);
      return moves.prepareIncoming(d, {
        uuid: i.id,
        mode: 'cold',
        ...(i.image_ref
          ? {
              image: imageSourceOf(ctx, i, o.publicUrl),
              root_gb: newFlavor.disk,
              fetch: { base_url: moves.agentUrl(source), token, files: ['disk'] },
            }
          : {}),
        volumes: vols.map((v) => ({ volume_id: v.volume_id, connection: v.connection })),
      });
    });

    // 3. It boots on the destination with the new flavor.
    ctx.servers.update(i.id, { task_state: 'resize_migrated' }, now());
    ctx.migrations.update(m.id, { status: 'post-migrating' });
    const nets = ctx.facades.networks;
    const ports = nets?.portsOfDevice(i.id) ?? [];
    for (const p of ports) await nets!.bindPort(p.id, d.name);
    portsMoved = true;
    ctx.servers.update(i.id, { task_state: 'resize_finish' }, now());
    const res = await step('compute_finish_resize', d, async () => {
      const boot = vols.find((v) => v.boot);
      const spec = instanceSpec(
        ctx,
        { ...i, flavor: newFlavor, availability_zone: claim.host.az ?? i.availability_zone },
        ports,
        o.publicUrl,
        boot ? { volume_id: boot.volume_id, attachmentId: boot.attachmentId, connection: boot.connection } : null,
      );
      const data: AttachedVolume[] = vols
        .filter((v) => !v.boot)
        .map((v) => ({ volume_id: v.volume_id, connection: v.connection, device: v.device }));
      const r = await ctx.gateway.spawn(d, {
        ...spec,
        ...(data.length ? { volumes: data } : {}),
        ...(i.image_ref ? { root_disk: 'existing' as const } : {}),
      });
      if (!wasRunning) return ctx.gateway.power(d, i.id, 'stop');
      return r.state;
    });
    await adoptVolumes(ctx, i, vols, false);
    ctx.servers.update(
      i.id,
      {
        host: d.name,
        host_id: d.id,
        flavor: newFlavor,
        flavor_id: newFlavor.id,
        vm_state: 'resized',
        task_state: null,
        power_state: res.power_state,
        progress: 100,
        ...(claim.host.az ? { availability_zone: claim.host.az } : {}),
      },
      now(),
    );
    ctx.migrations.update(m.id, { status: 'finished', dest_host: moves.address(d) });
    ctx.actions.finish(action);
  } catch (e) {
    const msg = messageOf(e);
    ctx.log.warn({ server: i.id, err: msg }, 'resize/migration failed');
    if (dest) {
      await moves
        .cleanup(
          dest,
          i.id,
          vols.map((v) => v.volume_id),
          false,
        )
        .catch((err) => ctx.log.warn({ err }, 'could not clean the destination of a failed resize'));
      await dropVolumes(ctx, vols);
      releaseDestination(ctx, i, m);
    }
    if (portsMoved)
      for (const p of ctx.facades.networks?.portsOfDevice(i.id) ?? [])
        await ctx.facades.networks!.bindPort(p.id, source.name).catch(() => {});
    let power = i.power_state;
    if (stopped) power = (await ctx.gateway.power(source, i.id, 'start').catch(() => null))?.power_state ?? 4;
    ctx.servers.update(
      i.id,
      {
        task_state: null,
        power_state: power,
        vm_state: power === 1 ? 'active' : i.vm_state === 'active' ? 'stopped' : i.vm_state,
      },
      now(),
    );
    ctx.servers.addFault(
      i.id,
      500,
      msg.startsWith(NO_VALID_HOST) ? msg : `Resize of instance ${i.id} failed: ${msg}`,
      msg,
      now(),
    );
    ctx.migrations.update(m.id, { status: 'error', error: msg });
    ctx.actions.finish(action, 'Error');
  }
}

function finishedMigration(ctx: ComputeCtx, i: Instance): MigrationRow {
  const m = ctx.migrations.list({ instanceUuid: i.id, statuses: ['finished'] })[0];
  if (!m) throw new BadRequest(`Migration not found for instance ${i.id} with status finished.`, 'MigrationNotFoundByStatus');
  return m;
}

/** confirmResize: 204; the source copy is removed in the background, the server becomes ACTIVE (or SHUTOFF). */
export function confirmResizeAction(ctx: ComputeCtx, env: ActionEnv, i: Instance): ActionResult {
  must(ctx, 'os_compute_api:servers:confirm_resize', env.auth, { project_id: i.project_id });
  checkNotLocked(ctx, env.auth, i);
  if (i.vm_state !== 'resized') throw conflict(i, 'confirmResize', 'vm_state');
  if (i.task_state !== null) throw conflict(i, 'confirmResize', 'task_state');
  const m = finishedMigration(ctx, i);
  ctx.migrations.update(m.id, { status: 'confirming' });
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'confirmResize',
    requestId: env.requestId,
    projectId: i.project_id,
    userId: env.auth.userId,
  });
  const source: HostRef = { id: m.source_host_id ?? '', name: m.source_compute ?? '' };
  const vols = m.details.volumes ?? [];
  background(ctx, `confirm resize of ${i.id}`, async () => {
    const ev = ctx.actions.eventStart(action, 'compute_confirm_resize', source.name);
    try {
      await ctx.moves!.cleanup(
        source,
        i.id,
        vols.map((v) => v.volume_id),
        true,
      );
      for (const v of vols)
        if (v.oldAttachmentId)
          await ctx.facades.volumes
            ?.detach(v.oldAttachmentId)
            .catch((err) => ctx.log.warn({ err }, 'could not revoke a source attachment'));
      releaseSource(ctx, m);
      ctx.migrations.update(m.id, { status: 'confirmed' });
      const cur = ctx.servers.get(i.id)!;
      ctx.servers.update(
        i.id,
        { vm_state: cur.power_state === 1 ? 'active' : 'stopped', task_state: null },
        ctx.now().toISOString(),
      );
      ctx.actions.eventFinish(ev, true, undefined, source.name);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.eventFinish(ev, false, messageOf(e), source.name);
      ctx.actions.finish(action, 'Error');
      ctx.migrations.update(m.id, { status: 'error', error: messageOf(e) });
      ctx.servers.update(i.id, { vm_state: 'error', task_state: null }, ctx.now().toISOString());
      ctx.servers.addFault(
        i.id,
        500,
        `Confirming the resize of instance ${i.id} failed: ${messageOf(e)}`,
        messageOf(e),
        ctx.now().toISOString(),
      );
    }
  });
  return { status: 204 };
}

/** revertResize: 202; the destination copy goes and the server runs on its source again with its old flavor. */
export function revertResizeAction(ctx: ComputeCtx, env: ActionEnv, i: Instance): ActionResult {
  must(ctx, 'os_compute_api:servers:revert_resize', env.auth, { project_id: i.project_id });
  checkNotLocked(ctx, env.auth, i);
  if (i.vm_state !== 'resized') throw conflict(i, 'revertResize', 'vm_state');
  if (i.task_state !== null) throw conflict(i, 'revertResize', 'task_state');
  const m = finishedMigration(ctx, i);
  if (
    !ctx.servers.updateIf(
      i.id,
      { vmStates: ['resized'], taskState: null },
      { task_state: 'resize_reverting' },
      ctx.now().toISOString(),
    )
  )
    throw conflict(i, 'revertResize', 'task_state');
  ctx.migrations.update(m.id, { status: 'reverting' });
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'revertResize',
    requestId: env.requestId,
    projectId: i.project_id,
    userId: env.auth.userId,
  });
  background(ctx, `revert resize of ${i.id}`, () => runRevert(ctx, i.id, m.id, action));
  return { status: 202 };
}

async function runRevert(ctx: ComputeCtx, instanceId: string, migrationId: number, action: number): Promise<void> {
  const i = ctx.servers.get(instanceId)!;
  const m = ctx.migrations.get(migrationId)!;
  const source: HostRef = { id: m.source_host_id ?? '', name: m.source_compute ?? '' };
  const dest: HostRef = { id: m.dest_host_id ?? '', name: m.dest_compute ?? '' };
  const vols = m.details.volumes ?? [];
  const old = m.old_flavor ?? i.flavor;
  const ev = ctx.actions.eventStart(action, 'compute_revert_resize', dest.name);
  try {
    await ctx.moves!.cleanup(
      dest,
      i.id,
      vols.map((v) => v.volume_id),
      false,
    );
    ctx.actions.eventFinish(ev, true, undefined, dest.name);
    const ev2 = ctx.actions.eventStart(action, 'compute_finish_revert_resize', source.name);
    try {
      for (const v of vols) {
        ctx.servers.setAttachment(i.id, v.volume_id, v.oldAttachmentId);
        await ctx.facades.volumes
          ?.detach(v.attachmentId)
          .catch((err) => ctx.log.warn({ err }, 'could not revoke a destination attachment'));
      }
      for (const p of ctx.facades.networks?.portsOfDevice(i.id) ?? []) await ctx.facades.networks!.bindPort(p.id, source.name);
      releaseDestination(ctx, i, m);
      const wasRunning = i.power_state === 1;
      const st = wasRunning ? await ctx.gateway.power(source, i.id, 'start') : null;
      const az = ctx.scheduler.cache.all().find((h) => h.id === source.id)?.az;
      ctx.servers.update(
        i.id,
        {
          host: source.name,
          host_id: source.id,
          flavor: old,
          flavor_id: old.id,
          vm_state: wasRunning ? 'active' : 'stopped',
          task_state: null,
          power_state: st?.power_state ?? 4,
          ...(az ? { availability_zone: az } : {}),
        },
        ctx.now().toISOString(),
      );
      ctx.migrations.update(m.id, { status: 'reverted' });
      ctx.actions.eventFinish(ev2, true, undefined, source.name);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.eventFinish(ev2, false, messageOf(e), source.name);
      throw e;
    }
  } catch (e) {
    if (ctx.actions.events(action).some((x) => x.id === ev && x.result === null))
      ctx.actions.eventFinish(ev, false, messageOf(e), dest.name);
    ctx.actions.finish(action, 'Error');
    ctx.migrations.update(m.id, { status: 'error', error: messageOf(e) });
    ctx.servers.update(i.id, { vm_state: 'error', task_state: null }, ctx.now().toISOString());
    ctx.servers.addFault(
      i.id,
      500,
      `Reverting the resize of instance ${i.id} failed: ${messageOf(e)}`,
      messageOf(e),
      ctx.now().toISOString(),
    );
  }
}
