import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupApi, MiB, digest, guestWrite } from '../../controller/volumes/testing/backup-kit.js';
import { SwiftS3, swiftAvailable } from '../../controller/volumes/testing/swift-s3.js';
import { ThrottleProxy } from '../../controller/volumes/testing/throttle-proxy.js';
import { ProcessCloud, processesEnabled } from './harness.js';

/**
 * Issue 18, item 5: a slow backup target. The built controller and a volume agent back up
 * to a real S3 server (Swift's s3api, testing/swift-s3.ts) reached through a TCP proxy
 * that lets 512 KiB/s through each way (testing/throttle-proxy.ts), as a NAS behind a slow
 * link. While the backup crawls: it is `creating`, the API answers promptly, the volume
 * service stays `up` (heartbeats are not stuck behind the upload) and the volume can be
 * read. Then the backup ends `available`, every byte having gone through the slow path
 * (the proxy counted at least what is stored, over at least size / rate seconds), and it
 * restores byte-exact.
 */
const enabled = processesEnabled && swiftAvailable;
if (!enabled)
  console.log('[skip] faults/processes slow backup target: needs SYSTEM_TESTS=1, root and Debian swift (see swift-s3.ts)');

const RATE = 512 * 1024;
const lines = ['[volume]', 'backend = "file"', 'target = "fake"'];
const c = new ProcessCloud('bkslow', { agent: { roles: ['volume'], lines } });
const swift = new SwiftS3(`/var/tmp/${c.run}-swift`);
const api = new BackupApi(c);
let proxy: ThrottleProxy;

describe.skipIf(!enabled)('a slow backup target (S3 behind a 512 KiB/s link)', () => {
  beforeAll(async () => {
    await swift.start();
    proxy = new ThrottleProxy({ host: '127.0.0.1', port: swift.port }, RATE);
    await proxy.start();
    mkdirSync(c.dir, { recursive: true });
    lines.push(...swift.backupLines(`${c.run}-backups`, proxy.endpoint));
    await c.setUp();
  }, 180_000);
  afterAll(async () => {
    await c.close();
    await proxy?.stop();
    await swift.stop();
  });

  it('crawls without blocking the API or the heartbeat, then completes and restores byte-exact', async () => {
    const vid = await api.createVolume(`${c.run}-src`);
    const file = api.volFile(vid);
    guestWrite(file, 0, randomBytes(6 * MiB)); // incompressible: ~6 MiB must cross the link
    const d0 = digest(file);
    const before = proxy.bytes;
    const t0 = Date.now();
    const r = await api.createBackup({ volume_id: vid, name: `${c.run}-slow` });
    expect(r.status).toBe(202);
    const id = r.body.backup.id as string;

    // While it crawls (6 MiB at 512 KiB/s is ≥ 12 s): sample the API and the service state.
    const slowest = { ms: 0 };
    let samples = 0;
    let sawCreatingWhileUp = false;
    while (Date.now() - t0 < 8_000) {
      const s0 = Date.now();
      const b = await api.backup(id);
      const services = await c.api('GET', `${api.v}/os-services`);
      const vol = await api.volume(vid);
      slowest.ms = Math.max(slowest.ms, Date.now() - s0);
      samples++;
      expect(vol.status).toBe(200);
      const volumeService = (services.body.services as Array<{ binary: string; state: string }>).find(
        (s) => s.binary === 'cinder-volume',
      );
      if (b.status === 'creating' && volumeService?.state === 'up') sawCreatingWhileUp = true;
      await new Promise((res) => setTimeout(res, 1000));
    }
    expect(sawCreatingWhileUp).toBe(true);
    // Three API calls per sample; none waits behind the upload.
    expect(slowest.ms).toBeLessThan(3_000);

    const done = await api.backupIs(id, 'available', 240_000);
    const secs = (Date.now() - t0) / 1000;
    const moved = proxy.bytes - before;
    expect(done).toMatchObject({ fail_reason: null, object_count: expect.any(Number) });
    expect(moved).toBeGreaterThanOrEqual(6 * MiB);
    expect(secs).toBeGreaterThanOrEqual((6 * MiB) / RATE - 1);

    expect((await c.api('DELETE', `${api.v}/volumes/${vid}`)).status).toBe(202);
    const rr = await c.api('POST', `${api.v}/backups/${id}/restore`, { restore: { name: `${c.run}-r` } });
    expect(rr.status).toBe(202);
    const rv = await api.volumeIs(rr.body.restore.volume_id, 'available', 240_000);
    expect(digest(api.volFile(rv.id))).toBe(d0);
    console.log(
      `[figures] ${JSON.stringify({ backup_s: secs, bytes_through_link: moved, api_samples: samples, slowest_sample_ms: slowest.ms })}`,
    );
  }, 600_000);
});
