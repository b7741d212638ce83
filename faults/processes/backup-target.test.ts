import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupApi, MiB, digest, guestWrite } from '../../controller/volumes/testing/backup-kit.js';
import { ProcessCloud, processesEnabled } from './harness.js';

/**
 * Issue 18, item 5: the backup target full, unreachable, and a corrupted chunk found on
 * restore, with a real controller and volume agent (dist/; file back end, posix target,
 * 1 MiB chunks). The store is a 12 MiB tmpfs bind-mounted at the agent's default
 * <data_dir>/backups, as an NFS share would be mounted there:
 * - full: a backup of 16 MiB of random data ends `error` with "TargetFull: …", nothing of
 *   it stays in the store, the volume is `available` and unchanged; once the store grows
 *   the same backup succeeds;
 * - unreachable: the share is unmounted under the agent (the mount point is an empty
 *   directory): the backup ends `error` with "TargetUnreachable: … is the share
 *   mounted?", nothing is written to the local disk under the mount point; remounted, a
 *   retry succeeds;
 * - corrupted chunk: a byte of one stored object flipped; the restore to a new volume
 *   ends `error_restoring` with "BackupCorrupt: chunk N (bytes A-B) of backup … is
 *   corrupt", the backup is `available` again with that reason in its `fail_reason`,
 *   and a restore of an intact backup works.
 */
if (!processesEnabled)
  console.log('[skip] faults/processes backup target faults: needs SYSTEM_TESTS=1 and root (mounts, real daemons)');

const mounts: string[] = [];
const mount = (...args: string[]) => {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
};
const umount = (p: string) => spawnSync('umount', [p], { encoding: 'utf8' }).status === 0;

const c = new ProcessCloud('bktarget', {
  agent: {
    roles: ['volume'],
    lines: ['[volume]', 'backend = "file"', 'target = "fake"', '[backup]', 'chunk_size_mib = 1'],
  },
  beforeStart: (x) => {
    const fs = join(x.dir, 'store-fs');
    const at = join(x.dir, 'agent', 'backups');
    mkdirSync(fs, { recursive: true });
    mkdirSync(at, { recursive: true });
    mount('-t', 'tmpfs', '-o', 'size=12m', `${x.run}-bkstore`, fs);
    mounts.push(fs);
    mount('--bind', fs, at);
    mounts.push(at);
  },
});
const api = new BackupApi(c);
const storeFs = () => join(c.dir, 'store-fs');
const mountPoint = () => join(c.dir, 'agent', 'backups');
/** The store's objects (the marker aside). */
const objects = () => api.storeFiles().filter((f) => !f.startsWith('.homestack-backup-target'));

describe.skipIf(!processesEnabled)('backup target faults (real controller and volume agent)', () => {
  const figures: Record<string, unknown> = {};
  let vid = '';
  let d0 = '';
  let good = '';

  beforeAll(async () => {
    await c.setUp();
    vid = await api.createVolume(`${c.run}-v`);
    const file = api.volFile(vid);
    guestWrite(file, 0, randomBytes(16 * MiB)); // incompressible: 16 MiB in the store
    guestWrite(file, 700 * MiB, Buffer.from(`marker ${c.run}`));
    d0 = digest(file);
  }, 120_000);
  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await c.kill9('agent');
    for (const m of mounts.reverse()) umount(m);
    await c.close();
  });

  it('a full target: the backup ends error (TargetFull), leaves nothing, the volume is untouched; with space a retry succeeds', async () => {
    const r = await api.createBackup({ volume_id: vid, name: `${c.run}-full` });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const b = await api.backupIs(r.body.backup.id, 'error');
    figures.full_reason = b.fail_reason;
    expect(b.fail_reason).toMatch(/^TargetFull: .*the backup target is full \(ENOSPC\)/);
    expect(objects()).toEqual([]);
    const v = await api.volumeIs(vid, 'available', 30_000);
    expect(v.status).toBe('available');
    expect(digest(api.volFile(vid))).toBe(d0);
    expect((await c.api('DELETE', `${api.v}/backups/${b.id}`)).status).toBe(202);

    mount('-o', 'remount,size=48m', storeFs());
    const again = await api.createBackup({ volume_id: vid, name: `${c.run}-good` });
    const ok = await api.backupIs(again.body.backup.id, 'available');
    expect(ok.object_count).toBe(17); // 16 random chunks and the marker's chunk
    good = ok.id;
  });

  it('an unreachable target (the share unmounted): error TargetUnreachable, nothing on the local disk; remounted, a retry succeeds', async () => {
    expect(umount(mountPoint())).toBe(true);
    mounts.pop();
    const r = await api.createBackup({ volume_id: vid, name: `${c.run}-unmounted` });
    const b = await api.backupIs(r.body.backup.id, 'error');
    figures.unreachable_reason = b.fail_reason;
    expect(b.fail_reason).toMatch(/^TargetUnreachable: .*marker is missing: is the share mounted\?/);
    expect(readdirSync(mountPoint())).toEqual([]); // the local disk under the mount point got nothing
    await api.volumeIs(vid, 'available', 30_000);
    expect((await c.api('DELETE', `${api.v}/backups/${b.id}`)).status).toBe(202);

    mount('--bind', storeFs(), mountPoint());
    mounts.push(mountPoint());
    const again = await api.createBackup({ volume_id: vid, name: `${c.run}-remounted`, incremental: true });
    const ok = await api.backupIs(again.body.backup.id, 'available');
    expect(ok.is_incremental).toBe(true);
    expect(ok.object_count).toBe(0); // nothing changed since the good backup
    expect((await c.api('DELETE', `${api.v}/backups/${ok.id}`)).status).toBe(202);
  });

  it('a corrupted chunk: the restore ends error_restoring naming the chunk and object; the backup stays available', async () => {
    const files = objects().filter((f) => f.includes(good) && /-\d{5}$/.test(f));
    expect(files.length).toBe(17);
    const victim = join(storeFs(), files[5]!);
    const data = readFileSync(victim);
    data[100] = data[100]! ^ 0xff;
    writeFileSync(victim, data);

    const rr = await c.api('POST', `${api.v}/backups/${good}/restore`, { restore: { name: `${c.run}-r` } });
    expect(rr.status, JSON.stringify(rr.body)).toBe(202);
    const rv = await api.volumeIs(rr.body.restore.volume_id, 'error_restoring');
    expect(rv.status).toBe('error_restoring');
    // Cinder keeps the backup usable after a failed restore; why the restore failed is in
    // the backup's fail_reason (the API), and on the volume record for admins.
    const after = await api.backupIs(good, 'available', 30_000);
    const corrupt = `BackupCorrupt: chunk \\d+ \\(bytes \\d+-\\d+\\) of backup ${good} is corrupt: object \\S+-\\d{5} does not match its SHA-256`;
    figures.corrupt_fail_reason = after.fail_reason;
    expect(after.fail_reason).toMatch(new RegExp(`^Restore to volume ${rv.id} failed: ${corrupt}`));
    const reason = c.q<{ reason: string }>('SELECT reason FROM volumes WHERE id = ?', rv.id)[0]?.reason ?? '';
    expect(reason).toMatch(new RegExp(`^${corrupt}`));
    // The source is untouched and a fresh full backup restores byte-exact.
    expect(digest(api.volFile(vid))).toBe(d0);
  });
});
