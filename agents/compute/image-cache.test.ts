import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Runner } from '../../shared/exec/run.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import { ImageCache } from './image-cache.js';

const ID = 'c5ba31e0-69f0-47b7-a0af-ae92c92f57a3';
const DATA = Buffer.from('pretend this is a raw disk image '.repeat(100));
const MD5 = createHash('md5').update(DATA).digest('hex');
const info = (fmt: string, extra = {}) => ({
  stdout: JSON.stringify({ format: fmt, 'virtual-size': 1048576, 'actual-size': 4096, ...extra }),
});

describe('image cache', () => {
  let dir = '';
  let mock: MockAgent;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tic-'));
    mock = new MockAgent();
    mock.disableNetConnect();
  });
  afterEach(async () => {
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function cache(f: FakeRunner) {
    // qemu-img convert "writes" its destination so the rename has something to move.
    const run: Runner = async (cmd, args, o) => {
      const r = await f.run(cmd, args, o);
      if (args.includes('convert')) writeFileSync(args[args.length - 1]!, 'qcow2');
      return r;
    };
    return new ImageCache({ dir, qemuImg: qemuImg(run), dispatcher: mock });
  }
  const src = (checksum: string | null = MD5) => ({
    id: ID,
    download_url: 'http://ctl:8000/image/v2/images/x/file',
    token: 'tok',
    checksum,
    disk_format: 'raw',
  });

  it('fetches with the token, verifies MD5, inspects and converts once, then serves from the cache', async () => {
    mock
      .get('http://ctl:8000')
      .intercept({ path: '/image/v2/images/x/file', method: 'GET', headers: { 'x-auth-token': 'tok' } })
      .reply(200, DATA);
    const f = new FakeRunner()
      .on((c) => c.args.includes('info') && c.args.includes('raw'), info('raw'))
      .on((c) => c.args.includes('info'), info('qcow2'));
    const c = cache(f);
    const [a, b] = await Promise.all([c.ensure(src()), c.ensure(src())]);
    expect(a).toEqual({ path: join(dir, `${ID}.qcow2`), virtualSize: 1048576, cached: false });
    expect(b.cached).toBe(true); // waited for the same fetch
    const conv = f.calls.filter((x) => x.args.includes('convert'));
    expect(conv).toHaveLength(1);
    expect(conv[0]!.cmd).toBe('prlimit'); // untrusted bytes: under limits, with -f
    expect(conv[0]!.args).toEqual(expect.arrayContaining(['convert', '-f', 'raw', '-O', 'qcow2']));
    expect((await c.ensure(src())).cached).toBe(true);
    expect(readdirSync(dir)).toEqual([`${ID}.qcow2`]);
    expect((await c.list()).map((i) => i.imageId)).toEqual([ID]);
    expect(await c.evict(ID)).toBe(true);
    expect(await c.evict(ID)).toBe(false);
  });

  it('refuses a checksum mismatch and leaves no partial file', async () => {
    mock.get('http://ctl:8000').intercept({ path: '/image/v2/images/x/file', method: 'GET' }).reply(200, DATA);
    const c = cache(new FakeRunner());
    await expect(c.ensure(src('0'.repeat(32)))).rejects.toMatchObject({ code: 'ChecksumMismatch' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses images with a backing file (hostile qcow2)', async () => {
    mock.get('http://ctl:8000').intercept({ path: '/image/v2/images/x/file', method: 'GET' }).reply(200, DATA);
    const f = new FakeRunner().on((c) => c.args.includes('info'), info('raw', { 'backing-filename': '/etc/shadow' }));
    await expect(cache(f).ensure(src())).rejects.toMatchObject({ code: 'BadImage' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports the image API status on a failed download', async () => {
    mock.get('http://ctl:8000').intercept({ path: '/image/v2/images/x/file', method: 'GET' }).reply(404, 'no such image');
    await expect(cache(new FakeRunner()).ensure(src())).rejects.toMatchObject({
      code: 'ImageFetchFailed',
      message: expect.stringContaining('404'),
    });
  });

  it('refuses a disk_format it cannot boot', async () => {
    await expect(cache(new FakeRunner()).ensure({ ...src(), disk_format: 'docker' })).rejects.toMatchObject({ code: 'BadSpec' });
  });
});
