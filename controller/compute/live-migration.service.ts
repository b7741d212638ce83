import { BadRequest, Conflict } from '../../shared/errors/index.js';
import { background, must, type ComputeCtx } from './context.js';
import { HostOpError, type HostRef } from './host-gateway.js';
import type { MigrationRow } from './migrations.repo.js';
import {
  adoptVolumes,
  claimDestination,
  computeHostNamed,
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
import { jobEnded, watchDestination, whereItRuns, type AdoptedVolume } from './live-migration-watch.js';
import { messageOf } from './host-gateway.js';
import type { ActionEnv, ActionResult } from './server-action-types.js';
import type { Instance } from './servers.repo.js';
import { checkNotLocked } from './servers.service.js';
import { mvAtLeast } from './versions.js';

const GiB = 1024 ** 3;
const TRUE = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE = ['0', 'f', 'false', 'off', 'n', 'no'];

/** Nova's parameter_types.boolean (a JSON boolean or its string forms); 'auto' where allowed. */
function boolArg(v: unknown, name: string, auto = false): boolean | 'auto' {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (auto && v === 'auto') return 'auto';
    if (TRUE.includes(s)) return true;
    if (FALSE.includes(s)) return false;
  }
  throw new BadRequest(
    `Invalid input for field/attribute ${name}. Value: ${JSON.stringify(v)}. is not valid under any of the given schemas`,
  );
}

/** The os-migrateLive body by microversion (nova/api/openstack/compute/schemas/migrate_server.py). */
function parseBody(arg: unknown, env: ActionEnv): { host: string | null; block: boolean | 'auto'; force: boolean } {
  const v = env.version;
  if (!arg || typeof arg !== 'object' || Array.isArray(arg))
    throw new BadRequest("Invalid input for field/attribute os-migrateLive. Value: null. None is not of type 'object'");
  const a = arg as Record<string, unknown>;
  const v225 = v && mvAtLeast(v, '2.25');
  const v230 = v && mvAtLeast(v, '2.30');
  const allowed = ['block_migration', 'host', ...(v225 ? [] : ['disk_over_commit']), ...(v230 ? ['force'] : [])];
  for (const k of Object.keys(a))
    if (!allowed.includes(k)) throw new BadRequest(`Additional properties are not allowed ('${k}' was unexpected)`);
  for (const k of ['block_migration', 'host', ...(v225 ? [] : ['disk_over_commit'])])
    if (!(k in a)) throw new BadRequest(`'${k}' is a required property`);
  const host = a.host;
  if (host !== null && (typeof host !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(host)))
    throw new BadRequest(`Invalid input for field/attribute host. Value: ${JSON.stringify(host)}.`);
  const block = boolArg(a.block_migration, 'block_migration', Boolean(v225));
  if (!v225) boolArg(a.disk_over_commit, 'disk_over_commit');
  const force = v230 && 'force' in a ? (boolArg(a.force, 'force') as boolean) : false;
  if (force && !host) throw new BadRequest("Can't force to a non-provided destination");
  return { host: (host as string | null) || null, block, force };
}

const conflict = (i: Instance, attr: 'vm_state' | 'task_state', what = 'os-migrateLive') =>
  new Conflict(
    `Cannot '${what}' instance ${i.id} while it is in ${attr} ${attr === 'vm_state' ? i.vm_state : i.task_state}`,
    'InstanceInvalidState',
  );

/**
 * os-migrateLive (admin by default). Below 2.34, as in Nova, the checks and the choice of
 * a destination happen before the answer: a refusal is a 400 (no valid host, unknown
 * host, the server's own host, a disk that needs a block migration). Then 202 and the
 * move runs in the background (runLiveMigration).
 */
export async function liveMigrateAction(ctx: ComputeCtx, env: ActionEnv, i: Instance, arg: unknown): Promise<ActionResult> {
  const { auth, requestId } = env;
  const body = parseBody(arg, env);
  must(
    ctx,
    body.host ? 'os_compute_api:os-migrate-server:migrate_live:host' : 'os_compute_api:os-migrate-server:migrate_live',
    auth,
    {
      project_id: i.project_id,
    },
  );
  checkNotLocked(ctx, auth, i);
  if (!['active', 'paused'].includes(i.vm_state)) throw conflict(i, 'vm_state');
  if (i.task_state !== null) throw conflict(i, 'task_state');
  if (!i.host || !i.host_id) throw conflict(i, 'vm_state');
  const moves = ctx.moves;
  if (!moves) throw new Conflict('Live migration is not available on this cloud.', 'ServiceUnavailable');
  const target = body.host ? computeHostNamed(ctx, body.host) : null;
  if (target && target.id === i.host_id)
    throw new BadRequest(`Unable to migrate instance (${i.id}) to current host (${i.host}).`, 'UnableToMigrateToSelf');
  if (body.block === false && i.image_ref)
    throw new BadRequest(
      `${i.host} is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks.`,
      'InvalidSharedStorage',
    );
  if (
    !ctx.servers.updateIf(
      i.id,
      { vmStates: ['active', 'paused'], taskState: null },
      { task_state: 'migrating' },
      ctx.now().toISOString(),
    )
  )
    throw conflict(ctx.servers.get(i.id) ?? i, 'task_state');
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'live-migration',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  const m = newMigration(ctx, i, auth, 'live-migration', { status: 'accepted' });
  const ev = ctx.actions.eventStart(action, 'conductor_live_migrate_instance');
  const claim = claimDestination(ctx, i, m, moveRequestSpec(ctx, i, { ignoreHosts: [i.host], host: target?.name ?? null }));
  if (!claim.ok) {
    ctx.actions.eventFinish(ev, false, `${NO_VALID_HOST} ${claim.reason}`);
    ctx.actions.finish(action, 'Error');
    ctx.migrations.update(m.id, { status: 'error', error: claim.reason });
    ctx.servers.updateIf(i.id, { taskState: 'migrating' }, { task_state: null }, ctx.now().toISOString());
    throw new BadRequest(`${NO_VALID_HOST} ${claim.reason}`, 'NoValidHost');
  }
  ctx.actions.eventFinish(ev, true, `chose host ${claim.host.name}`, claim.host.name);
  const source: HostRef = { id: i.host_id, name: i.host };
  background(ctx, `live migration of ${i.id}`, () =>
    runLiveMigration(ctx, { instanceId: i.id, migrationId: m.id, action, source, dest: claim.host, publicUrl: env.publicUrl }),
  );
  return { status: 202 };
}

export class StepFailure extends Error {
  constructor(
    readonly step: string,
    readonly host: string,
    override readonly cause: unknown,
  ) {
    super(`${step} on ${host}: ${messageOf(cause)}`);
  }
}

/**
 * The move: destination prepared (ports wired on both hosts, volumes attached for it,
 * config drive and base image there, empty root disk), libvirt's migration driven by the
 * source, then the destination adopted (ports bound, volumes' source attachments
 * revoked, the source's claim freed) and the source cleaned. Any failure leaves the
 * server running where it was, as it was, with the failed step and the tool's words in
 * the instance action and fault; the destination is cleaned and its claim released.
 * Never throws.
 */
export async function runLiveMigration(
  ctx: ComputeCtx,
  o: {
    instanceId: string;
    migrationId: number;
    action: number;
    source: HostRef;
    dest: HostRef & { az?: string };
    publicUrl: string;
  },
): Promise<void> {
  const moves = ctx.moves!;
  const { source, dest, action } = o;
  const m0 = ctx.migrations.get(o.migrationId)!;
  let i = ctx.servers.get(o.instanceId)!;
  let vols: MovedVolume[] = [];
  ctx.liveMigrations.set(i.id, m0.id);
  const step = async <T>(name: string, host: HostRef, fn: () => Promise<T>, details?: (r: T) => string): Promise<T> => {
    const ev = ctx.actions.eventStart(action, name, host.name);
    try {
      const r = await fn();
      ctx.actions.eventFinish(ev, true, details?.(r), host.name);
      return r;
    } catch (e) {
      ctx.actions.eventFinish(ev, false, messageOf(e), host.name);
      throw new StepFailure(name, host.name, e);
    }
  };
  try {
    // 1. The destination.
    ctx.migrations.update(m0.id, { status: 'preparing', dest_host: moves.address(dest) });
    const prepareRest = async () => {
      vols = await connectVolumesFor(ctx, i, dest);
      ctx.migrations.update(m0.id, { details: { volumes: vols.map(({ connection: _c, ...v }) => v) } });
      // The config drive (when the server has one: compute.force_config_drive) is copied first:
      // libvirt cannot copy a read-only disk.
      const files: Array<'disk.config'> = i.config_drive === 'True' ? ['disk.config'] : [];
      const token = transferToken();
      if (files.length) await moves.offer(source, i.id, token, files, 600);
      return moves.prepareIncoming(dest, {
        uuid: i.id,
        mode: 'live',
        ...(i.image_ref ? { image: imageSourceOf(ctx, i, o.publicUrl), root_virtual_size: i.flavor.disk * GiB } : {}),
        ...(files.length ? { fetch: { base_url: moves.agentUrl(source), token, files } } : {}),
        volumes: vols.map((v) => ({ volume_id: v.volume_id, connection: v.connection })),
      });
    };
    const prep = await step('compute_pre_live_migration', dest, async () => {
      // The ports are wired on the destination (its agent's sync) while the rest is prepared.
      const wired = ctx.facades.networks?.setPortsMigrating?.(i.id, dest.name);
      const [, prepared] = await Promise.all([wired, prepareRest()]);
      return prepared;
    });

    // 2. libvirt moves it (the source drives, over TLS).
    ctx.migrations.update(m0.id, { status: 'running' });
    const watch = watchDestination(ctx, source, dest, i.id);
    const poll = setInterval(() => {
      void moves
        .progress(source, i.id)
        .then((p) => {
          if (p.stats) ctx.migrations.update(m0.id, progressFields(p.stats));
        })
        .catch(() => {});
      watch.probe();
    }, 2000);
    poll.unref();
    let r: Awaited<ReturnType<typeof moves.liveMigrate>>;
    try {
      r = await step(
        'compute_live_migration',
        source,
        () =>
          moves.liveMigrate(source, {
            uuid: i.id,
            dest: { address: moves.address(dest), instance_dir: prep.instance_dir, console_host: prep.console_host },
            copy_storage: i.image_ref ? 'inc' : 'none',
            volumes: vols.map((v) => ({ volume_id: v.volume_id, auth_username: v.connection.data.auth_username })),
            max_downtime_ms: ctx.config.compute.live_migration_downtime_ms,
            timeout_s: ctx.config.compute.live_migration_timeout_s,
          }),
        (x) => `${x.ms} ms${x.stats?.downtime_ms !== undefined ? `, downtime ${x.stats.downtime_ms} ms` : ''}`,
      );
    } catch (e) {
      if (watch.lost()) throw new StepFailure('compute_live_migration', dest.name, new Error(watch.lost()!));
      // The source's agent went away mid-call (killed, restarted): libvirtd and `virsh
      // migrate` outlive it, so the job may still run. Wait until the source says no job
      // runs, then the hosts say where the guest runs.
      if (e instanceof StepFailure && e.cause instanceof HostOpError && e.cause.code === 'AgentUnavailable')
        await jobEnded(ctx, source, i.id, ctx.config.compute.live_migration_timeout_s + 300);
      // Did it move after all (an error after the switch-over)? The hosts say where it runs.
      if ((await whereItRuns(ctx, source, dest, i.id)) !== 'dest') throw e;
      ctx.log.warn(
        { server: i.id, err: messageOf(e) },
        'the live migration reported a failure but the guest runs on the destination',
      );
      r = { ms: 0, stats: null };
    } finally {
      clearInterval(poll);
    }
    if (r.stats) ctx.migrations.update(m0.id, progressFields(r.stats));

    // 3. The destination adopts it.
    await adoptAtDestination(ctx, o.instanceId, { migrationId: m0.id, action, source, dest, vols });
  } catch (e) {
    await rollback(ctx, i, ctx.migrations.get(m0.id)!, {
      source,
      dest,
      vols,
      migrated: e instanceof MovedFailure,
      action,
      error: e,
    });
  } finally {
    ctx.liveMigrations.delete(i.id);
  }
}

/**
 * Step 3 and the end of a move whose guest runs on the destination: the instance is the
 * destination's (ports bound there, the volumes' destination attachments adopted, a
 * guest paused to force completion resumed), the source's allocation is freed, the
 * migration is completed and the source cleaned in the background (durably). Each
 * part is idempotent: a controller restarted half-way runs it again (recovery).
 */
export async function adoptAtDestination(
  ctx: ComputeCtx,
  instanceId: string,
  o: { migrationId: number; action: number; source: HostRef; dest: HostRef & { az?: string }; vols: AdoptedVolume[] },
): Promise<void> {
  const { source, dest, action, vols } = o;
  const moves = ctx.moves!;
  ctx.migrations.update(o.migrationId, { status: 'post-migrating' });
  let i = ctx.servers.get(instanceId)!;
  const ev = ctx.actions.eventStart(action, 'compute_post_live_migration_at_destination', dest.name);
  try {
    const now = ctx.now().toISOString();
    ctx.servers.update(i.id, { host: dest.name, host_id: dest.id, ...(dest.az ? { availability_zone: dest.az } : {}) }, now);
    const nets = ctx.facades.networks;
    for (const p of nets?.portsOfDevice(i.id) ?? []) await nets!.bindPort(p.id, dest.name);
    await nets?.setPortsMigrating?.(i.id, null);
    await adoptVolumes(ctx, i, vols);
    // A guest paused to force the migration to complete runs again.
    i = ctx.servers.get(i.id)!;
    let st = (await ctx.gateway.listInstances(dest)).find((x) => x.uuid === i.id);
    if (st && st.power_state === 3 && i.vm_state === 'active') st = await ctx.gateway.power(dest, i.id, 'unpause');
    ctx.servers.update(i.id, { task_state: null, power_state: st?.power_state ?? i.power_state }, ctx.now().toISOString());
    ctx.actions.eventFinish(ev, true, undefined, dest.name);
  } catch (e) {
    ctx.actions.eventFinish(ev, false, messageOf(e), dest.name);
    throw new MovedFailure('compute_post_live_migration_at_destination', dest.name, e);
  }
  releaseSource(ctx, ctx.migrations.get(o.migrationId)!);
  ctx.migrations.update(o.migrationId, { status: 'completed' });
  ctx.actions.finish(action);
  // 4. The source's leftovers (files, CHAP secrets), durably.
  void moves
    .cleanup(
      source,
      i.id,
      vols.map((v) => v.volume_id),
      true,
    )
    .then(() => ctx.actions.event(action, 'compute_live_migration_cleanup', true, undefined, source.name))
    .catch((err) => {
      ctx.actions.event(action, 'compute_live_migration_cleanup', false, messageOf(err), source.name);
      ctx.log.warn({ err, server: i.id }, 'could not clean the source after a live migration');
    });
}

/** The guest moved, then adopting it failed. */
class MovedFailure extends StepFailure {}

function progressFields(s: {
  memory_total: number;
  memory_processed: number;
  memory_remaining: number;
  disk_total: number;
  disk_processed: number;
  disk_remaining: number;
}): Partial<MigrationRow> {
  return {
    memory_total: s.memory_total,
    memory_processed: s.memory_processed,
    memory_remaining: s.memory_remaining,
    disk_total: s.disk_total,
    disk_processed: s.disk_processed,
    disk_remaining: s.disk_remaining,
  };
}

/**
 * Puts everything back as before the move (the guest still runs on the source). The
 * destination's clean-up is durable and not awaited: a destination whose agent is gone
 * is cleaned when it answers again, and the guest does not wait for it.
 */
export async function rollback(
  ctx: ComputeCtx,
  i: Instance,
  m: MigrationRow,
  o: { source: HostRef; dest: HostRef; vols: AdoptedVolume[]; migrated: boolean; action: number; error: unknown },
): Promise<void> {
  const moves = ctx.moves!;
  const msg = messageOf(o.error);
  const aborted =
    o.error instanceof StepFailure && o.error.cause instanceof HostOpError && o.error.cause.code === 'MigrationAborted';
  if (o.migrated) {
    // It runs on the destination but adopting it failed: keep it there, say so.
    ctx.log.error({ server: i.id, err: msg }, 'live migration finished but the destination could not adopt the server');
    ctx.servers.update(i.id, { task_state: null, vm_state: 'error' }, ctx.now().toISOString());
    ctx.servers.addFault(
      i.id,
      500,
      `Live migration of instance ${i.id} failed after the move: ${msg}`,
      msg,
      ctx.now().toISOString(),
    );
    ctx.migrations.update(m.id, { status: 'error', error: msg });
    ctx.actions.finish(o.action, 'Error');
    return;
  }
  const ev = ctx.actions.eventStart(o.action, 'compute_rollback_live_migration', o.source.name);
  try {
    void moves
      .cleanup(
        o.dest,
        i.id,
        o.vols.map((v) => v.volume_id),
        true,
      )
      .then(() => ctx.actions.event(o.action, 'compute_rollback_live_migration_destination', true, undefined, o.dest.name))
      .catch((err) => {
        ctx.actions.event(o.action, 'compute_rollback_live_migration_destination', false, messageOf(err), o.dest.name);
        ctx.log.warn({ err, server: i.id }, 'could not clean the destination after a failed live migration');
      });
    await ctx.facades.networks?.setPortsMigrating?.(i.id, null);
    await dropVolumes(ctx, o.vols);
    releaseDestination(ctx, i, m);
    ctx.actions.eventFinish(ev, true, undefined, o.source.name);
  } catch (err) {
    ctx.actions.eventFinish(ev, false, messageOf(err), o.source.name);
  }
  const now = ctx.now().toISOString();
  ctx.servers.updateIf(i.id, { taskState: 'migrating' }, { task_state: null }, now);
  if (!aborted) ctx.servers.addFault(i.id, 500, `Live migration of instance ${i.id} failed: ${msg}`, msg, now);
  ctx.migrations.update(m.id, { status: aborted ? 'cancelled' : 'error', error: msg });
  ctx.actions.finish(o.action, 'Error');
}
