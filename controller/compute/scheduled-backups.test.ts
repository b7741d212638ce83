import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { BackupScheduler } from '../jobs/backup-schedules.js';
import type { VolumeCtx } from '../volumes/context.js';
import { volumeCtxOf } from '../volumes/plugin.js';
import { SchedulesRepo } from '../volumes/schedules.repo.js';
import { createSchedule, runSchedule, type ScheduleFieldError, settleSchedules } from '../volumes/schedules.service.js';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

/**
 * Server backup schedules (issue 18, item 3): a run is createBackup through serverAction
 * (the API's path: policy, state checks, the queued Glance image, the host's snapshot,
 * Nova's rotation), against the in-memory controller with the compute kit's gateway
 * (the host's part: "uploading" a real qcow2 into the image).
 */
const V = '/compute/v2.1';
let c: ComputeCloud;
let vctx: VolumeCtx;
let qcow2: Buffer;
beforeEach(async () => {
  c = await computeCloud();
  c.host({ name: 'cmp1' });
  vctx = volumeCtxOf(c.app.homestack.deps);
  const dir = mkdtempSync(join(tmpdir(), 'hs-sbk-'));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'd.qcow2'), '1M']);
  qcow2 = readFileSync(join(dir, 'd.qcow2'));
  rmSync(dir, { recursive: true, force: true });
  const images = c.app.homestack.deps.facades.images!;
  c.gw.onSnapshot = async (img) => {
    await images.upload(img, Readable.from([qcow2]));
  };
});
afterEach(async () => {
  await c.close();
});

let made = 0;
async function server(name: string): Promise<string> {
  made++;
  const flavor = await c.flavor(`f-${name}-${made}`);
  const image = await c.image(`img-${name}-${made}`);
  const r = await c.req('POST', `${V}/servers`, c.admin, {
    server: { name, imageRef: image, flavorRef: flavor, networks: 'none' },
  });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  await c.settle();
  return r.body.server.id;
}

const row = (id: string) => new SchedulesRepo(c.db).get(id)!;
const backupsOf = (serverId: string, type: string) =>
  c.app.homestack.deps.facades.images!.withProperties(c.adminProjectId, {
    image_type: 'backup',
    backup_type: type,
    instance_uuid: serverId,
  });
async function settleAll() {
  for (let i = 0; i < 3; i++) {
    await c.settle();
    settleSchedules(vctx, c.ctx);
  }
}
function err(f: () => unknown): ScheduleFieldError {
  try {
    f();
  } catch (e) {
    return e as ScheduleFieldError;
  }
  throw new Error('no error');
}

describe('server backup schedules', () => {
  it('exactly one of --server/--volume; a server by id or unique name; --incremental is for volumes', async () => {
    const id = await server('web');
    expect(err(() => createSchedule(c.db, { cron: '0 3 * * *', keep: 2 })).message).toBe(
      '--server/--volume: give one: --server S or --volume V',
    );
    const both = err(() => createSchedule(c.db, { server: id, volume: 'v', cron: '0 3 * * *', keep: 2 }));
    expect(both.field).toBe('--server/--volume');
    expect(both.message).toBe('--server/--volume: give one of them, not both');
    expect(both.status).toBe(400);
    expect(err(() => createSchedule(c.db, { server: 'nope', cron: '0 3 * * *', keep: 2 })).message).toBe(
      `--server: no server has the id or name 'nope'`,
    );
    expect(err(() => createSchedule(c.db, { server: id, cron: '0 3 * * *', keep: 2, incremental: true })).field).toBe(
      '--incremental',
    );
    expect(err(() => createSchedule(c.db, { server: id, cron: 'x', keep: 2 })).field).toBe('--cron');
    expect(new SchedulesRepo(c.db).list()).toEqual([]);
    const s = createSchedule(c.db, { server: 'web', cron: '0 3 * * *', keep: 2, name: 'nightly' });
    expect(s).toMatchObject({ resource_type: 'server', resource_id: id, project_id: c.adminProjectId, keep: 2 });
    await server('web');
    expect(err(() => createSchedule(c.db, { server: 'web', cron: '0 3 * * *', keep: 1 })).message).toBe(
      `--server: 2 servers are named 'web': give the server's id`,
    );
  });

  it('a run is createBackup: an image of the schedule type, Nova rotation keeps the newest `keep`; a run while one is made is skipped', async () => {
    const id = await server('db');
    const s = createSchedule(c.db, { server: id, cron: '0 3 * * *', keep: 2, name: 'nightly' });
    const made: string[] = [];
    for (let n = 0; n < 3; n++) {
      const r = await runSchedule(vctx, s.id, c.ctx);
      expect(r.error).toBeNull();
      made.push(r.backupId!);
      // The API's path: the server shows the task and the instance action exists.
      expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['OS-EXT-STS:task_state']).toBe('image_backup');
      expect(row(s.id)).toMatchObject({ last_status: 'running', last_backup_id: r.backupId });
      await settleAll();
      expect(row(s.id)).toMatchObject({ last_status: 'ok', last_backup_id: r.backupId, failures: 0, last_error: null });
    }
    expect(backupsOf(id, 'nightly').map((i) => i.id)).toEqual([made[2], made[1]]);
    expect(c.app.homestack.deps.facades.images!.get(null, made[0]!)).toBeNull();
    const acts = (await c.req('GET', `${V}/servers/${id}/os-instance-actions`, c.admin)).body.instanceActions;
    expect(acts.filter((a: { action: string }) => a.action === 'createBackup').length).toBe(3);

    // An unnamed schedule's images are of type 'scheduled', rotated apart from 'nightly'.
    const un = createSchedule(c.db, { server: id, cron: '0 4 * * *', keep: 1 });
    let release!: () => void;
    const images = c.app.homestack.deps.facades.images!;
    c.gw.onSnapshot = async (img) => {
      await new Promise<void>((r) => {
        release = r;
      });
      await images.upload(img, Readable.from([qcow2]));
    };
    const held = await runSchedule(vctx, un.id, c.ctx);
    await new Promise((r) => setTimeout(r, 20));
    settleSchedules(vctx, c.ctx);
    expect(row(un.id).last_status).toBe('running');
    expect((await runSchedule(vctx, un.id, c.ctx)).error).toBe(
      `run skipped: the previous run's backup ${held.backupId} is still being made`,
    );
    release();
    await settleAll();
    expect(row(un.id)).toMatchObject({ last_status: 'ok', runs: 2, failures: 1, last_backup_id: held.backupId });
    expect(backupsOf(id, 'scheduled').map((i) => i.id)).toEqual([held.backupId]);
    expect(backupsOf(id, 'nightly').length).toBe(2);
  });

  it('a failed run: the image killed, the schedule and /metrics say why; a deleted server is refused', async () => {
    const id = await server('flaky');
    const s = createSchedule(c.db, { server: id, cron: '0 3 * * *', keep: 3, name: 'daily' });
    c.gw.onSnapshot = async () => {
      throw new Error('qemu-img convert: No space left on device');
    };
    const r = await runSchedule(vctx, s.id, c.ctx);
    await settleAll();
    expect(c.app.homestack.deps.facades.images!.get(null, r.backupId!)?.status).toBe('killed');
    expect(row(s.id)).toMatchObject({
      last_status: 'error',
      runs: 1,
      failures: 1,
      last_success_at: null,
      last_error: `the backup image ${r.backupId} is killed: qemu-img convert: No space left on device`,
    });
    const m = String((await c.req('GET', '/metrics')).body);
    expect(m).toContain(`homestack_backup_schedule_last_run_failed{schedule="${s.id}",name="daily",volume="",server="${id}"} 1`);
    expect(m).toContain(`homestack_backup_schedule_failures{schedule="${s.id}",name="daily",volume="",server="${id}"} 1`);

    // A state Nova refuses: the 409's message is the reason, no image is made.
    c.db.prepare(`UPDATE instances SET task_state = 'rebooting' WHERE id = ?`).run(id);
    expect((await runSchedule(vctx, s.id, c.ctx)).error).toBe(
      `Cannot 'createBackup' instance ${id} while it is in task_state rebooting`,
    );
    expect(row(s.id)).toMatchObject({ last_status: 'error', last_backup_id: null, failures: 2 });
    c.db.prepare('UPDATE instances SET task_state = NULL WHERE id = ?').run(id);

    expect((await c.req('DELETE', `${V}/servers/${id}`, c.admin)).status).toBe(204);
    await c.settle();
    expect((await runSchedule(vctx, s.id, c.ctx)).error).toBe(`Instance ${id} could not be found.`);
    expect((await runSchedule(vctx, s.id, null)).error).toBe('the compute service is not available');
    expect(row(s.id)).toMatchObject({ runs: 4, failures: 4 });
  });

  it('node-cron fires a server schedule through the scheduler', async () => {
    const id = await server('cron');
    const s = createSchedule(c.db, { server: id, cron: '* * * * * *', keep: 1, name: 'secondly' });
    const sch = new BackupScheduler(vctx, c.ctx);
    sch.sync();
    expect(sch.armed()).toEqual([s.id]);
    const deadline = Date.now() + 5_000;
    while (row(s.id).runs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await sch.stop();
    await settleAll();
    expect(row(s.id).runs).toBeGreaterThanOrEqual(1);
    expect(row(s.id).last_status).toBe('ok');
    expect(backupsOf(id, 'secondly').length).toBe(1);
  });

  it('migration 017 keeps the volume schedules 014 stored and admits servers', () => {
    const db = openDb(':memory:');
    const all = loadMigrations();
    migrate(
      db,
      all.filter((m) => m.version < 17),
    );
    const ts = '2026-01-01T00:00:00.000Z';
    db.prepare(
      `INSERT INTO backup_schedules (id, project_id, resource_type, resource_id, name, cron, keep, incremental, runs, failures,
         last_status, last_backup_id, created_at, updated_at) VALUES ('s1', 'p', 'volume', 'v1', 'n', '0 3 * * *', 7, 1, 4, 1, 'ok', 'b4', ?, ?)`,
    ).run(ts, ts);
    expect(() =>
      db
        .prepare(
          `INSERT INTO backup_schedules (id, project_id, resource_type, resource_id, cron, keep, created_at, updated_at) VALUES ('s2', 'p', 'server', 'i1', '0 3 * * *', 1, ?, ?)`,
        )
        .run(ts, ts),
    ).toThrow(/CHECK constraint failed/);
    expect(migrate(db, all)).toEqual(all.filter((m) => m.version >= 17).map((m) => m.version));
    expect(new SchedulesRepo(db).get('s1')).toMatchObject({
      resource_type: 'volume',
      resource_id: 'v1',
      keep: 7,
      incremental: 1,
      runs: 4,
      failures: 1,
      last_status: 'ok',
      last_backup_id: 'b4',
      last_request_id: null,
      created_at: ts,
    });
    const s2 = new SchedulesRepo(db).insert({
      id: 's2',
      project_id: 'p',
      resource_type: 'server',
      resource_id: 'i1',
      name: null,
      cron: '0 3 * * *',
      keep: 1,
      incremental: 0,
    });
    expect(s2.resource_type).toBe('server');
    db.close();
  });
});
