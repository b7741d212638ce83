import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCloud, processesEnabled } from '../../faults/processes/harness.js';
import { BackupApi, MiB, digest, guestWrite } from './testing/backup-kit.js';

/**
 * The restore drill (issue 18) with real processes: the built controller and a volume
 * agent with the file back end and its default posix backup target (<data_dir>/backups),
 * chunks of 1 MiB. Data is written into the volume, backed up in full, changed, backed
 * up incrementally; the volume is lost (deleted); both backups are restored to new
 * volumes and compared byte for byte, and one over an existing volume; the dependency
 * rule holds; deleting both leaves the store empty.
 */
if (!processesEnabled) console.log('[skip] backups system test: needs SYSTEM_TESTS=1 and root (real controller and agent)');

const c = new ProcessCloud('backups', {
  agent: {
    roles: ['volume'],
    lines: ['[volume]', 'backend = "file"', 'target = "fake"', '[backup]', 'chunk_size_mib = 1'],
  },
});
const api = new BackupApi(c);

describe.skipIf(!processesEnabled)('volume backups with a real volume agent (file back end, posix target)', () => {
  beforeAll(async () => {
    await c.setUp();
  }, 120_000);
  afterAll(async () => {
    await c.close();
  });

  it('full and incremental backups restore byte-exact after the volume is lost; the dependency rule; delete empties the store', async () => {
    const figures: Record<string, number> = {};
    const vid = await api.createVolume(`${c.run}-src`);
    const file = api.volFile(vid);
    guestWrite(file, 0, randomBytes(8 * MiB));
    guestWrite(file, 600 * MiB, randomBytes(3 * MiB));
    const d1 = digest(file);

    let t = Date.now();
    const r1 = await api.createBackup({ volume_id: vid, name: `${c.run}-b1` });
    expect(r1.status).toBe(202);
    expect((await api.volume(vid)).body.volume.status).toBe('backing-up');
    const b1 = await api.backupIs(r1.body.backup.id, 'available');
    figures.full_backup_s = (Date.now() - t) / 1000;
    expect(b1).toMatchObject({ size: 1, is_incremental: false, object_count: 11, fail_reason: null, volume_id: vid });
    expect((await api.volume(vid)).body.volume.status).toBe('available');
    expect(digest(file)).toBe(d1); // the source is untouched

    // Two chunks change (one overwritten, one new): the incremental stores those two.
    guestWrite(file, 0, randomBytes(MiB));
    guestWrite(file, 100 * MiB + 4096, Buffer.from(`second marker ${c.run}`));
    const d2 = digest(file);
    t = Date.now();
    const r2 = await api.createBackup({ volume_id: vid, name: `${c.run}-b2`, incremental: true });
    expect(r2.status).toBe(202);
    const b2 = await api.backupIs(r2.body.backup.id, 'available');
    figures.incremental_backup_s = (Date.now() - t) / 1000;
    expect(b2).toMatchObject({ is_incremental: true, object_count: 2 });
    expect((await api.backup(b1.id)).has_dependent_backups).toBe(true);
    const refused = await c.api('DELETE', `${api.v}/backups/${b1.id}`);
    expect(refused.status).toBe(400);
    expect(refused.body.badRequest.message).toBe('Invalid backup: Incremental backups exist for this backup.');

    // The volume is lost.
    expect((await c.api('DELETE', `${api.v}/volumes/${vid}`)).status).toBe(202);
    await until404(vid);

    t = Date.now();
    const rr2 = await c.api('POST', `${api.v}/backups/${b2.id}/restore`, { restore: { name: `${c.run}-r2` } });
    expect(rr2.status).toBe(202);
    expect(rr2.body.restore).toMatchObject({ backup_id: b2.id, volume_name: `${c.run}-r2` });
    const r2v = await api.volumeIs(rr2.body.restore.volume_id, 'available');
    figures.incremental_restore_s = (Date.now() - t) / 1000;
    expect(digest(api.volFile(r2v.id))).toBe(d2);
    await api.backupIs(b2.id, 'available');

    const rr1 = await c.api('POST', `${api.v}/backups/${b1.id}/restore`, { restore: null });
    const r1v = await api.volumeIs(rr1.body.restore.volume_id, 'available');
    expect(r1v.name).toBe(`restore_backup_${b1.id}`);
    expect(digest(api.volFile(r1v.id))).toBe(d1);

    // Over an existing volume: the full backup's state replaces the incremental's.
    const rr3 = await c.api('POST', `${api.v}/backups/${b1.id}/restore`, { restore: { volume_id: r2v.id } });
    expect(rr3.status).toBe(202);
    await api.volumeIs(r2v.id, 'available');
    expect(digest(api.volFile(r2v.id))).toBe(d1);

    const objects = api.storeFiles().filter((f) => !f.startsWith('.'));
    expect(objects.length).toBe(11 + 2 + 2 * 2); // the chunks and each backup's _sha256file and _metadata
    expect((await c.api('DELETE', `${api.v}/backups/${b2.id}`)).status).toBe(202);
    await until404(b2.id, 'backups');
    expect((await c.api('DELETE', `${api.v}/backups/${b1.id}`)).status).toBe(202);
    await until404(b1.id, 'backups');
    expect(api.storeFiles().filter((f) => !f.startsWith('.'))).toEqual([]);
    console.log(`[figures] ${JSON.stringify(figures)}`);
  });
});

async function until404(id: string, kind = 'volumes'): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < 60_000) {
    if ((await c.api('GET', `${api.v}/${kind}/${id}`)).status === 404) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${kind} ${id} still there after 60 s`);
}
