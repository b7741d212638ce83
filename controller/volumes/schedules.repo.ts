import type { Db } from '../db/open.js';

/** SQL only (house style 3.1): backup schedules (014_backup_schedules.sql, 017_server_backup_schedules.sql). */

export interface ScheduleRow {
  id: string;
  project_id: string;
  resource_type: 'volume' | 'server';
  resource_id: string;
  name: string | null;
  cron: string;
  keep: number;
  incremental: number;
  runs: number;
  failures: number;
  last_run_at: string | null;
  last_status: 'running' | 'ok' | 'error' | null;
  /** A volume backup's id, or a server backup's image id. */
  last_backup_id: string | null;
  /** The request id of a server run's createBackup (its instance action). */
  last_request_id: string | null;
  last_error: string | null;
  last_success_at: string | null;
  created_at: string;
  updated_at: string;
}

export type NewSchedule = Pick<
  ScheduleRow,
  'id' | 'project_id' | 'resource_type' | 'resource_id' | 'name' | 'cron' | 'keep' | 'incremental'
>;

export class SchedulesRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(id: string): ScheduleRow | null {
    return (this.db.prepare('SELECT * FROM backup_schedules WHERE id = ?').get(id) as ScheduleRow | undefined) ?? null;
  }

  /** Oldest first. */
  list(): ScheduleRow[] {
    return this.db.prepare('SELECT * FROM backup_schedules ORDER BY created_at, id').all() as ScheduleRow[];
  }

  ofResource(type: string, id: string): ScheduleRow[] {
    return this.db
      .prepare('SELECT * FROM backup_schedules WHERE resource_type = ? AND resource_id = ? ORDER BY created_at, id')
      .all(type, id) as ScheduleRow[];
  }

  insert(s: NewSchedule): ScheduleRow {
    const ts = this.now().toISOString();
    this.db
      .prepare(
        `INSERT INTO backup_schedules (id, project_id, resource_type, resource_id, name, cron, keep, incremental, created_at, updated_at)
         VALUES (@id, @project_id, @resource_type, @resource_id, @name, @cron, @keep, @incremental, @ts, @ts)`,
      )
      .run({ ...s, ts });
    return this.get(s.id)!;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM backup_schedules WHERE id = ?').run(id).changes > 0;
  }

  /** A run started: its backup is being made. */
  started(id: string, backupId: string, requestId: string | null = null): void {
    const ts = this.now().toISOString();
    this.db
      .prepare(
        `UPDATE backup_schedules SET runs = runs + 1, last_run_at = ?, last_status = 'running', last_backup_id = ?,
           last_request_id = ?, last_error = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(ts, backupId, requestId, ts, id);
  }

  /** A run refused before any backup existed (volume gone, busy, quota...). */
  refused(id: string, reason: string): void {
    const ts = this.now().toISOString();
    this.db
      .prepare(
        `UPDATE backup_schedules SET runs = runs + 1, failures = failures + 1, last_run_at = ?, last_status = 'error',
           last_backup_id = NULL, last_request_id = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
      )
      .run(ts, reason, ts, id);
  }

  /**
   * A run skipped because the previous run's backup is still being made: counted as a
   * failure, its reason in last_error until that backup ends, which stays tracked.
   */
  skipped(id: string, reason: string): void {
    const ts = this.now().toISOString();
    this.db
      .prepare(
        'UPDATE backup_schedules SET runs = runs + 1, failures = failures + 1, last_error = ?, updated_at = ? WHERE id = ?',
      )
      .run(reason, ts, id);
  }

  /** The running backup ended; only while it is still this schedule's last run. */
  finished(id: string, backupId: string, ok: boolean, reason: string | null): boolean {
    const ts = this.now().toISOString();
    return (
      this.db
        .prepare(
          `UPDATE backup_schedules SET last_status = @st, last_error = @reason, failures = failures + @f,
             last_success_at = CASE WHEN @ok = 1 THEN @ts ELSE last_success_at END, updated_at = @ts
           WHERE id = @id AND last_backup_id = @backupId AND last_status = 'running'`,
        )
        .run({ id, backupId, st: ok ? 'ok' : 'error', reason, f: ok ? 0 : 1, ok: ok ? 1 : 0, ts }).changes > 0
    );
  }

  /** Totals for /metrics: schedules, runs and failures by last status. */
  totals(): Array<{ last_status: string | null; n: number; runs: number; failures: number }> {
    return this.db
      .prepare(
        'SELECT last_status, COUNT(*) AS n, SUM(runs) AS runs, SUM(failures) AS failures FROM backup_schedules GROUP BY last_status',
      )
      .all() as Array<{ last_status: string | null; n: number; runs: number; failures: number }>;
  }
}
