import type { ComputeCtx } from './context.js';
import type { HostRef } from './host-gateway.js';
import { adoptAtDestination, rollback, StepFailure } from './live-migration.service.js';
import { jobEnded, whereItRuns } from './live-migration-watch.js';
import type { MigrationRow } from './migrations.repo.js';
import { FINAL_STATUSES } from './move-common.js';
import type { Instance } from './servers.repo.js';

/**
 * At controller start: live migrations the previous process was driving. libvirt's job
 * outlives the controller (the source agent's `virsh migrate` goes on), so each one is
 * settled by what the hosts say once no job runs on the source: the guest runs on the
 * destination → the move completes (adopted there, the source's allocation freed and
 * its copy cleaned); it runs on the source → rolled back (destination cleaned, its
 * claim released) and the migration is `error` with task_state reset, as Nova's
 * compute does at restart (`_init_instance`: "Live migration did not complete, but
 * instance is on this host, so reset the state"). Runs in the background, one task per
 * migration; returns the instances it took over.
 */
export function resumeLiveMigrations(ctx: ComputeCtx, run: (what: string, fn: () => Promise<void>) => void): string[] {
  const out: string[] = [];
  for (const { id } of ctx.servers.unsettled()) {
    const i = ctx.servers.get(id);
    if (!i || i.task_state !== 'migrating' || ctx.liveMigrations.has(i.id)) continue;
    const m = ctx.migrations.inProgress(i.id, FINAL_STATUSES).find((x) => x.migration_type === 'live-migration');
    if (!m) continue;
    ctx.liveMigrations.set(i.id, m.id);
    out.push(i.id);
    run(`settle the interrupted live migration of ${i.id}`, () =>
      settle(ctx, i, m).finally(() => ctx.liveMigrations.delete(i.id)),
    );
  }
  return out;
}

async function settle(ctx: ComputeCtx, i: Instance, m: MigrationRow): Promise<void> {
  const source: HostRef = { id: m.source_host_id!, name: m.source_compute! };
  const action =
    ctx.actions.list(i.id).find((a) => a.action === 'live-migration')?.id ??
    ctx.actions.start({
      instanceId: i.id,
      action: 'live-migration',
      requestId: 'req-resume',
      projectId: i.project_id,
      userId: i.user_id,
    });
  const vols = m.details.volumes ?? [];
  const interrupted = new StepFailure(
    'compute_live_migration',
    source.name,
    new Error(`the controller restarted while the migration was ${m.status}`),
  );
  if (!m.dest_host_id || !m.dest_compute) {
    // No destination was claimed: nothing left the source.
    ctx.servers.updateIf(i.id, { taskState: 'migrating' }, { task_state: null }, ctx.now().toISOString());
    ctx.migrations.update(m.id, { status: 'error', error: interrupted.message });
    ctx.actions.finish(action, 'Error');
    return;
  }
  const az = ctx.scheduler.cache.all().find((h) => h.id === m.dest_host_id)?.az;
  const dest: HostRef & { az?: string } = { id: m.dest_host_id, name: m.dest_compute, ...(az ? { az } : {}) };
  const limitS = ctx.config.compute.live_migration_timeout_s + 300;
  const ended = await jobEnded(ctx, source, i.id, limitS);
  const where = ended ? await whereItRuns(ctx, source, dest, i.id, 300) : 'unknown';
  ctx.log.info({ server: i.id, migration: m.id, status: m.status, where }, 'settling a live migration interrupted by a restart');
  if (where === 'unknown') {
    ctx.log.error(
      { server: i.id, migration: m.id },
      'an interrupted live migration could not be settled: its hosts do not answer',
    );
    return;
  }
  if (where === 'dest') {
    try {
      await adoptAtDestination(ctx, i.id, { migrationId: m.id, action, source, dest, vols });
    } catch (e) {
      await rollback(ctx, i, ctx.migrations.get(m.id)!, { source, dest, vols, migrated: true, action, error: e });
    }
    return;
  }
  await rollback(ctx, i, m, { source, dest, vols, migrated: false, action, error: interrupted });
}
