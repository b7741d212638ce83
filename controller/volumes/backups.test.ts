import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../agents/volume/file.js';
import { makeRunner } from '../../shared/exec/run.js';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';
import { digest } from './testing/backup-kit.js';

let c: VolumeCloud;
let P: string;
let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-backups-'));
  const backend = new FileBackend({ dir: join(dir, 'volumes'), run: makeRunner() });
  c = await volumeCloud({ backend, backendName: 'file', backups: { dir: join(dir, 'store'), chunkKiB: 256 } });
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

const volFile = (id: string) => join(dir, 'volumes', `volume-${id}.img`);
/** What a guest would do: write into the volume's back-end file. */
async function guestWrite(id: string, off: number, data: Buffer) {
  const fh = await open(volFile(id), 'r+');
  await fh.write(data, 0, data.length, off);
  await fh.close();
}

async function backupStatus(id: string, status: string) {
  await c.settle();
  const r = await c.req('GET', `${P}/backups/${id}`, c.admin);
  if (r.body.backup?.status !== status) throw new Error(`backup ${id}: ${JSON.stringify(r.body)}`);
  return r.body.backup;
}

describe('Cinder volume backups (file back end, posix target)', () => {
  it('full, incremental of an in-use volume from a temporary snapshot, restores byte-exact, the dependency rule', async () => {
    const img = await c.image('src');
    const v = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: img, name: 'v' } })).body.volume;
    await c.waitStatus(v.id, c.admin, 'available');
    await guestWrite(v.id, 300 * 1024, randomBytes(500 * 1024));
    const state1 = digest(volFile(v.id));

    const r1 = await c.req('POST', `${P}/backups`, c.admin, {
      backup: {
        volume_id: v.id,
        name: 'b1',
        container: null,
        description: null,
        incremental: false,
        force: false,
        snapshot_id: null,
      },
    });
    expect(r1.status).toBe(202);
    expect(Object.keys(r1.body.backup).sort()).toEqual(['id', 'links', 'name']);
    const b1 = await backupStatus(r1.body.backup.id, 'available');
    expect(b1).toMatchObject({
      name: 'b1',
      size: 1,
      is_incremental: false,
      has_dependent_backups: false,
      volume_id: v.id,
      fail_reason: null,
    });
    expect(b1.object_count).toBe(4); // the image's 4 KiB (chunk 0) and 500 KiB from 300 KiB (chunks 1-3), 256 KiB chunks
    expect(b1.container).toBe(`${b1.id.slice(0, 2)}/${b1.id.slice(2, 4)}/${b1.id}`);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('available');

    // The guest attaches it (in-use) and writes more.
    await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-reset_status': { status: 'in-use' } });
    await guestWrite(v.id, 700 * 1024 * 1024, Buffer.from('second marker'));
    const state2 = digest(volFile(v.id));
    const refused = await c.req('POST', `${P}/backups`, c.admin, { backup: { volume_id: v.id, incremental: true } });
    expect(refused.status).toBe(400);
    expect(refused.body.badRequest.message).toBe('Invalid volume: Backing up an in-use volume must use the force flag.');
    const r2 = await c.req('POST', `${P}/backups`, c.admin, {
      backup: { volume_id: v.id, name: 'b2', incremental: true, force: true },
    });
    expect(r2.status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('backing-up');
    const b2 = await backupStatus(r2.body.backup.id, 'available');
    expect(b2).toMatchObject({ is_incremental: true, object_count: 1 });
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('in-use');
    expect(readdirSync(join(dir, 'volumes')).filter((n) => n.startsWith('snapshot-'))).toEqual([]); // the temporary snapshot is gone
    expect((await c.req('GET', `${P}/backups/${b1.id}`, c.admin)).body.backup.has_dependent_backups).toBe(true);

    const del = await c.req('DELETE', `${P}/backups/${b1.id}`, c.admin);
    expect(del.status).toBe(400);
    expect(del.body.badRequest.message).toBe('Invalid backup: Incremental backups exist for this backup.');

    // Restore each to a new volume: byte-exact.
    const rr2 = await c.req('POST', `${P}/backups/${b2.id}/restore`, c.admin, { restore: { volume_id: null, name: 'r2' } });
    expect(rr2.status).toBe(202);
    expect(rr2.body.restore).toMatchObject({ backup_id: b2.id, volume_name: 'r2' });
    expect((await c.req('GET', `${P}/backups/${b2.id}`, c.admin)).body.backup.status).toBe('restoring');
    await c.waitStatus(rr2.body.restore.volume_id, c.admin, 'available');
    expect(digest(volFile(rr2.body.restore.volume_id))).toBe(state2);
    await backupStatus(b2.id, 'available');
    const rr1 = await c.req('POST', `${P}/backups/${b1.id}/restore`, c.admin, { restore: null });
    const r1v = await c.waitStatus(rr1.body.restore.volume_id, c.admin, 'available');
    expect(r1v).toMatchObject({
      name: `restore_backup_${b1.id}`,
      description: 'auto-created_from_restore_from_backup',
      bootable: 'true',
    });
    expect(digest(volFile(r1v.id))).toBe(state1);
    // Over an existing volume: the incremental's state replaces the full one's.
    const rr3 = await c.req('POST', `${P}/backups/${b2.id}/restore`, c.admin, { restore: { volume_id: r1v.id } });
    expect(rr3.status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${r1v.id}`, c.admin)).body.volume.status).toBe('restoring-backup');
    await c.waitStatus(r1v.id, c.admin, 'available');
    expect(digest(volFile(r1v.id))).toBe(state2);

    // Volume create with backup_id (Cinder 3.47's field, read at 3.0 as Cinder does).
    const fromB = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: null, name: 'fromb', backup_id: b2.id } });
    expect(fromB.status).toBe(202);
    const fv = await c.waitStatus(fromB.body.volume.id, c.admin, 'available');
    expect(fv.size).toBe(1);
    expect(digest(volFile(fv.id))).toBe(state2);

    const lim = await c.req('GET', `${P}/limits`, c.admin);
    expect(lim.body.limits.absolute).toMatchObject({ totalBackupsUsed: 2, totalBackupGigabytesUsed: 2 });

    // Delete: the incremental first, then the full; every object goes.
    expect((await c.req('DELETE', `${P}/backups/${b2.id}`, c.admin)).status).toBe(202);
    await c.settle();
    expect((await c.req('DELETE', `${P}/backups/${b1.id}`, c.admin)).status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${P}/backups/${b1.id}`, c.admin)).status).toBe(404);
    expect(readdirSync(join(dir, 'store'))).toEqual(['.homestack-backup-target']);
  }, 90_000); // five 1 GiB volumes made, backed up, restored and read: 26 s on the loaded 2-core host

  it('record export and import (admin), a corrupted chunk fails the restore clearly, members see only their own', async () => {
    const v = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name: 'v' } })).body.volume;
    await c.waitStatus(v.id, c.admin, 'available');
    await guestWrite(v.id, 0, randomBytes(600 * 1024));
    const b = (await c.req('POST', `${P}/backups`, c.admin, { backup: { volume_id: v.id, name: 'b' } })).body.backup;
    await backupStatus(b.id, 'available');

    const ex = await c.req('GET', `${P}/backups/${b.id}/export_record`, c.admin);
    expect(ex.status).toBe(200);
    expect(ex.body['backup-record'].backup_service).toBe('homestack.backup.drivers.posix');
    // The database loses the row; the objects stay. Import brings it back.
    c.db.prepare('DELETE FROM volume_backups WHERE id = ?').run(b.id);
    const dup = await c.req('POST', `${P}/backups/import_record`, c.admin, { 'backup-record': ex.body['backup-record'] });
    expect(dup.status).toBe(201);
    expect(dup.body.backup.id).toBe(b.id);
    const again = await c.req('POST', `${P}/backups/import_record`, c.admin, { 'backup-record': ex.body['backup-record'] });
    expect(again.status).toBe(400);
    expect(again.body.badRequest.message).toBe('Invalid backup: Backup already exists in database.');
    const imported = await backupStatus(b.id, 'available');
    expect(imported.object_count).toBe(3);

    const m = await c.member('alice');
    expect((await c.req('GET', `/volume/v3/${m.projectId}/backups/${b.id}`, m.token)).status).toBe(404);
    expect((await c.req('GET', `/volume/v3/${m.projectId}/backups/detail`, m.token)).body.backups).toEqual([]);
    expect(
      (
        await c.req('POST', `/volume/v3/${m.projectId}/backups/import_record`, m.token, {
          'backup-record': ex.body['backup-record'],
        })
      ).status,
    ).toBe(403);

    // Flip a byte of one stored chunk: the restore names it; the backup stays available, the volume is error_restoring.
    const cont = join(dir, 'store', imported.container);
    const obj = readdirSync(cont).find((n) => n.endsWith('-00002'))!;
    const data = readFileSync(join(cont, obj));
    data[data.length >> 1] ^= 0x55;
    writeFileSync(join(cont, obj), data);
    const rr = await c.req('POST', `${P}/backups/${b.id}/restore`, c.admin, { restore: { name: 'bad' } });
    await c.settle();
    const bad = (await c.req('GET', `${P}/volumes/${rr.body.restore.volume_id}`, c.admin)).body.volume;
    expect(bad.status).toBe('error_restoring');
    const reason = c.db.prepare('SELECT reason FROM volumes WHERE id = ?').pluck().get(bad.id) as string;
    expect(reason).toMatch(/^BackupCorrupt: chunk 1 \(bytes 262144-524287\) of backup .* is corrupt/);
    await backupStatus(b.id, 'available');
  });
});
