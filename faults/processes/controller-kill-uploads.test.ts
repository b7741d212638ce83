import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { freePort, kill9, until } from './util.js';

/**
 * Issue 11, scenario 1 (image half): a real controller process (dist/) gets kill -9
 * while image uploads are half sent. After a restart no half-written image is active
 * or stuck in saving, no staging file is left, a previously uploaded image still
 * downloads with its checksum, and the interrupted images can be uploaded again.
 */
const ENABLED = process.env.SYSTEM_TESTS === '1' && process.getuid?.() === 0;
if (!ENABLED) console.log('[skip] faults/processes controller kill during uploads: needs SYSTEM_TESTS=1 and root (starts a real controller process)');

const ROOT = join(import.meta.dirname, '..', '..');
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const DIR = `/tmp/${RUN}-ctlkill`;
const PW = randomBytes(12).toString('hex');
const N = 4; // uploads in flight
const SIZE = 16 * 1024 * 1024;


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

describe.skipIf(!ENABLED)('controller kill -9 with image uploads half sent', () => {
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/controller/main.js'))) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(join(DIR, 'ctl'), { recursive: true });
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
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(DIR, { recursive: true, force: true });
  });

  it('no half-written image is active or saving after restart, no staging left, others intact, re-upload works', async () => {
    const good = randomBytes(SIZE);
    const goodId = await createImage(`${RUN}-good`);
    expect(await upload(goodId, good)).toBe(204);
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await createImage(`${RUN}-cut-${i}`));
    // Each upload announces SIZE bytes and sends half, then waits (the socket stays open).
    const reqs = ids.map((id) => {
      const r = request(`${base()}/image/v2/images/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) } });
      r.on('error', () => {});
      r.write(randomBytes(SIZE / 2));
      return r;
    });
    await until('every upload to be saving with a staging file', async () => {
      const st = await Promise.all(ids.map(async (id) => (await api('GET', `/v2/images/${id}`)).body.status));
      return st.every((s) => s === 'saving') && stagingFiles().length === N;
    }, 30_000);
    figures.uploads_in_flight = N;
    figures.bytes_sent_each = SIZE / 2;
    await kill9(controller);
    for (const r of reqs) r.destroy();
    expect(stagingFiles().length).toBe(N); // the crash left them behind
    const t0 = Date.now();
    controller = start();
    await until('the controller to listen again', async () => (await fetch(`${base()}/identity/`)).status < 500, 20_000);
    figures.restart_to_listen_s = (Date.now() - t0) / 1000;
    await login();
    expect(stagingFiles()).toEqual([]);
    for (const id of ids) {
      const img = (await api('GET', `/v2/images/${id}`)).body;
      expect(img.status, id).toBe('queued');
      expect(img.size ?? null).toBeNull();
      expect(existsSync(join(DIR, 'ctl', 'images', id))).toBe(false);
      expect((await fetch(`${base()}/image/v2/images/${id}/file`, { headers: { 'x-auth-token': token } })).status).toBe(204);
    }
    // The image uploaded before the crash is intact.
    const got = Buffer.from(await (await fetch(`${base()}/image/v2/images/${goodId}/file`, { headers: { 'x-auth-token': token } })).arrayBuffer());
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(good).digest('hex'));
    const meta = (await api('GET', `/v2/images/${goodId}`)).body;
    expect(meta.status).toBe('active');
    expect(meta.checksum).toBe(createHash('md5').update(good).digest('hex'));
    // Recovery: an interrupted image takes a full upload.
    const again = randomBytes(1024 * 1024);
    expect(await upload(ids[0]!, again)).toBe(204);
    const re = (await api('GET', `/v2/images/${ids[0]}`)).body;
    expect(re.status).toBe('active');
    expect(re.checksum).toBe(createHash('md5').update(again).digest('hex'));
  }, 180_000);
});
