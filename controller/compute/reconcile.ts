import { PowerState, type InstanceState } from '../../shared/agent/compute.js';
import type { ComputeCtx } from './context.js';
import type { HostRef } from './ports.js';

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
 * becomes SHUTOFF; a running domain of a SHUTOFF one becomes ACTIVE. Domains that
 * belong to no live instance of this host are destroyed after `graceMs`, logged.
 */
export async function reconcileHost(ctx: ComputeCtx, host: HostRef, reported: InstanceState[], graceMs = 10 * 60_000): Promise<ReconcileReport> {
  const report: ReconcileReport = { updated: [], destroyed: [], unknown: [] };
  const byId = new Map(reported.map((r) => [r.uuid, r]));
  const now = ctx.now();
  for (const i of ctx.servers.byHost(host.id)) {
    if (i.task_state !== null || i.vm_state === 'building' || ctx.building.has(i.id)) continue;
    const r = byId.get(i.id);
    const power = r ? r.power_state : PowerState.NOSTATE;
    let vm = i.vm_state;
    if (vm === 'active' && (power === PowerState.SHUTDOWN || power === PowerState.CRASHED || power === PowerState.NOSTATE)) vm = 'stopped';
    else if (vm === 'active' && power === PowerState.PAUSED) vm = 'paused';
    else if ((vm === 'stopped' || vm === 'paused') && power === PowerState.RUNNING) vm = 'active';
    else if (vm === 'suspended' && power === PowerState.RUNNING) vm = 'active';
    if (vm !== i.vm_state || power !== i.power_state) {
      if (ctx.servers.updateIf(i.id, { vmStates: [i.vm_state], taskState: null }, { vm_state: vm, power_state: power }, now.toISOString())) {
        report.updated.push({ id: i.id, vm_state: vm, power_state: power });
        ctx.log.info({ server: i.id, host: host.name, from: [i.vm_state, i.power_state], to: [vm, power] }, 'power state synced from the hypervisor');
      }
    }
  }
  const seen = ctx.strays;
  for (const r of reported) {
    const i = ctx.servers.get(r.uuid, true);
    const live = i && !i.deleted && i.host_id === host.id;
    if (live || (i && ctx.building.has(i.id))) {
      seen.delete(r.uuid);
      continue;
    }
    const first = seen.get(r.uuid) ?? now.getTime();
    seen.set(r.uuid, first);
    if (now.getTime() - first < graceMs && !(i?.deleted && i.deleted_at && now.getTime() - Date.parse(i.deleted_at) >= graceMs)) {
      report.unknown.push(r.uuid);
      continue;
    }
    ctx.log.warn({ host: host.name, uuid: r.uuid, known: Boolean(i) }, 'destroying a domain that belongs to no instance of this host');
    try {
      await ctx.gateway.destroy(host, r.uuid);
      seen.delete(r.uuid);
      report.destroyed.push(r.uuid);
    } catch (err) {
      ctx.log.warn({ err, uuid: r.uuid }, 'could not destroy a stray domain');
    }
  }
  return report;
}

/** Asks every up compute host what it runs and reconciles it (the periodic job). */
export async function syncAllHosts(ctx: ComputeCtx): Promise<void> {
  const hosts = ctx.scheduler.cache.all().filter((h) => h.up && h.roles.includes('compute'));
  for (const h of hosts) {
    try {
      await reconcileHost(ctx, h, await ctx.gateway.listInstances(h));
    } catch (err) {
      ctx.log.warn({ err, host: h.name }, 'could not sync the power states of a host');
    }
  }
}
