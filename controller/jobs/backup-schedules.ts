import cron, { type ScheduledTask } from 'node-cron';
import type { ComputeCtx } from '../compute/context.js';
import type { VolumeCtx } from '../volumes/context.js';
import { SchedulesRepo } from '../volumes/schedules.repo.js';
import { runSchedule, settleSchedules } from '../volumes/schedules.service.js';
import { everySeconds, type Job } from './cron.js';

/**
 * The backup schedules' node-cron tasks, kept equal to the backup_schedules table (the
 * CLI writes the table; this converges: a new or changed schedule gets its task, a
 * deleted one loses it). Idempotent; a schedule whose expression node-cron refuses is
 * logged and left without a task.
 */
export class BackupScheduler {
  private readonly tasks = new Map<string, { cron: string; task: ScheduledTask }>();
  private readonly refused = new Set<string>();

  constructor(
    private readonly ctx: VolumeCtx,
    /** For server schedules (createBackup); null: their runs fail, saying why. */
    private readonly compute: ComputeCtx | null = null,
  ) {}

  sync(): void {
    const rows = new SchedulesRepo(this.ctx.db, this.ctx.now).list();
    const want = new Map(rows.map((r) => [r.id, r.cron]));
    for (const [id, t] of this.tasks) {
      if (want.get(id) === t.cron) continue;
      void t.task.destroy();
      this.tasks.delete(id);
    }
    for (const [id, expr] of want) {
      if (this.tasks.has(id) || this.refused.has(`${id} ${expr}`)) continue;
      try {
        const task = cron.schedule(expr, () => runSchedule(this.ctx, id, this.compute), {
          name: `backup-schedule-${id}`,
          noOverlap: true,
        });
        this.tasks.set(id, { cron: expr, task });
        this.ctx.log.info({ schedule: id, cron: expr }, 'backup schedule armed');
      } catch (err) {
        this.refused.add(`${id} ${expr}`);
        this.ctx.log.error({ err, schedule: id, cron: expr }, 'backup schedule has an expression node-cron refuses');
      }
    }
  }

  /** Schedule ids with a task (for tests). */
  armed(): string[] {
    return [...this.tasks.keys()];
  }

  async stop(): Promise<void> {
    for (const t of this.tasks.values()) {
      await t.task.stop();
      await t.task.destroy();
    }
    this.tasks.clear();
  }
}

/** Every 5 s: converge the tasks on the table, record finished runs, apply retention. */
export function backupSchedulesJob(
  ctx: VolumeCtx,
  compute: ComputeCtx | null = null,
  scheduler = new BackupScheduler(ctx, compute),
): Job {
  return {
    name: 'backup-schedules',
    schedule: everySeconds(5),
    run() {
      scheduler.sync();
      settleSchedules(ctx, compute);
    },
    stop: () => scheduler.stop(),
  };
}
