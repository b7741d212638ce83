import { PowerState, type InstanceState } from '../../shared/agent/compute.js';
import { background, type ComputeCtx } from './context.js';
import type { HostRef } from './host-gateway.js';
import { runDelete } from './servers.service.js';
import { FINAL_STATUSES } from './move-common.js';
import { resumeLiveMigrations } from './live-migration-recovery.js';

export interface ReconcileReport {
  /** Instances whose power_state / vm_state changed. */
  updated: Array<{ id: string; vm_state: string; power_state: number }>;
  /** Reported uuids that belong to no live instance on this host: destroyed. */
  destroyed: string[];
  /** Reported uuids we do not know yet (destroyed if still there after the grace period). */
  unknown: string[];
}

/**
 * Nova's _sync_power_states for one host: the hypervisor is the truth for power
 * state. Instances with a task in progress are left alone. An instance the hypervisor
 * does not run becomes SHUTOFF (power NOSTATE); a stopped domain of an ACTIVE server
 * becomes SHUTOFF; a running domain of a SHUTOFF one becomes ACTIVE. Domains (and
 * instance directories without a domain, `orphanDirs`) that belong to no live instance
 * of this host are destroyed, logged: at once when the controller knows the instance as
 * settled elsewhere or nowhere (an aborted build in ERROR, a server rescheduled to
 * another host), after `graceMs` when it does not know the uuid.
 */
export async function reconcileHost(
  ctx: ComputeCtx,
  host: HostRef,
  reported: InstanceState[],
  graceMs = 10 * 60_000,
  orphanDirs: string[] = [],
): Promise<ReconcileReport> {
  const report: ReconcileReport = { updated: [], destroyed: [], unknown: [] };
  const byId = new Map(reported.map((r) => [r.uuid, r]));
  const now = ctx.now();
  for (const i of ctx.servers.byHost(host.id)) {
    if (i.task_state !== null || i.vm_state === 'building' || ctx.building.has(i.id)) continue;
    const r = byId.get(i.id);
    const power = r ? r.power_state : PowerState.NOSTATE;
    let vm = i.vm_state;
    if (vm === 'active' && (power === PowerState.SHUTDOWN || power === PowerState.CRASHED || power === PowerState.NOSTATE))
      vm = 'stopped';
    else if (vm === 'active' && power === PowerState.PAUSED) vm = 'paused';
    else if ((vm === 'stopped' || vm === 'paused') && power === PowerState.RUNNING) vm = 'active';
    else if (vm === 'suspended' && power === PowerState.RUNNING) vm = 'active';
    if (vm !== i.vm_state || power !== i.power_state) {
      if (
        ctx.servers.updateIf(
          i.id,
          { vmStates: [i.vm_state], taskState: null },
          { vm_state: vm, power_state: power },
          now.toISOString(),
        )
      ) {
        report.updated.push({ id: i.id, vm_state: vm, power_state: power });
        ctx.log.info(
          { server: i.id, host: host.name, from: [i.vm_state, i.power_state], to: [vm, power] },
          'power state synced from the hypervisor',
        );
      }
    }
  }
  // Moves under way keep their copies on both hosts (an incoming domain, the source kept
  // until a resize is confirmed); the copy an evacuation left on this host is stale.
  const moving = new Set<string>();
  const evacuatedFrom = new Map<string, number[]>();
  for (const m of ctx.migrations.unfinishedOnHost(host.id, FINAL_STATUSES)) {
    if (m.migration_type === 'evacuation' && m.source_host_id === host.id)
      evacuatedFrom.set(m.instance_uuid, [...(evacuatedFrom.get(m.instance_uuid) ?? []), m.id]);
    else moving.add(m.instance_uuid);
  }
  const seen = ctx.strays;
  // Domains, and instance directories with no domain (what a spawn killed half-way
  // leaves), that belong to no live instance of this host.
  const candidates = [...reported.map((r) => r.uuid), ...orphanDirs.filter((u) => !byId.has(u))];
  for (const uuid of candidates) {
    const i = ctx.servers.get(uuid, true);
    const evacuated = evacuatedFrom.get(uuid);
    const live = i && !i.deleted && i.host_id === host.id && !evacuated;
    if (live || (i && ctx.building.has(i.id)) || moving.has(uuid)) {
      seen.delete(uuid);
      continue;
    }
    // An instance the controller knows, settled (no task, not building) and placed
    // elsewhere or nowhere (an aborted build in ERROR): nothing will run it here again.
    const settledElsewhere = Boolean(evacuated || (i && !i.deleted && i.task_state === null && i.vm_state !== 'building'));
    const first = seen.get(uuid) ?? now.getTime();
    seen.set(uuid, first);
    if (
      !settledElsewhere &&
      now.getTime() - first < graceMs &&
      !(i?.deleted && i.deleted_at && now.getTime() - Date.parse(i.deleted_at) >= graceMs)
    ) {
      report.unknown.push(uuid);
      continue;
    }
    ctx.log.warn(
      {
        host: host.name,
        uuid,
        known: Boolean(i),
        domain: byId.has(uuid),
        instance_host: i?.host ?? null,
        vm_state: i?.vm_state ?? null,
      },
      'destroying a domain or instance directory that belongs to no instance of this host',
    );
    try {
      await ctx.gateway.destroy(host, uuid);
      seen.delete(uuid);
      report.destroyed.push(uuid);
      // Nova's _destroy_evacuated_instances: the evacuation is complete once the source is clean.
      for (const id of evacuated ?? []) {
        const m = ctx.migrations.get(id);
        if (m) ctx.placement.release(m.uuid);
        ctx.migrations.update(id, { status: 'completed' });
      }
    } catch (err) {
      ctx.log.warn({ err, uuid }, 'could not destroy a stray domain');
    }
  }
  return report;
}

/** Asks one host what it runs (with its instance directories) and reconciles it. */
export async function syncHost(ctx: ComputeCtx, h: HostRef): Promise<ReconcileReport> {
  if (ctx.gateway.inventory) {
    const inv = await ctx.gateway.inventory(h);
    return reconcileHost(ctx, h, inv.instances, undefined, inv.orphanDirs);
  }
  return reconcileHost(ctx, h, await ctx.gateway.listInstances(h));
}

/** Asks every up compute host what it runs and reconciles it (the periodic job). */
export async function syncAllHosts(ctx: ComputeCtx): Promise<void> {
  const hosts = ctx.scheduler.cache.all().filter((h) => h.up && h.roles.includes('compute'));
  for (const h of hosts) {
    try {
      await syncHost(ctx, h);
    } catch (err) {
      ctx.log.warn({ err, host: h.name }, 'could not sync the power states of a host');
    }
  }
}

/**
 * At controller start: work that was running in the previous process is lost. A
 * build that was interrupted ends in ERROR at once (its host is told to destroy the
 * domain, queued after any spawn still pending for it, so nothing is left; those
 * destroys run side by side and are awaited before this returns), deletes are
 * resumed, and power tasks are cleared (the power-state sync sets the real state).
 * An interrupted snapshot or backup (createImage, createBackup) is cleared as Nova's
 * init_host does, and its image, which will never get its data, is deleted.
 */
export async function recoverInterrupted(ctx: ComputeCtx): Promise<{
  failedBuilds: string[];
  resumedDeletes: string[];
  clearedTasks: string[];
  rolledBackAttaches: string[];
  completedAttaches: string[];
}> {
  const out = {
    failedBuilds: [] as string[],
    resumedDeletes: [] as string[],
    clearedTasks: [] as string[],
    rolledBackAttaches: [] as string[],
    completedAttaches: [] as string[],
  };
  // Live migrations the previous process drove are settled by where the guest runs.
  resumeLiveMigrations(ctx, (what, fn) => background(ctx, what, fn));
  const rows = ctx.servers.unsettled();
  // Moves (live and cold migrations, resizes, evacuations) are not cleared here.
  const movingTasks = ['migrating', 'resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish', 'resize_reverting'];
  const destroys: Array<Promise<void>> = [];
  for (const { id } of rows) {
    if (ctx.building.has(id)) continue;
    const i = ctx.servers.get(id);
    if (!i) continue;
    if (i.task_state && movingTasks.includes(i.task_state)) continue;
    if (
      i.task_state === 'rebuilding' &&
      ctx.migrations.inProgress(i.id, FINAL_STATUSES).some((m) => m.migration_type === 'evacuation')
    )
      continue;
    const host = i.host_id && i.host ? { id: i.host_id, name: i.host } : null;
    if (i.task_state === 'deleting') {
      const action = ctx.actions.start({
        instanceId: id,
        action: 'delete',
        requestId: 'req-resume',
        projectId: i.project_id,
        userId: i.user_id,
      });
      await runDelete(ctx, id, action);
      out.resumedDeletes.push(id);
    } else if (i.vm_state === 'building') {
      // The destroy is enqueued (a durable operation row) before the state changes, and
      // awaited with the others at the end: each one waits on the host behind the spawn
      // it supersedes, and one at a time they kept twenty servers in BUILD for 45 s.
      if (host)
        destroys.push(
          ctx.gateway
            .destroy(host, id)
            .catch((err) => ctx.log.warn({ err, server: id }, 'could not destroy an interrupted build')),
        );
      ctx.scheduler.release(id);
      await ctx.facades.networks?.releaseServerPorts(id).catch(() => {});
      const now = ctx.now().toISOString();
      ctx.servers.update(id, { vm_state: 'error', task_state: null, host: null, host_id: null }, now);
      ctx.servers.addFault(id, 500, `Build of instance ${id} aborted: the controller restarted during the build.`, '', now);
      out.failedBuilds.push(id);
    } else {
      if (i.task_state && SNAPSHOT_TASKS.includes(i.task_state)) await dropHalfMadeImages(ctx, i.id, i.project_id);
      ctx.servers.update(id, { task_state: null }, ctx.now().toISOString());
      out.clearedTasks.push(id);
    }
  }
  // Attaches whose background hot-plug died with the previous process (the volume stays
  // `attaching` forever otherwise). Once the host has run what was already queued for
  // the server (a hot-plug resumed at start), the domain says how far it got: the disk
  // is in the guest → the attach completes; it is not → it rolls back. No hot-unplug:
  // a guest still booting may not release a disk for a minute, and an unplug that timed
  // out used to leave the disk in the guest with the volume `available`.
  const stuck = ctx.servers.interruptedAttaches();
  for (const b of stuck) {
    let plugged: string | null = null;
    let known = false;
    if (b.host && b.host_id) {
      const host = { id: b.host_id, name: b.host };
      try {
        await ctx.gateway.settle?.(host, b.instance_id);
        const st = (await ctx.gateway.listInstances(host)).find((x) => x.uuid === b.instance_id);
        plugged = st?.volumes[b.volume_id] ?? null;
        known = true;
      } catch (err) {
        ctx.log.warn({ err, volume: b.volume_id }, 'could not see how far an interrupted attach got');
      }
      if (!known) {
        // The host cannot tell: unplug (ordered after anything queued for the server).
        await ctx.gateway
          .detachVolume(host, b.instance_id, b.volume_id)
          .catch((err) => ctx.log.warn({ err, volume: b.volume_id }, 'could not unplug an interrupted attach'));
      }
    }
    if (plugged && ctx.facades.volumes) {
      const d = plugged.startsWith('/dev/') ? plugged : `/dev/${plugged}`;
      ctx.servers.setVolumeDevice(b.instance_id, b.volume_id, d);
      ctx.facades.volumes.attachComplete(b.attachment_id, d);
      out.completedAttaches.push(b.volume_id);
      continue;
    }
    ctx.servers.removeVolume(b.instance_id, b.volume_id);
    await ctx.facades.volumes
      ?.detach(b.attachment_id)
      .catch((err) => ctx.log.warn({ err, volume: b.volume_id }, 'could not roll back an interrupted attach'));
    out.rolledBackAttaches.push(b.volume_id);
  }
  await Promise.all(destroys);
  if (
    out.failedBuilds.length ||
    out.resumedDeletes.length ||
    out.clearedTasks.length ||
    out.rolledBackAttaches.length ||
    out.completedAttaches.length
  )
    ctx.log.info(out, 'compute work interrupted by a restart recovered');
  return out;
}

/** Nova's task_states of a snapshot in progress (IMAGE_SNAPSHOT… IMAGE_UPLOADING, and IMAGE_BACKUP). */
const SNAPSHOT_TASKS = ['image_snapshot', 'image_snapshot_pending', 'image_pending_upload', 'image_uploading', 'image_backup'];

/**
 * The server's snapshot and backup images still without data (queued or saving): the
 * upload died with the previous process. Deleted, as Nova's delete_image_on_error does
 * with the image of a snapshot that failed; a killed backup image would otherwise count
 * in the rotation and push out a good one. A failure is logged and never blocks start.
 */
async function dropHalfMadeImages(ctx: ComputeCtx, instanceId: string, owner: string): Promise<void> {
  const images = ctx.facades.images;
  if (!images) return;
  for (const img of images.withProperties(owner, { instance_uuid: instanceId })) {
    if (img.status !== 'queued' && img.status !== 'saving') continue;
    try {
      await images.remove(img.id);
      ctx.log.info({ server: instanceId, image: img.id }, 'deleted the image of a snapshot the restart interrupted');
    } catch (err) {
      ctx.log.warn({ err, server: instanceId, image: img.id }, 'could not delete the image of an interrupted snapshot');
    }
  }
}
