import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCloud, processesEnabled } from '../../faults/processes/harness.js';
import { BackupApi, MiB, digest, guestWrite } from './testing/backup-kit.js';
import { SwiftS3, swiftAvailable } from './testing/swift-s3.js';

/**
 * Volume backups to a real S3 server (issue 18: "S3: tested against a real
 * S3-compatible server installed from a package registry"): OpenStack Swift's s3api
 * from Debian's packages (testing/swift-s3.ts; MinIO and Garage are not in Debian, Ceph's
 * radosgw needs a Ceph cluster), the built controller and a volume agent with
 * `backup.target = "s3"` through the AWS SDK's S3 client. A full and an incremental
 * backup land as objects in the bucket, the volume is lost, the incremental restores
 * byte-exact, and deleting both leaves the bucket without their objects.
 */
const enabled = processesEnabled && swiftAvailable;
if (!enabled)
  console.log(
    '[skip] S3 backups system test: needs SYSTEM_TESTS=1, root and Debian swift-proxy/swift-object/swift-container/swift-account (/etc/swift/swift.conf)',
  );

const lines = ['[volume]', 'backend = "file"', 'target = "fake"'];
const c = new ProcessCloud('bks3', { agent: { roles: ['volume'], lines } });
const swift = new SwiftS3(`/var/tmp/${c.run}-swift`);
const api = new BackupApi(c);
const bucket = `${c.run}-backups`;

describe.skipIf(!enabled)('volume backups to a real S3 server (Swift s3api)', () => {
  let s3: S3Client;
  const keys = async () =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();

  beforeAll(async () => {
    await swift.start();
    mkdirSync(c.dir, { recursive: true });
    lines.push(...swift.backupLines(bucket));
    s3 = new S3Client({
      endpoint: swift.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: swift.accessKey, secretAccessKey: swift.secretKey },
    });
    await c.setUp();
  }, 180_000);
  afterAll(async () => {
    await c.close();
    await swift.stop();
  });

  it('full and incremental backups are objects in the bucket, restore byte-exact after the volume is lost, delete empties it', async () => {
    const vid = await api.createVolume(`${c.run}-src`);
    const file = api.volFile(vid);
    guestWrite(file, 0, randomBytes(3 * MiB));
    const b1 = await api.backupIs(
      (await api.createBackup({ volume_id: vid, name: `${c.run}-full` })).body.backup.id,
      'available',
    );
    expect(b1).toMatchObject({ is_incremental: false, container: bucket, fail_reason: null });
    expect(b1.object_count).toBeGreaterThanOrEqual(3);
    guestWrite(file, 512 * MiB, Buffer.from(`changed ${c.run}`));
    const d2 = digest(file);
    const r2 = await api.createBackup({ volume_id: vid, name: `${c.run}-incr`, incremental: true });
    const b2 = await api.backupIs(r2.body.backup.id, 'available');
    expect(b2).toMatchObject({ is_incremental: true, object_count: 1 });
    const stored = await keys();
    expect(stored.filter((k) => k.includes(b1.id)).length).toBeGreaterThanOrEqual(b1.object_count);
    expect(stored.filter((k) => k.includes(b2.id)).length).toBeGreaterThanOrEqual(1);

    expect((await c.api('DELETE', `${api.v}/volumes/${vid}`)).status).toBe(202);
    const rr = await c.api('POST', `${api.v}/backups/${b2.id}/restore`, { restore: { name: `${c.run}-r` } });
    expect(rr.status).toBe(202);
    const rv = await api.volumeIs(rr.body.restore.volume_id, 'available');
    expect(digest(api.volFile(rv.id))).toBe(d2);

    expect((await c.api('DELETE', `${api.v}/backups/${b2.id}`)).status).toBe(202);
    await api.backupGone(b2.id);
    expect((await c.api('DELETE', `${api.v}/backups/${b1.id}`)).status).toBe(202);
    await api.backupGone(b1.id);
    expect((await keys()).filter((k) => k.includes(b1.id) || k.includes(b2.id))).toEqual([]);
    console.log(`[figures] ${JSON.stringify({ objects_full: b1.object_count, keys_seen: stored.length })}`);
  }, 300_000);
});
