import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { freePort, kill9, until } from './util.js';

/**
 * Issue 11, scenario 4 (image store half): the image directory of a real controller
 * process (dist/) is a 24 MiB tmpfs. An upload that does not fit gets a clean OpenStack
 * error (413, no 5xx), leaves no staging file and no active image, earlier images still
 * download with their checksum, and the same upload succeeds once space returns.
 */
const ENABLED = process.env.SYSTEM_TESTS === '1' && process.getuid?.() === 0;
if (!ENABLED) console.log('[skip] faults/processes image store full: needs SYSTEM_TESTS=1 and root (starts a real controller process)');

const ROOT = join(import.meta.dirname, '..', '..');
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const DIR = `/tmp/${RUN}-imgfull`;
const PW = randomBytes(12).toString('hex');


let port = 0;
let controller: ChildProcess | null = null;
const start = () => spawn(process.execPath, [...NODE_FLAGS.controller, join(ROOT, 'dist/controller/main.js'), '--config', join(DIR, 'controller.toml')], { stdio: ['ignore', openSync(join(DIR, 'controller.log'), 'a'), openSync(join(DIR, 'controller.log'), 'a')] });
const base = () => `http://127.0.0.1:${port}`;
let token = '';
async function login(): Promise<void> {
  const r = await fetch(`${base()}/identity/v3/auth/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: PW } } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } } }),
  });
  expect(r.status).toBe(201);
  token = r.headers.get('x-subject-token')!;
}
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base()}/image${path}`, { method, headers: { 'x-auth-token': token, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
async function createImage(name: string): Promise<string> {
  const r = await api('POST', '/v2/images', { name, disk_format: 'raw', container_format: 'bare' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}
async function upload(id: string, data: Buffer): Promise<number> {
  const r = await fetch(`${base()}/image/v2/images/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: data });
  return r.status;
}
const stagingFiles = () => { try { return readdirSync(join(DIR, 'ctl', 'images', '.staging')); } catch { return []; } };

describe.skipIf(!ENABLED)('image store disk full', () => {
  const figures: Record<string, unknown> = {};
  const mnt = join(DIR, 'ctl', 'images');
  let mounted = false;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/controller/main.js'))) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(mnt, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', `${RUN}-images`, mnt], { encoding: 'utf8' });
    expect(m.status, m.stderr).toBe(0);
    mounted = true;
    port = await freePort();
    writeFileSync(join(DIR, 'controller.toml'), [`data_dir = "${DIR}/ctl"`, '[listen]', 'host = "127.0.0.1"', `port = ${port}`, ''].join('\n'));
    const b = spawnSync(process.execPath, [join(ROOT, 'dist/controller/cli/main.js'), 'bootstrap', '--admin-password', PW, '--public-url', base(), '--config', join(DIR, 'controller.toml')], { encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    controller = start();
    await until('the controller to listen', async () => (await fetch(`${base()}/identity/`)).status < 500, 20_000);
    await login();
  }, 120_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await kill9(controller);
    if (mounted) spawnSync('umount', [mnt]);
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(DIR, { recursive: true, force: true });
  });

  it('a full store refuses the upload cleanly, corrupts nothing, and recovers when space returns', async () => {
    const good = randomBytes(4 * 1024 * 1024);
    const goodId = await createImage(`${RUN}-good`);
    expect(await upload(goodId, good)).toBe(204);
    // Fill the rest of the store (a file beside the images, as another tenant's data would).
    const filler = join(mnt, `${RUN}-filler`);
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=64'], { encoding: 'utf8' });
    const big = randomBytes(8 * 1024 * 1024);
    const bigId = await createImage(`${RUN}-big`);
    const r = await fetch(`${base()}/image/v2/images/${bigId}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: big });
    const text = await r.text();
    figures.full_status = r.status;
    figures.full_body = text.slice(0, 300);
    expect(r.status, text).toBe(413);
    expect(text).toMatch(/full|space/i);
    const img = (await api('GET', `/v2/images/${bigId}`)).body;
    expect(img.status).toBe('queued');
    expect(stagingFiles()).toEqual([]);
    // The earlier image is intact.
    const got = Buffer.from(await (await fetch(`${base()}/image/v2/images/${goodId}/file`, { headers: { 'x-auth-token': token } })).arrayBuffer());
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
