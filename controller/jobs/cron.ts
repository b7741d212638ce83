import cron, { type ScheduledTask } from 'node-cron';
import type { FastifyBaseLogger } from 'fastify';

/** A periodic job: `run` must not throw for expected conditions (log and return). */
export interface Job {
  name: string;
  /** node-cron expression with seconds, e.g. every 2 s: '*\/2 * * * * *'. */
  schedule: string;
  run(): void | Promise<void>;
  /** Releases what the job holds besides its own task (e.g. tasks it armed), at stop. */
  stop?(): Promise<void>;
}

export interface RunningJobs {
  stop(): Promise<void>;
}

/** A node-cron expression firing every `s` seconds (never less often than that). */
export function everySeconds(s: number): string {
  if (s >= 60) return `0 */${Math.max(1, Math.floor(s / 60))} * * * *`;
  if (60 % s === 0) return `*/${s} * * * * *`;
  const secs: number[] = [];
  for (let x = 0; x < 60; x += s) secs.push(x);
  return `${secs.join(',')} * * * * *`;
}

/** Schedules the jobs with node-cron (no overlap: a slow run skips the next tick). */
export function startJobs(jobs: Job[], log: FastifyBaseLogger): RunningJobs {
  const tasks: ScheduledTask[] = jobs.map((j) =>
    cron.schedule(
      j.schedule,
      async () => {
        try {
          await j.run();
        } catch (err) {
          log.error({ err, job: j.name }, 'job failed');
        }
      },
      { name: j.name, noOverlap: true },
    ),
  );
  log.info({ jobs: jobs.map((j) => `${j.name} (${j.schedule})`) }, 'jobs scheduled');
  return {
    async stop() {
      for (const t of tasks) {
        await t.stop();
        await t.destroy?.();
      }
      for (const j of jobs) await j.stop?.();
    },
  };
}
