import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCloud, processesEnabled } from './harness.js';

/**
 * Issue 11, scenario 4 (image store half): the image directory of a real controller
 * process (dist/) is a 24 MiB tmpfs. An upload that does not fit gets a clean OpenStack
 * error (413, no 5xx), leaves no staging file and no active image, earlier images still
 * download with their checksum, and the same upload succeeds once space returns.
 */
const ENABLED = processesEnabled;
if (!ENABLED)
  console.log('[skip] faults/processes image store full: needs SYSTEM_TESTS=1 and root (starts a real controller process)');

let mounted = false;
const c = new ProcessCloud('imgfull', {
  // The image directory is a 24 MiB tmpfs, mounted before the controller starts.
  beforeStart: (x) => {
    const mnt = join(x.dir, 'ctl', 'images');
    mkdirSync(mnt, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', `${x.run}-images`, mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`mount: ${m.stderr}`);
    mounted = true;
  },
});
const RUN = c.run;
const api = (method: string, path: string, body?: unknown) => c.api(method, `/image${path}`, body);
async function createImage(name: string): Promise<string> {
  const r = await api('POST', '/v2/images', { name, disk_format: 'raw', container_format: 'bare' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
const upload = async (id: string, data: Buffer): Promise<number> => (await api('PUT', `/v2/images/${id}/file`, data)).status;
const stagingFiles = () => {
  try {
    return readdirSync(join(c.dir, 'ctl', 'images', '.staging'));
  } catch {
    return [];
  }
};

describe.skipIf(!ENABLED)('image store disk full', () => {
  const figures: Record<string, unknown> = {};
  const mnt = () => join(c.dir, 'ctl', 'images');

  beforeAll(async () => {
    await c.setUp();
  }, 120_000);
  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await c.kill9('controller');
    if (mounted) spawnSync('umount', [mnt()]);
    await c.close();
  });

  it('a full store refuses the upload cleanly, corrupts nothing, and recovers when space returns', async () => {
    const good = randomBytes(4 * 1024 * 1024);
    const goodId = await createImage(`${RUN}-good`);
    expect(await upload(goodId, good)).toBe(204);
    // Fill the rest of the store (a file beside the images, as another tenant's data would).
    const filler = join(mnt(), `${RUN}-filler`);
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=64'], { encoding: 'utf8' });
    const big = randomBytes(8 * 1024 * 1024);
    const bigId = await createImage(`${RUN}-big`);
    const r = await api('PUT', `/v2/images/${bigId}/file`, big);
    const text = JSON.stringify(r.body);
    figures.full_status = r.status;
    figures.full_body = text.slice(0, 300);
    expect(r.status, text).toBe(413);
    expect(text).toMatch(/full|space/i);
    const img = (await api('GET', `/v2/images/${bigId}`)).body;
    expect(img.status).toBe('queued');
    expect(stagingFiles()).toEqual([]);
    // The earlier image is intact.
    const got = Buffer.from(
      await (await fetch(`${c.base}/image/v2/images/${goodId}/file`, { headers: { 'x-auth-token': c.token } })).arrayBuffer(),
    );
    expect(createHash('md5').update(got).digest('hex')).toBe(createHash('md5').update(good).digest('hex'));
    expect((await api('GET', `/v2/images/${goodId}`)).body.checksum).toBe(createHash('md5').update(good).digest('hex'));
    // Space returns: the same upload goes through.
    rmSync(filler);
    expect(await upload(bigId, big)).toBe(204);
    const after = (await api('GET', `/v2/images/${bigId}`)).body;
    expect(after.status).toBe('active');
    expect(after.checksum).toBe(createHash('md5').update(big).digest('hex'));
  }, 120_000);
});
