import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import type { Db } from '../db/open.js';
import type { LocalImageFacade } from './facade.js';
import { imageTestApp } from './testing/kit.js';

/**
 * The interoperable import through the real routes (buildApp-style app, inject) with
 * a real HTTP server on loopback as the web-download source. Loopback is allowed in
 * this configuration (allow_local_addresses), as is any port; the refusal of loopback
 * by default is checked once here and in detail in import-filter / web-download tests.
 */

let work: string;
let src: Server;
let srcPort: number;
const served = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'timport-'));
  const q = qemuImg(makeRunner());
  await q.create(join(work, 'good.qcow2'), 'qcow2', 64 << 20);
  files.qcow2 = readFileSync(join(work, 'good.qcow2'));
  writeFileSync(join(work, 'base'), Buffer.alloc(1 << 20));
  await q.create(join(work, 'evil.qcow2'), 'qcow2', 1 << 20, { path: join(work, 'base'), format: 'raw' });
  files.evil = readFileSync(join(work, 'evil.qcow2'));
  files.raw = Buffer.alloc(1 << 20, 0x5a);
  files.big = Buffer.alloc(3 << 20, 0x5b);
  src = createServer((req, res) => {
    const h = served.get(req.url ?? '');
    if (h) return h(req, res);
    const name = (req.url ?? '').replace(/^\//, '');
    const body = files[name];
    if (!body) return res.writeHead(404, 'Not Found').end('nope');
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => src.listen(0, '127.0.0.1', r));
  srcPort = (src.address() as AddressInfo).port;
});
afterAll(() => {
  src?.closeAllConnections();
  src?.close();
  rmSync(work, { recursive: true, force: true });
});

const LOOPBACK_OK = { allow_local_addresses: true, allowed_ports: [] as number[] };
const url = (path: string) => `http://127.0.0.1:${srcPort}/${path}`;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const H = { 'x-auth-token': 'alice', accept: 'application/json' };
const ADMIN = { 'x-auth-token': 'admin', accept: 'application/json' };

interface Cloud {
  app: FastifyInstance;
  db: Db;
  facade: LocalImageFacade;
  data: string;
}

async function cloud(
  o: { stores?: string[]; imageImport?: Record<string, unknown>; images?: Record<string, unknown> } = {},
): Promise<Cloud> {
  const data = mkdtempSync(join(work, 'data-'));
  const stores = (o.stores ?? []).map((id) => ({
    id,
    driver: 'file' as const,
    dir: join(data, `store-${id}`),
    description: `${id} disks`,
  }));
  const { app, db, facade } = await imageTestApp(data, { qemu_img_check: true, stores, ...o.images }, {}, undefined, {
    ...LOOPBACK_OK,
    ...o.imageImport,
  });
  return { app, db, facade, data };
}

const inject = (c: Cloud, method: string, path: string, payload?: unknown, headers: Record<string, string> = H) =>
  c.app.inject({
    method: method as 'GET',
    url: `/image${path}`,
    headers,
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });

async function newImage(c: Cloud, disk_format = 'qcow2', headers = H): Promise<string> {
  const r = await inject(c, 'POST', '/v2/images', { name: 'imp', disk_format, container_format: 'bare' }, headers);
  expect(r.statusCode).toBe(201);
  return r.json().id;
}
const show = async (c: Cloud, id: string, headers = H) => (await inject(c, 'GET', `/v2/images/${id}`, undefined, headers)).json();
const tasks = async (c: Cloud, id: string, headers = H) =>
  (await inject(c, 'GET', `/v2/images/${id}/tasks`, undefined, headers)).json().tasks;
const settle = (c: Cloud) => c.facade.core.importer.runner.idle();
/** Every file under the cloud's data directory (stores, their staging, the glance-direct staging). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

let current: Cloud | null = null;
afterEach(async () => {
  await current?.app.close();
  current = null;
});
const open = async (o?: Parameters<typeof cloud>[0]) => (current = await cloud(o));

describe('discovery', () => {
  it('offers glance-direct and web-download with one store, copy-image only with more; versions up to 2.12 with import', async () => {
    const one = await open();
    expect((await inject(one, 'GET', '/v2/info/import')).json()).toEqual({
      'import-methods': { description: 'Import methods available.', type: 'array', value: ['glance-direct', 'web-download'] },
    });
    expect((await inject(one, 'GET', '/v2/info/stores')).json()).toEqual({ stores: [{ id: 'fs', default: 'true' }] });
    expect((await inject(one, 'GET', '/v2/info/import', undefined, {})).statusCode).toBe(401);
    const v1 = (await one.app.inject({ url: '/image/versions' })).json().versions;
    expect(v1.map((v: { id: string }) => v.id)).toEqual([
      'v2.12',
      'v2.11',
      'v2.10',
      'v2.9',
      'v2.8',
      'v2.7',
      'v2.6',
      'v2.5',
      'v2.4',
      'v2.3',
      'v2.2',
      'v2.1',
      'v2.0',
    ]);
    expect(v1[0].status).toBe('CURRENT');
    await one.app.close();

    const two = await open({ stores: ['fast', 'cheap'] });
    expect((await inject(two, 'GET', '/v2/info/import')).json()['import-methods'].value).toEqual([
      'glance-direct',
      'web-download',
      'copy-image',
    ]);
    expect((await inject(two, 'GET', '/v2/info/stores')).json()).toEqual({
      stores: [
        { id: 'fast', description: 'fast disks', default: 'true' },
        { id: 'cheap', description: 'cheap disks' },
      ],
    });
    await two.app.close();

    const none = await open({ imageImport: { methods: [] } });
    expect((await inject(none, 'GET', '/v2/info/import')).json()['import-methods'].value).toEqual([]);
    const v0 = (await none.app.inject({ url: '/image/versions' })).json().versions.map((v: { id: string }) => v.id);
    expect(v0).toEqual(['v2.7', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0']);
  });
});

describe('web-download', () => {
  it('imports a qcow2 through importing → active with the checksums and format checks of an upload, and a task', async () => {
    const c = await open();
    const id = await newImage(c);
    const r = await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('qcow2') } });
    expect(r.statusCode).toBe(202);
    expect(r.body).toBe('');
    const during = await show(c, id);
    expect(['importing', 'active']).toContain(during.status);
    await settle(c);
    const img = await show(c, id);
    expect(img).toMatchObject({
      status: 'active',
      size: files.qcow2!.length,
      virtual_size: 64 << 20,
      checksum: md5(files.qcow2!),
      os_hash_algo: 'sha512',
      os_hash_value: sha512(files.qcow2!),
      stores: 'fs',
      os_glance_importing_to_stores: '',
      os_glance_failed_import: '',
    });
    expect(img.os_glance_import_task).toBeUndefined();
    // One store: its only copy cannot be removed (Glance's 403).
    expect((await inject(c, 'DELETE', `/v2/stores/fs/${id}`)).statusCode).toBe(403);
    const dl = await inject(c, 'GET', `/v2/images/${id}/file`);
    expect(Buffer.compare(dl.rawPayload, files.qcow2!)).toBe(0);
    const [t] = await tasks(c, id);
    expect(t).toMatchObject({
      type: 'api_image_import',
      status: 'success',
      image_id: id,
      owner: 'p-alice',
      user_id: 'u-alice',
      request_id: r.headers['x-openstack-request-id'],
      input: { image_id: id, import_req: { method: { name: 'web-download', uri: url('qcow2') } }, backend: ['fs'] },
      result: { image_id: id },
      deleted: false,
    });
    expect(t.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    // Another project sees neither the image nor its tasks.
    expect((await inject(c, 'GET', `/v2/images/${id}/tasks`, undefined, { 'x-auth-token': 'bob' })).statusCode).toBe(404);
  });

  it('leaves the image queued with os_glance_failed_import, the reason on the task, and no bytes anywhere', async () => {
    const c = await open({ images: { image_size_cap: 2 << 20 } });
    const cases: Array<[string, string, RegExp]> = [
      ['missing', 'qcow2', /answered HTTP 404 Not Found/],
      ['raw', 'qcow2', /Image data refused: Image data is not in the declared disk_format qcow2 \(it looks like raw\)/],
      ['evil', 'qcow2', /Image data refused: qcow2 image names a backing file/],
      ['big', 'raw', /The incoming image is too large/],
    ];
    for (const [path, fmt, why] of cases) {
      const id = await newImage(c, fmt);
      expect(
        (await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url(path) } })).statusCode,
      ).toBe(202);
      await settle(c);
      const img = await show(c, id);
      expect(img, path).toMatchObject({ status: 'queued', size: null, checksum: null, os_glance_failed_import: 'fs' });
      expect(img.stores).toBeUndefined();
      const [t] = await tasks(c, id);
      expect(t.status, path).toBe('failure');
      expect(t.message, path).toMatch(why);
    }
    expect(filesUnder(c.data)).toEqual([]);
    // A host that does not resolve: accepted (202) as Glance 25 does, the task fails
    // (Tempest's test_image_web_download_import_with_bad_url).
    const id = await newImage(c, 'raw');
    const bad = await inject(c, 'POST', `/v2/images/${id}/import`, {
      method: { name: 'web-download', uri: 'http://no-such-host.invalid/image.raw' },
    });
    expect(bad.statusCode).toBe(202);
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'queued', os_glance_failed_import: 'fs' });
    const [t] = await tasks(c, id);
    expect(t.status).toBe('failure');
    expect(t.message).toMatch(/no-such-host\.invalid/);
  });

  it('fails cleanly when the server cuts the transfer short, and imports again after the failure', async () => {
    const c = await open();
    served.set('/short', (_req, res) => {
      res.writeHead(200, { 'content-length': 4 << 20 });
      res.write(Buffer.alloc(1 << 20));
      setTimeout(() => res.destroy(), 50);
    });
    const id = await newImage(c, 'raw');
    await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('short') } });
    await settle(c);
    expect((await show(c, id)).status).toBe('queued');
    expect((await tasks(c, id))[0].message).toMatch(/cut short|interrupted|aborted/);
    expect(filesUnder(c.data)).toEqual([]);
    // A second try with a good URL clears the failed store.
    await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('raw') } });
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'active', os_glance_failed_import: '', size: files.raw!.length });
    expect((await tasks(c, id)).map((t: { status: string }) => t.status)).toEqual(['failure', 'success']);
  });

  it('answers Glance errors for refused requests without starting anything', async () => {
    const c = await open({ imageImport: { allow_local_addresses: false, allowed_ports: [], disallowed_ports: [8080] } });
    const id = await newImage(c, 'raw');
    const post = (body: unknown, headers = H) => inject(c, 'POST', `/v2/images/${id}/import`, body, headers);
    const err = async (body: unknown, status: number, msg: RegExp, headers = H) => {
      const r = await post(body, headers);
      expect(r.statusCode, JSON.stringify(body)).toBe(status);
      expect(r.json().message, JSON.stringify(body)).toMatch(msg);
      expect(r.json().code).toMatch(new RegExp(`^${status} `));
    };
    await err(
      { method: { name: 'web-download', uri: url('raw') } },
      400,
      /URI for web-download does not pass filtering: .*loopback/,
    );
    await err(
      { method: { name: 'web-download', uri: 'http://169.254.169.254/latest/user-data' } },
      400,
      /does not pass filtering/,
    );
    await err({ method: { name: 'web-download', uri: 'http://203.0.113.9:8080/x' } }, 400, /port 8080 is not allowed/);
    await err({ method: { name: 'web-download' } }, 400, /does not pass filtering/);
    await err({}, 400, /requires a 'method' field/);
    await err({ method: {} }, 400, /requires a 'name' field/);
    await err({ method: { name: 'copy-image' } }, 400, /Unknown import method name 'copy-image'/);
    await err({ method: { name: 'glance-download' } }, 400, /Unknown import method name/);
    await err({ method: { name: 'web-download', uri: 'http://x' }, all_stores: 'yes' }, 400, /'all_stores' must be boolean/);
    await err({ method: { name: 'glance-direct' } }, 409, /needs to be staged before 'glance-direct'/);
    await err(
      { method: { name: 'web-download', uri: 'http://203.0.113.9/x' }, stores: ['nowhere'] },
      409,
      /Unknown scheme 'nowhere'/,
    );
    await err({ method: { name: 'web-download', uri: 'http://203.0.113.9/x' } }, 404, /No image found/, {
      'x-auth-token': 'bob',
      accept: 'application/json',
    });
    // glanceclient sends no Accept: webob's plain text, which it can print.
    const plain = await inject(
      c,
      'POST',
      `/v2/images/${id}/import`,
      { method: { name: 'copy-image' } },
      { 'x-auth-token': 'alice' },
    );
    expect(plain.headers['content-type']).toMatch(/^text\/plain/);
    expect(plain.body).toBe("400 Bad Request\n\nUnknown import method name 'copy-image'.\n\n   ");
    const noFmt = (await inject(c, 'POST', '/v2/images', { name: 'x' })).json().id;
    const r = await inject(c, 'POST', `/v2/images/${noFmt}/import`, {
      method: { name: 'web-download', uri: 'http://203.0.113.9/x' },
    });
    expect(r.statusCode).toBe(409);
    expect(r.json().message).toBe("'container_format' needs to be set before import");
    expect(await show(c, id)).toMatchObject({ status: 'queued' });
    expect(await tasks(c, id)).toEqual([]);
    // Users may not set the service's own properties.
    const p = await c.app.inject({
      method: 'PATCH',
      url: `/image/v2/images/${id}`,
      headers: { ...H, 'content-type': 'application/openstack-images-v2.1-json-patch' },
      payload: [{ op: 'add', path: '/os_glance_import_task', value: 'x' }],
    });
    expect(p.statusCode).toBe(403);
    expect(p.json().message).toBe("Attribute 'os_glance_import_task' is reserved.");
  });

  it('holds the import lock while it runs (409), and a delete stops it and leaves nothing', async () => {
    const c = await open();
    let release: () => void = () => {};
    served.set('/slow', (_req, res) => {
      res.writeHead(200, { 'content-length': 2 << 20 });
      res.write(Buffer.alloc(1 << 20, 1));
      release = () => res.end(Buffer.alloc(1 << 20, 1));
    });
    const id = await newImage(c, 'raw');
    expect(
      (await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('slow') } })).statusCode,
    ).toBe(202);
    const progressed = () => (c.facade.core.importer.runner.progress(id)?.bytes ?? 0) >= 1 << 20;
    for (let i = 0; i < 250 && !progressed(); i++) await new Promise((r) => setTimeout(r, 20));
    const img = await show(c, id);
    expect(img.status).toBe('importing');
    expect(img.os_glance_import_task).toBe((await tasks(c, id))[0].id);
    expect(img.os_glance_importing_to_stores).toBe('fs');
    expect(c.facade.core.importer.runner.progress(id)).toMatchObject({ bytes: 1 << 20, total: 2 << 20 });
    const again = await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('raw') } });
    expect(again.statusCode).toBe(409);
    expect((await inject(c, 'DELETE', `/v2/images/${id}`)).statusCode).toBe(204);
    await settle(c);
    release();
    expect(filesUnder(c.data)).toEqual([]);
    expect(c.facade.core.importer.runner.isRunning(id)).toBe(false);
  });
});

describe('glance-direct', () => {
  it('stages (uploading, size), imports with the upload checks, and drops the staged data', async () => {
    const c = await open();
    const id = await newImage(c);
    const put = (body: Buffer, type = 'application/octet-stream') =>
      c.app.inject({
        method: 'PUT',
        url: `/image/v2/images/${id}/stage`,
        headers: { ...H, 'content-type': type },
        payload: body,
      });
    expect((await put(files.qcow2!, 'application/json')).statusCode).toBe(415);
    expect((await put(files.qcow2!)).statusCode).toBe(204);
    expect(await show(c, id)).toMatchObject({ status: 'uploading', size: files.qcow2!.length });
    expect(filesUnder(join(c.data, 'image-staging'))).toEqual([id]);
    const twice = await put(files.qcow2!);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().message).toBe('Image status transition from uploading to uploading is not allowed');
    const r = await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } });
    expect(r.statusCode).toBe(202);
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'active', checksum: md5(files.qcow2!), stores: 'fs' });
    expect(filesUnder(c.data)).toEqual([join('images', id)]);
    expect((await tasks(c, id))[0]).toMatchObject({
      status: 'success',
      input: { import_req: { method: { name: 'glance-direct' } } },
    });
  });

  it('refuses staged data that fails the format checks: queued, nothing staged or stored', async () => {
    const c = await open();
    const id = await newImage(c);
    await c.app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/stage`,
      headers: { ...H, 'content-type': 'application/octet-stream' },
      payload: files.evil!,
    });
    await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } });
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'queued', size: null, os_glance_failed_import: 'fs' });
    expect((await tasks(c, id))[0].message).toMatch(/backing file/);
    expect(filesUnder(c.data)).toEqual([]);
  });

  it('is not there when not offered (404 from stage, 400 from import)', async () => {
    const c = await open({ imageImport: { methods: ['web-download'] } });
    const id = await newImage(c);
    const r = await c.app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/stage`,
      headers: { ...H, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    expect(r.statusCode).toBe(404);
    expect(r.json().message).toBe("'glance-direct' method is not available at this site.");
  });
});

describe('more than one store', () => {
  it('imports into the named stores, copies to another (admin), and removes a copy, never the last', async () => {
    const c = await open({ stores: ['fast', 'cheap', 'cold'] });
    const id = await newImage(c, 'raw');
    const r = await inject(c, 'POST', `/v2/images/${id}/import`, {
      method: { name: 'web-download', uri: url('raw') },
      stores: ['cheap', 'fast'],
    });
    expect(r.statusCode).toBe(202);
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'active', stores: 'cheap,fast', os_glance_failed_import: '' });
    expect(filesUnder(c.data).sort()).toEqual([join('store-cheap', id), join('store-fast', id)]);
    const dup = await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'copy-image' }, stores: ['fast'] }, ADMIN);
    expect(dup.statusCode).toBe(400);
    expect(dup.json().message).toBe("Image is already present at store 'fast'");
    expect(
      (
        await inject(
          c,
          'POST',
          `/v2/images/${id}/import`,
          { method: { name: 'copy-image' }, all_stores: true, all_stores_must_succeed: false },
          ADMIN,
        )
      ).statusCode,
    ).toBe(202);
    await settle(c);
    const img = await show(c, id);
    expect(img).toMatchObject({
      status: 'active',
      stores: 'cheap,cold,fast',
      os_glance_importing_to_stores: '',
      os_glance_failed_import: '',
    });
    expect(readFileSync(join(c.data, 'store-cold', id)).equals(files.raw!)).toBe(true);
    // Per-store delete (v2.10).
    expect((await inject(c, 'DELETE', `/v2/stores/cold/${id}`)).statusCode).toBe(204);
    expect((await show(c, id)).stores).toBe('cheap,fast');
    expect(existsSync(join(c.data, 'store-cold', id))).toBe(false);
    expect((await inject(c, 'DELETE', `/v2/stores/cold/${id}`)).statusCode).toBe(404);
    expect((await inject(c, 'DELETE', `/v2/stores/nowhere/${id}`)).statusCode).toBe(409);
    await inject(c, 'DELETE', `/v2/stores/cheap/${id}`);
    const last = await inject(c, 'DELETE', `/v2/stores/fast/${id}`);
    expect(last.statusCode).toBe(403);
    expect(last.json().message).toMatch(/only store containing it/);
    // Uploads pick a store with X-Image-Meta-Store (400 for an unknown one, as Glance).
    const up = await newImage(c, 'raw');
    const bad = await c.app.inject({
      method: 'PUT',
      url: `/image/v2/images/${up}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream', 'x-image-meta-store': 'nowhere' },
      payload: files.raw!,
    });
    expect(bad.statusCode).toBe(400);
    await c.app.inject({
      method: 'PUT',
      url: `/image/v2/images/${up}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream', 'x-image-meta-store': 'cold' },
      payload: files.raw!,
    });
    expect((await show(c, up)).stores).toBe('cold');
    // Deleting the image removes its data from every store.
    await inject(c, 'DELETE', `/v2/images/${id}`);
    await inject(c, 'DELETE', `/v2/images/${up}`);
    expect(filesUnder(c.data)).toEqual([]);
  });

  it('counts a project quota once: a copy into another store is no new data', async () => {
    const c = await open({ stores: ['a', 'b'], images: { project_storage_quota: (1 << 20) + 4096 } });
    const id = await newImage(c, 'raw');
    await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri: url('raw') }, stores: ['a'] });
    await settle(c);
    expect((await show(c, id)).status).toBe('active');
    await inject(c, 'POST', `/v2/images/${id}/import`, { method: { name: 'copy-image' }, stores: ['b'] }, ADMIN);
    await settle(c);
    expect(await show(c, id)).toMatchObject({ stores: 'a,b', os_glance_failed_import: '' });
    // A second image does not fit any more.
    const id2 = await newImage(c, 'raw');
    await inject(c, 'POST', `/v2/images/${id2}/import`, { method: { name: 'web-download', uri: url('raw') } });
    await settle(c);
    expect((await tasks(c, id2))[0].message).toMatch(/storage quota/);
  });

  it('with all_stores_must_succeed false, activates on the stores that worked and lists the others as failed', async () => {
    const c = await open({ stores: ['good', 'broken'] });
    // The broken store's directory is a file: every write to it fails.
    writeFileSync(join(c.data, 'store-broken'), 'not a directory');
    const id = await newImage(c, 'raw');
    await inject(c, 'POST', `/v2/images/${id}/import`, {
      method: { name: 'web-download', uri: url('raw') },
      all_stores: true,
      all_stores_must_succeed: false,
    });
    await settle(c);
    expect(await show(c, id)).toMatchObject({ status: 'active', stores: 'good', os_glance_failed_import: 'broken' });
    const [t] = await tasks(c, id);
    expect(t.status).toBe('success');
    expect(t.message).toMatch(/not to broken/);

    // With all_stores_must_succeed (the default) the whole import is undone.
    const id2 = await newImage(c, 'raw');
    await inject(c, 'POST', `/v2/images/${id2}/import`, { method: { name: 'web-download', uri: url('raw') }, all_stores: true });
    await settle(c);
    expect(await show(c, id2)).toMatchObject({ status: 'queued', os_glance_failed_import: 'broken' });
    expect(filesUnder(join(c.data, 'store-good'))).toEqual([id]);
  });
});

describe('restart', () => {
  it('fails imports cut off by a stop: the image is queued again and its task says so', async () => {
    const c = await open();
    const id = await newImage(c, 'raw');
    // What a controller killed mid-import leaves behind.
    c.db.prepare(`UPDATE images SET status = 'importing', import_task = 't-1', importing_stores = 'fs' WHERE id = ?`).run(id);
    c.db
      .prepare(
        `INSERT INTO image_tasks (id, type, status, owner, image_id, input, message, created_at, updated_at)
         VALUES ('t-1', 'api_image_import', 'processing', 'p-alice', ?, '{}', '', '2026-01-01T00:00:00.000000', '2026-01-01T00:00:00.000000')`,
      )
      .run(id);
    expect(c.facade.core.importer.recover()).toEqual({ tasks: 1, images: 1 });
    expect(await show(c, id)).toMatchObject({
      status: 'queued',
      os_glance_importing_to_stores: '',
      os_glance_failed_import: 'fs',
    });
    expect((await show(c, id)).os_glance_import_task).toBeUndefined();
    expect((await tasks(c, id))[0]).toMatchObject({
      status: 'failure',
      message: expect.stringMatching(/stopped during the import/),
    });
  });
});
