import { CloudError } from '../../shared/errors/index.js';
import { SchedulesRepo } from '../volumes/schedules.repo.js';
import { createSchedule, deleteSchedule } from '../volumes/schedules.service.js';
import { scheduleView } from '../volumes/schedules.view.js';
import { parsed, str, usageText, type CommandSpec, type Values } from './args.js';
import { openContext, printTable } from './context.js';

export const SCHEDULE_COMMANDS: Record<string, CommandSpec> = {
  create: {
    words: 'backup-schedule create',
    options: {
      volume: { type: 'string', value: 'V' },
      server: { type: 'string', value: 'S' },
      cron: { type: 'string', value: 'EXPR' },
      keep: { type: 'string', value: 'N' },
      incremental: { type: 'boolean' },
      name: { type: 'string', value: 'NAME' },
      json: { type: 'boolean' },
    },
    optionsText: '--server S|--volume V --cron "0 3 * * *" --keep N [--incremental] [--name NAME] [--json]',
    help:
      'back a volume up (a Cinder backup), or a server (createBackup: an image of type NAME or "scheduled", ' +
      'rotation N), on a node-cron schedule (6 fields: seconds first), keeping the newest N backups',
  },
  list: {
    words: 'backup-schedule list',
    options: { json: { type: 'boolean' } },
    help: 'backup schedules: next run, last run and its result, runs and failures',
  },
  delete: {
    words: 'backup-schedule delete',
    args: 'ID|NAME',
    help: 'delete a backup schedule (the backups it made stay)',
  },
};

const COLUMNS = [
  'id',
  'name',
  'volume_id',
  'server_id',
  'cron',
  'keep',
  'incremental',
  'next_run',
  'last_run_at',
  'last_status',
  'last_backup_id',
  'runs',
  'failures',
  'last_error',
];

/** `homestack backup-schedule create|list|delete` (the controller's database; the running controller arms it within 5 s). */
export async function backupScheduleCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const spec = sub ? SCHEDULE_COMMANDS[sub] : undefined;
  if (!spec) {
    process.stderr.write(`usage:\n${usageText(Object.values(SCHEDULE_COMMANDS))}`);
    return 2;
  }
  const a = parsed(spec, argv);
  if (typeof a === 'number') return a;
  const fail = (m: string, code = 2) => {
    process.stderr.write(`homestack ${spec.words}: ${m}\n`);
    return code;
  };
  if (sub === 'create') {
    const missing = ['cron', 'keep'].filter((k) => str(a.values, k) === undefined);
    if (missing.length) return fail(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
  }
  const ctx = openContext(argv);
  try {
    if (sub === 'create') return create(ctx.db, a.values);
    if (sub === 'delete') {
      const s = deleteSchedule(ctx.db, a.positionals[0]!);
      process.stdout.write(`deleted backup schedule ${s.id}${s.name ? ` (${s.name})` : ''}\n`);
      return 0;
    }
    printTable(new SchedulesRepo(ctx.db).list().map(scheduleView), COLUMNS, a.values.json === true);
    return 0;
  } catch (e) {
    if (e instanceof CloudError && e.status < 500) return fail(e.message, e.status === 404 ? 1 : 2);
    throw e;
  } finally {
    ctx.close();
  }

  function create(db: Parameters<typeof createSchedule>[0], v: Values): number {
    const s = createSchedule(db, {
      volume: str(v, 'volume'),
      server: str(v, 'server'),
      cron: str(v, 'cron')!,
      keep: str(v, 'keep')!,
      incremental: v.incremental === true,
      name: str(v, 'name') ?? null,
    });
    printTable([scheduleView(s)], COLUMNS, v.json === true);
    return 0;
  }
}
