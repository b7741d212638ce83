import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../agents/volume/file.js';
import { makeRunner } from '../../shared/exec/run.js';
import { BackupScheduler } from '../jobs/backup-schedules.js';
import { SchedulesRepo } from './schedules.repo.js';
import { createSchedule, deleteSchedule, runSchedule, ScheduleFieldError, settleSchedules } from './schedules.service.js';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/**
 * Backup schedules (issue 18, item 3) against the in-memory controller and the real
 * agent app with the file back end and a posix store: runs go through createBackup and
 * the dispatcher to the agent; retention; a failed run on the schedule and the backup.
 */
let c: VolumeCloud;
let P: string;
let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-sched-'));
  const backend = new FileBackend({ dir: join(dir, 'volumes'), run: makeRunner() });
  c = await volumeCloud({ backend, backendName: 'file', backups: { dir: join(dir, 'store'), chunkKiB: 256 } });
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function volume(name: string): Promise<string> {
  const v = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name } })).body.volume;
  await c.waitStatus(v.id, c.admin, 'available');
  return v.id;
}

async function guestWrite(id: string, off: number, data: Buffer) {
  const fh = await open(join(dir, 'volumes', `volume-${id}.img`), 'r+');
  await fh.write(data, 0, data.length, off);
  await fh.close();
}

/** Lets the agent finish, then the bookkeeping pass, until nothing moves. */
async function settleAll() {
  for (let i = 0; i < 6; i++) {
    await c.settle();
    settleSchedules(c.ctx);
  }
  await c.settle();
}

const mine = (sid: string) => c.ctx.backups.ofSchedule(sid);

describe('backup schedules', () => {
  it('refuses bad fields naming them: cron, volume, keep, name', async () => {
    const vid = await volume('sv');
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as ScheduleFieldError;
      }
      throw new Error('no error');
    };
    const bad = err(() => createSchedule(c.db, { volume: vid, cron: '61 * * * *', keep: 3 }));
    expect(bad).toBeInstanceOf(ScheduleFieldError);
    expect(bad.message).toBe(
      `--cron: '61 * * * *' is not a cron expression: 61 is a invalid expression for minute (5 fields "m h dom mon dow", or 6 with seconds first)`,
    );
    expect(err(() => createSchedule(c.db, { volume: vid, cron: '0 3 * *', keep: 3 })).message).toMatch(
      /^--cron: '0 3 \* \*' is not a cron expression: expected 5 or 6 fields but got 4/,
    );
    expect(err(() => createSchedule(c.db, { volume: 'nope', cron: '0 3 * * *', keep: 3 })).message).toBe(
      `--volume: no volume has the id or name 'nope'`,
    );
    expect(err(() => createSchedule(c.db, { volume: vid, cron: '0 3 * * *', keep: '0' })).message).toBe(
      `--keep: '0' is not a whole number from 1 to 1000`,
    );
    expect(err(() => createSchedule(c.db, { volume: vid, cron: '0 3 * * *', keep: 'x' })).field).toBe('--keep');
    await volume('sv'); // a second volume of that name
    expect(err(() => createSchedule(c.db, { volume: 'sv', cron: '0 3 * * *', keep: 1 })).message).toBe(
      `--volume: 2 volumes are named 'sv': give the volume's id`,
    );
    expect(new SchedulesRepo(c.db).list()).toEqual([]);
    const s = createSchedule(c.db, { volume: vid, cron: '0 3 * * *', keep: 7, name: 'nightly' });
    expect(s).toMatchObject({ resource_id: vid, project_id: c.adminProjectId, keep: 7, incremental: 0, runs: 0 });
    expect(deleteSchedule(c.db, 'nightly').id).toBe(s.id);
    expect(() => deleteSchedule(c.db, 'nightly')).toThrow(`No backup schedule has the id or name 'nightly'.`);
  });

  it('incremental runs chain at most `keep` deep; retention keeps the newest `keep` and what they build on, children first', async () => {
    const vid = await volume('data');
    const s = createSchedule(c.db, { volume: vid, cron: '0 3 * * *', keep: 2, incremental: true, name: 'nightly' });
    const made: string[] = [];
    for (let run = 0; run < 5; run++) {
      await guestWrite(vid, run * 300 * 1024, randomBytes(64 * 1024));
      const r = await runSchedule(c.ctx, s.id);
      expect(r.error).toBeNull();
      made.push(r.backupId!);
      await settleAll();
      expect(new SchedulesRepo(c.db).get(s.id)).toMatchObject({ last_status: 'ok', last_backup_id: r.backupId, failures: 0 });
    }
    // Runs: full, incr(keep 2 reached), full, incr, full. The newest two are [full5, incr4];
    // incr4 needs full3; run 1 and 2 are gone, run 3 stays as incr4's parent.
    const bks = made.map((id) => c.ctx.backups.get(id));
    expect(bks.map((b) => b && (b.parent_id ? 'incr' : 'full'))).toEqual([null, null, 'full', 'incr', 'full']);
    expect(bks[3]!.parent_id).toBe(made[2]);
    expect(mine(s.id).map((b) => b.id)).toEqual([made[4], made[3], made[2]]);
    expect(new SchedulesRepo(c.db).get(s.id)).toMatchObject({ runs: 5, failures: 0 });
    // Run 6 is an incremental of full5: full3 and incr4 are no longer needed and go (incr4 first).
    await runSchedule(c.ctx, s.id);
    await settleAll();
    expect(mine(s.id).length).toBe(2);
    // A backup made by hand is never pruned.
    const manual = await c.req('POST', `${P}/backups`, c.admin, { backup: { volume_id: vid, name: 'by-hand' } });
    await settleAll();
    await runSchedule(c.ctx, s.id);
    expect((await runSchedule(c.ctx, s.id)).error).toMatch(/^run skipped: the previous run's backup \S+ is still being made$/);
    await settleAll();
    expect(c.ctx.backups.get(manual.body.backup.id)?.status).toBe('available');
    const after = new SchedulesRepo(c.db).get(s.id)!;
    expect(after).toMatchObject({ runs: 8, failures: 1, last_status: 'ok', last_error: null });
  }, 120_000);

  it('a failed run: the backup is error with its reason, the schedule says so, and /metrics; the next good run clears it', async () => {
    const vid = await volume('flaky');
    const s = createSchedule(c.db, { volume: vid, cron: '*/5 * * * * *', keep: 1 });
    renameSync(join(dir, 'store', '.homestack-backup-target'), join(dir, 'marker.bak'));
    const r = await runSchedule(c.ctx, s.id);
    await settleAll();
    const b = (await c.req('GET', `${P}/backups/${r.backupId}`, c.admin)).body.backup;
    expect(b.status).toBe('error');
    expect(b.fail_reason).toMatch(/^TargetUnreachable: .*is the share mounted\?/);
    const row = new SchedulesRepo(c.db).get(s.id)!;
    expect(row).toMatchObject({ last_status: 'error', last_error: b.fail_reason, runs: 1, failures: 1, last_success_at: null });
    const m = await c.req('GET', '/metrics');
    const line = (name: string) =>
      String(m.body)
        .split('\n')
        .find((l) => l.startsWith(`${name}{schedule="${s.id}"`));
    expect(line('homestack_backup_schedule_last_run_failed')).toMatch(/ 1$/);
    expect(line('homestack_backup_schedule_failures')).toMatch(/ 1$/);

    // A volume that is gone: refused before any backup, recorded.
    const gone = createSchedule(c.db, { volume: (await volume('gone')).toString(), cron: '0 3 * * *', keep: 1 });
    c.db.prepare('DELETE FROM volumes WHERE id = ?').run(gone.resource_id);
    expect((await runSchedule(c.ctx, gone.id)).error).toBe(`Volume ${gone.resource_id} could not be found.`);
    expect(new SchedulesRepo(c.db).get(gone.id)).toMatchObject({ last_status: 'error', failures: 1, last_backup_id: null });

    renameSync(join(dir, 'marker.bak'), join(dir, 'store', '.homestack-backup-target'));
    const ok = await runSchedule(c.ctx, s.id);
    await settleAll();
    expect(new SchedulesRepo(c.db).get(s.id)).toMatchObject({ last_status: 'ok', last_error: null, runs: 2, failures: 1 });
    expect(line('homestack_backup_schedule_runs')).toBeDefined();
    // keep 1: the good backup stays; the failed one, older than it, is gone.
    expect(mine(s.id).map((x) => x.id)).toEqual([ok.backupId]);
    const m2 = String((await c.req('GET', '/metrics')).body);
    expect(m2).toMatch(new RegExp(`homestack_backup_schedule_last_run_failed\\{schedule="${s.id}"[^}]*\\} 0`));
    expect(m2).toMatch(new RegExp(`homestack_backup_schedule_last_success_timestamp_seconds\\{schedule="${s.id}"[^}]*\\} \\d+`));
  }, 60_000);

  it('the scheduler arms a node-cron task per schedule, follows changes and deletions', async () => {
    const vid = await volume('armed');
    const sch = new BackupScheduler(c.ctx);
    const s = createSchedule(c.db, { volume: vid, cron: '0 3 * * *', keep: 1 });
    sch.sync();
    expect(sch.armed()).toEqual([s.id]);
    deleteSchedule(c.db, s.id);
    sch.sync();
    expect(sch.armed()).toEqual([]);
    await sch.stop();
  });
});
