import type { ScheduleRow } from './schedules.repo.js';
import { nextRuns, serverBackupType } from './schedules.service.js';

/**
 * A backup schedule as the CLI (`backup-schedule list`), the API (GET os-backup-schedules)
 * and the dashboard show it: what it backs up, when it runs next, how the last run went.
 */
export function scheduleView(s: ScheduleRow): Record<string, unknown> {
  let next: string | null = null;
  try {
    next = nextRuns(s.cron, 1)[0]?.toISOString() ?? null;
  } catch {
    next = null;
  }
  return {
    id: s.id,
    name: s.name,
    resource_type: s.resource_type,
    volume_id: s.resource_type === 'volume' ? s.resource_id : null,
    server_id: s.resource_type === 'server' ? s.resource_id : null,
    backup_type: s.resource_type === 'server' ? serverBackupType(s) : null,
    project_id: s.project_id,
    cron: s.cron,
    keep: s.keep,
    incremental: s.incremental === 1,
    next_run: next,
    last_run_at: s.last_run_at,
    last_status: s.last_status,
    last_backup_id: s.last_backup_id,
    last_success_at: s.last_success_at,
    runs: s.runs,
    failures: s.failures,
    last_error: s.last_error,
  };
}
