import cron from 'node-cron';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { ComputeCtx } from '../compute/context.js';
import { serverBackupOutcome, startServerBackup } from '../compute/scheduled-backups.js';
import { ServersRepo } from '../compute/servers.repo.js';
import type { Db } from '../db/open.js';
import type { AuthContext } from '../http/auth.js';
import type { BackupRow } from './backups.repo.js';
import { createBackup, deleteBackup, latestParent } from './backups.service.js';
import type { VolumeCtx } from './context.js';
import { SchedulesRepo, type ScheduleRow } from './schedules.repo.js';
import { VolumesRepo } from './volumes.repo.js';

/**
 * Backup schedules (issue 18, item 3; a Homestack extension). A run is an ordinary
 * backup through createBackup (the POST /backups path, the volume's project, `force` so
 * an in-use volume is read from a temporary snapshot), tagged with the schedule.
 *
 * Retention keeps the newest `keep` available backups of the schedule and whatever they
 * are built on (Cinder's rule: a backup with dependants is never deleted); so that an
 * incremental schedule does not grow one endless chain, a run is a full backup when the
 * chain it would extend already holds `keep` backups. An old chain goes as soon as the
 * newest `keep` no longer need it (children first, one level per pass). A failed run's
 * backup stays `error` with its reason until `keep` newer backups succeeded.
 *
 * A server schedule's run is Nova's createBackup (compute/scheduled-backups.ts): a
 * snapshot image of backup_type = the schedule's name (or 'scheduled'), rotation = keep,
 * so Nova's own rotation is its retention; its last result is the image's (active, or
 * killed with the instance action's reason).
 */

/** A bad field of a schedule: the message names it (`--cron`, `--volume`, `--server`, `--keep`). */
export class ScheduleFieldError extends BadRequest {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`, 'InvalidBackupSchedule');
  }
}

export interface ScheduleInput {
  /** Exactly one of volume and server (an id, or a unique name). */
  volume?: string;
  server?: string;
  cron: string;
  keep: string | number;
  incremental?: boolean;
  name?: string | null;
}

/** node-cron's own check, with its reason (5 fields, or 6 with seconds first). */
export function checkCron(expr: string): void {
  const v = cron.validateDetailed(expr);
  if (!v.valid)
    throw new ScheduleFieldError(
      '--cron',
      `'${expr}' is not a cron expression: ${v.errors.map((e) => e.message).join('; ')} (5 fields "m h dom mon dow", or 6 with seconds first)`,
    );
}

/** The next `n` times the expression fires (the controller's local time zone, as node-cron runs it). */
export function nextRuns(expr: string, n = 1): Date[] {
  const t = cron.createTask(expr, () => {});
  try {
    return t.getNextRuns(n);
  } finally {
    void t.destroy();
  }
}

/** The backup_type of a server schedule's images (`server backup create --type`). */
export const serverBackupType = (s: Pick<ScheduleRow, 'name'>): string => s.name ?? 'scheduled';

/** Validates every field, resolves the volume or server (id, or a unique name) and stores the schedule. */
export function createSchedule(db: Db, input: ScheduleInput, now: () => Date = () => new Date()): ScheduleRow {
  const given = (x: string | undefined) => x !== undefined && x !== '';
  if (given(input.volume) === given(input.server))
    throw new ScheduleFieldError(
      '--server/--volume',
      given(input.volume) ? 'give one of them, not both' : 'give one: --server S or --volume V',
    );
  checkCron(input.cron);
  const keep = Number(input.keep);
  if (!Number.isInteger(keep) || keep < 1 || keep > 1000)
    throw new ScheduleFieldError('--keep', `'${input.keep}' is not a whole number from 1 to 1000`);
  if (input.name !== undefined && input.name !== null && !/^[\w.\- ]{1,64}$/.test(input.name))
    throw new ScheduleFieldError('--name', `'${input.name}' may hold up to 64 letters, digits, spaces, _ . and -`);
  if (given(input.server)) {
    if (input.incremental)
      throw new ScheduleFieldError(
        '--incremental',
        'applies to volume schedules only: a server backup is a whole snapshot image',
      );
    const i = findServer(db, input.server!);
    // Nova refuses createBackup of a volume-backed server: schedule its volumes instead.
    if (!i.image_ref)
      throw new ScheduleFieldError(
        '--server',
        `server '${i.name}' boots from a volume, and Nova backs up only image-backed servers: schedule its volumes with --volume`,
      );
    return new SchedulesRepo(db, now).insert({
      id: newUuid(),
      project_id: i.project_id,
      resource_type: 'server',
      resource_id: i.id,
      name: input.name ?? null,
      cron: input.cron,
      keep,
      incremental: 0,
    });
  }
  const volumes = new VolumesRepo(db, now);
  let v = volumes.getVolume(input.volume!);
  if (!v) {
    const named = volumes.listVolumes(null).filter((x) => x.name === input.volume);
    if (named.length > 1)
      throw new ScheduleFieldError('--volume', `${named.length} volumes are named '${input.volume}': give the volume's id`);
    v = named[0] ?? null;
  }
  if (!v) throw new ScheduleFieldError('--volume', `no volume has the id or name '${input.volume}'`);
  return new SchedulesRepo(db, now).insert({
    id: newUuid(),
    project_id: v.project_id,
    resource_type: 'volume',
    resource_id: v.id,
    name: input.name ?? null,
    cron: input.cron,
    keep,
    incremental: input.incremental ? 1 : 0,
  });
}

/** A server that is not deleted, by id or unique name. */
function findServer(db: Db, idOrName: string) {
  const servers = new ServersRepo(db);
  const byId = servers.get(idOrName);
  if (byId) return byId;
  const named = servers.list({}).filter((x) => x.name === idOrName);
  if (named.length > 1)
    throw new ScheduleFieldError('--server', `${named.length} servers are named '${idOrName}': give the server's id`);
  if (!named[0]) throw new ScheduleFieldError('--server', `no server has the id or name '${idOrName}'`);
  return named[0];
}

/** By id or unique name; the backups it made stay (they are ordinary backups). */
export function deleteSchedule(db: Db, idOrName: string): ScheduleRow {
  const repo = new SchedulesRepo(db);
  const s = repo.get(idOrName) ?? uniqueByName(repo.list(), idOrName);
  repo.delete(s.id);
  return s;
}

function uniqueByName(rows: ScheduleRow[], name: string): ScheduleRow {
  const m = rows.filter((r) => r.name === name);
  if (m.length > 1) throw new BadRequest(`${m.length} backup schedules are named '${name}': give the id`);
  if (!m[0]) throw new NotFound(`No backup schedule has the id or name '${name}'.`);
  return m[0];
}

/** The schedule acting in its volume's project, as its owner would (policy passes as admin). */
function schedulerAuth(s: ScheduleRow, userId: string): AuthContext {
  const now = new Date();
  return {
    token: '',
    userId,
    userName: 'homestack-backup-scheduler',
    userDomainId: 'default',
    userDomainName: 'Default',
    projectId: s.project_id,
    roles: ['admin', 'member', 'reader'],
    roleIds: [],
    isAdmin: true,
    methods: ['schedule'],
    auditIds: [],
    issuedAt: now,
    expiresAt: now,
  };
}

/** Backups in the chain ending at `b` (b included). */
function chainLength(ctx: VolumeCtx, b: BackupRow): number {
  let n = 0;
  for (let cur: BackupRow | null = b; cur && n < 10_000; cur = cur.parent_id ? ctx.backups.get(cur.parent_id) : null) n++;
  return n;
}

/**
 * How the last run's backup stands: still being made, how it ended, or null (a volume
 * backup in another state, e.g. being restored: not settled, not blocking a run).
 */
function outcome(
  ctx: VolumeCtx,
  compute: ComputeCtx | null,
  s: ScheduleRow,
): 'running' | null | { ok: boolean; reason: string | null } {
  const id = s.last_backup_id!;
  if (s.resource_type === 'server') {
    if (!compute) return { ok: false, reason: 'the compute service is not available' };
    const o = serverBackupOutcome(compute, s.resource_id, id, s.last_request_id);
    return o.state === 'running' ? 'running' : { ok: o.state === 'ok', reason: o.state === 'error' ? o.reason : null };
  }
  const b = ctx.backups.get(id);
  if (!b) return { ok: false, reason: 'the backup was deleted before it finished' };
  if (b.status === 'available') return { ok: true, reason: null };
  if (b.status === 'error') return { ok: false, reason: b.fail_reason ?? 'the backup ended in error' };
  return b.status === 'creating' ? 'running' : null;
}

/**
 * One run: a backup of the schedule's volume (or server: createBackup), or the reason
 * none could start recorded on the schedule (`last_status` error, `failures` + 1). A run
 * while the previous run's backup is still being made is skipped (a failure too, but the
 * running backup stays tracked). Never throws.
 */
export async function runSchedule(
  ctx: VolumeCtx,
  id: string,
  compute: ComputeCtx | null = null,
): Promise<{ backupId: string | null; error: string | null }> {
  const repo = new SchedulesRepo(ctx.db, ctx.now);
  const s = repo.get(id);
  if (!s) return { backupId: null, error: 'the schedule was deleted' };
  if (s.last_status === 'running' && s.last_backup_id && outcome(ctx, compute, s) === 'running') {
    const reason = `run skipped: the previous run's backup ${s.last_backup_id} is still being made`;
    repo.skipped(s.id, reason);
    ctx.log.warn({ schedule: s.id }, reason);
    return { backupId: null, error: reason };
  }
  const stamp = ctx
    .now()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z');
  const name = `${s.name ?? `schedule-${s.id.slice(0, 8)}`}-${stamp}`;
  try {
    if (s.resource_type === 'server') {
      if (!compute) throw new Error('the compute service is not available');
      const i = new ServersRepo(ctx.db).get(s.resource_id);
      if (!i) throw new NotFound(`Instance ${s.resource_id} could not be found.`, 'InstanceNotFound');
      const r = await startServerBackup(compute, schedulerAuth(s, i.user_id), i.id, {
        name,
        type: serverBackupType(s),
        rotation: s.keep,
      });
      repo.started(s.id, r.imageId, r.requestId);
      ctx.log.info({ schedule: s.id, server: i.id, image: r.imageId }, 'scheduled server backup started');
      return { backupId: r.imageId, error: null };
    }
    const v = ctx.repo.getVolume(s.resource_id);
    if (!v) throw new NotFound(`Volume ${s.resource_id} could not be found.`, 'VolumeNotFound');
    const parent = s.incremental ? latestParent(ctx, v.id, s.project_id, null) : null;
    const incremental = parent !== null && chainLength(ctx, parent) < s.keep;
    const b = createBackup(
      ctx,
      schedulerAuth(s, v.user_id),
      {
        backup: {
          volume_id: v.id,
          name,
          description: `backup schedule ${s.id}`,
          incremental,
          force: true,
        },
      },
      { scheduleId: s.id },
    );
    repo.started(s.id, b.id);
    ctx.log.info({ schedule: s.id, backup: b.id, incremental }, 'scheduled backup started');
    return { backupId: b.id, error: null };
  } catch (e) {
    const reason = (e as Error).message.slice(0, 1000);
    repo.refused(s.id, reason);
    ctx.log.warn({ schedule: s.id, [s.resource_type]: s.resource_id, reason }, 'scheduled backup could not start');
    return { backupId: null, error: reason };
  }
}

/**
 * Records how running runs ended, then applies retention to every volume schedule (a
 * server schedule's is createBackup's rotation). Never throws.
 */
export function settleSchedules(ctx: VolumeCtx, compute: ComputeCtx | null = null): void {
  const repo = new SchedulesRepo(ctx.db, ctx.now);
  for (const s of repo.list()) {
    try {
      if (s.last_status === 'running' && s.last_backup_id) {
        const o = outcome(ctx, compute, s);
        if (o !== 'running' && o !== null) repo.finished(s.id, s.last_backup_id, o.ok, o.reason);
      }
      if (s.resource_type === 'volume') prune(ctx, s);
    } catch (err) {
      ctx.log.warn({ err, schedule: s.id }, 'backup schedule bookkeeping failed');
    }
  }
}

/** What retention deletes now: leaves only (a parent goes once its children are gone). */
export function toPrune(ctx: VolumeCtx, s: ScheduleRow): BackupRow[] {
  const mine = ctx.backups.ofSchedule(s.id); // newest first
  const kept = mine.filter((b) => b.status === 'available').slice(0, s.keep);
  if (kept.length < s.keep) return [];
  const needed = new Set<string>();
  for (const k of kept)
    for (let cur: BackupRow | null = k; cur && !needed.has(cur.id); cur = cur.parent_id ? ctx.backups.get(cur.parent_id) : null)
      needed.add(cur.id);
  const oldestKept = kept.at(-1)!.created_at;
  return mine.filter(
    (b) =>
      !needed.has(b.id) &&
      (b.status === 'available' || (b.status === 'error' && b.created_at < oldestKept)) &&
      ctx.backups.children(b.id).length === 0,
  );
}

function prune(ctx: VolumeCtx, s: ScheduleRow): void {
  for (const b of toPrune(ctx, s)) {
    try {
      deleteBackup(ctx, schedulerAuth(s, b.user_id), b.id);
      ctx.log.info({ schedule: s.id, backup: b.id }, 'backup schedule retention: deleting an old backup');
    } catch (err) {
      ctx.log.warn({ err, schedule: s.id, backup: b.id }, 'backup schedule retention could not delete a backup');
    }
  }
}
