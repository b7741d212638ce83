import { html, type SafeHtml } from '../html.js';
import type { PageContext } from '../page.js';
import { notice, shortId, table, tryGet } from './ui-kit.js';

/** GET /volume/v3/{project}/os-backup-schedules (controller/volumes/schedules.routes.ts). */
export interface ScheduleDoc {
  id: string;
  name: string | null;
  resource_type: 'volume' | 'server';
  volume_id: string | null;
  server_id: string | null;
  backup_type: string | null;
  cron: string;
  keep: number;
  incremental: boolean;
  next_run: string | null;
  last_run_at: string | null;
  last_status: 'running' | 'ok' | 'error' | null;
  last_backup_id: string | null;
  last_success_at: string | null;
  runs: number;
  failures: number;
  last_error: string | null;
}

/** The schedules of one server or volume (all of the project's volumes: no id), or why they could not be read. */
export async function fetchSchedules(
  ctx: PageContext,
  of: { server_id: string } | { volume_id: string } | null,
): Promise<{ value: ScheduleDoc[]; error?: string }> {
  const q = new URLSearchParams(of ?? {});
  // An admin may look at another project's server: its schedules are that project's.
  if (of && ctx.session.isAdmin) q.set('all_tenants', '1');
  const qs = q.toString();
  const r = await tryGet(
    ctx.api.get<{ backup_schedules: ScheduleDoc[] }>(
      'volume',
      `/v3/${encodeURIComponent(ctx.session.projectId)}/os-backup-schedules${qs ? `?${qs}` : ''}`,
    ),
    { backup_schedules: [] },
  );
  return { value: r.value.backup_schedules, ...(r.error ? { error: r.error } : {}) };
}

function lastResult(s: ScheduleDoc): SafeHtml {
  if (!s.last_status) return html`<span class="status busy">never run</span>`;
  const cls = s.last_status === 'ok' ? 'ok' : s.last_status === 'error' ? 'bad' : 'busy';
  return html`<span class="status ${cls}">${s.last_status}</span>${s.last_error ? html` <span class="error">${s.last_error}</span>` : ''}`;
}

/**
 * A table of backup schedules: when each runs next, how its last run went (the reason
 * of a failure), what it keeps. `resource` adds a first column naming what it backs up.
 */
export function schedulesTable(
  rows: ScheduleDoc[],
  error: string | undefined,
  resource?: { label: string; cell: (s: ScheduleDoc) => SafeHtml | string },
): SafeHtml {
  return html`${notice(error, 'backup schedules')}${table(
    rows,
    [
      ...(resource ? [resource] : []),
      { label: 'Schedule', cell: (s) => s.name ?? `(${shortId(s.id)})` },
      { label: 'Cron', cell: (s) => html`<code>${s.cron}</code>` },
      {
        label: 'Keeps',
        cell: (s) =>
          s.resource_type === 'server'
            ? `newest ${s.keep} of type ${s.backup_type ?? ''}`
            : `newest ${s.keep}${s.incremental ? ' (incremental)' : ''}`,
      },
      { label: 'Next run', cell: (s) => s.next_run ?? '' },
      { label: 'Last run', cell: (s) => s.last_run_at ?? '' },
      { label: 'Last result', cell: lastResult },
      { label: 'Last backup', cell: (s) => (s.last_backup_id ? html`<code>${s.last_backup_id}</code>` : '') },
      { label: 'Runs / failures', cell: (s) => `${s.runs} / ${s.failures}` },
    ],
    'No backup schedules (homestack backup-schedule create adds one).',
  )}`;
}
