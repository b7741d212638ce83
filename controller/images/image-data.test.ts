import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import { isStorageFull, parseRange } from './image-data.service.js';
import type { Db } from '../db/open.js';
import type { LocalImageFacade } from './facade.js';
import { sweepUnreferencedImageData } from './plugin.js';
import { imageTestApp } from './testing/kit.js';

let dir: string;
let app: FastifyInstance;
let facade: LocalImageFacade;
let db: Db;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tdata-'));
  ({ app, facade, db } = await imageTestApp(join(dir, 'data'), { qemu_img_check: true, parallel_hash: true }));
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const H = { 'x-auth-token': 'alice', accept: 'application/json' };
const create = async (disk_format: string) =>
  (
    await app.inject({ method: 'POST', url: '/image/v2/images', headers: H, payload: { disk_format, container_format: 'bare' } })
  ).json().id as string;
const status = async (id: string) => (await app.inject({ url: `/image/v2/images/${id}`, headers: H })).json().status;
const stored = () => readdirSync(join(dir, 'data', 'images')).filter((f) => f !== '.staging');
const staging = () => readdirSync(join(dir, 'data', 'images', '.staging'));

describe('streaming upload', () => {
  it('leaves the image queued with no partial file when the client aborts mid-stream', async () => {
    const id = await create('raw');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    await new Promise<void>((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: `/image/v2/images/${id}/file`,
        headers: { ...H, 'content-type': 'application/octet-stream', 'content-length': String(64 << 20) },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(4 << 20, 7));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    for (let i = 0; i < 50 && (await status(id)) !== 'queued'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await status(id)).toBe('queued');
    expect(stored()).toEqual([]);
    expect(staging()).toEqual([]);
  });

  /**
   * PUTs `total` bytes in 1 MiB chunks over a real socket and reads the answer once the
   * whole body is sent. The body is queued at once: Node's client stops emitting 'drain'
   * once a response has arrived, so pacing on it would stall the test, not the server.
   */
  const putOverSocket = async (id: string, total: number, headers: Record<string, string>) => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true });
    try {
      return await new Promise<{ status: number; body: string }>((resolve, reject) => {
        let answer: { status: number; body: string } | null = null;
        let sent = false;
        const done = () => answer && sent && resolve(answer);
        const req = request(
          {
            host: '127.0.0.1',
            port,
            agent,
            method: 'PUT',
            path: `/image/v2/images/${id}/file`,
            headers: { ...H, 'content-type': 'application/octet-stream', ...headers },
          },
          (r) => {
            let body = '';
            r.on('data', (c) => (body += c));
            r.on('end', () => ((answer = { status: r.statusCode ?? 0, body }), done()));
          },
        );
        req.on('error', reject); // a reset connection instead of the answer fails the test
        req.on('finish', () => ((sent = true), done()));
        for (let n = 0; n < total; n += 1 << 20) req.write(Buffer.alloc(1 << 20, 1));
        req.end();
      });
    } finally {
      agent.destroy(); // so that closing the app does not wait for a kept-alive socket
    }
  };

  it('answers 413 to a chunked upload that crosses the size cap part-way, and stays queued', async () => {
    await app.close();
    ({ app, facade, db } = await imageTestApp(join(dir, 'data'), { image_size_cap: 3 << 20 }));
    const id = await create('raw');
    const res = await putOverSocket(id, 8 << 20, { 'transfer-encoding': 'chunked' });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).message).toMatch(/too large/);
    expect(await status(id)).toBe('queued');
    expect(stored()).toEqual([]);
    expect(staging()).toEqual([]);
  });

  it('answers 413 before reading a body whose Content-Length is over the cap, and the client reads it', async () => {
    await app.close();
    ({ app, facade, db } = await imageTestApp(join(dir, 'data'), { image_size_cap: 3 << 20 }));
    const id = await create('raw');
    const res = await putOverSocket(id, 8 << 20, { 'content-length': String(8 << 20) });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).message).toMatch(/too large: 8388608 bytes/);
    expect(await status(id)).toBe('queued');
    expect(existsSync(join(dir, 'data', 'images'))).toBe(false); // refused before staging
  });

  it('accepts a chunked upload of a real qcow2 and sets virtual_size from its header', async () => {
    const q = qemuImg(makeRunner());
    await q.create(join(dir, 'a.qcow2'), 'qcow2', 32 << 20);
    const bytes = readFileSync(join(dir, 'a.qcow2'));
    const id = await create('qcow2');
    const r = await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      payload: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
    });
    expect(r.statusCode).toBe(204);
    const img = (await app.inject({ url: `/image/v2/images/${id}`, headers: H })).json();
    expect(img).toMatchObject({ status: 'active', size: bytes.length, virtual_size: 32 << 20 });
    expect(stored()).toEqual([id]);
  });

  it('refuses a qcow2 with a backing file: 400, queued, nothing stored', async () => {
    writeFileSync(join(dir, 'base'), 'x');
    await qemuImg(makeRunner()).create(join(dir, 'evil.qcow2'), 'qcow2', 1 << 20, { path: join(dir, 'base'), format: 'raw' });
    const id = await create('qcow2');
    const r = await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream' },
      payload: readFileSync(join(dir, 'evil.qcow2')),
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/backing file/);
    expect(await status(id)).toBe('queued');
    expect(stored()).toEqual([]);
    expect(staging()).toEqual([]);
  });

  it('refuses what qemu-img info (the second check, under prlimit) cannot read', async () => {
    await qemuImg(makeRunner()).create(join(dir, 'odd.qcow2'), 'qcow2', 1 << 20);
    const bytes = readFileSync(join(dir, 'odd.qcow2'));
    bytes.writeUInt32BE(5, 20); // cluster_bits 5: the header parses, qemu refuses it
    const id = await create('qcow2');
    const r = await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream' },
      payload: bytes,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/qemu-img cannot read the data as qcow2/);
    expect(await status(id)).toBe('queued');
    expect(stored()).toEqual([]);
  });

  it('sweeps staging leftovers and data no image refers to at start, and requeues saving images', async () => {
    const id = await create('raw');
    const ok = await create('raw');
    await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${ok}/file`,
      headers: { ...H, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('kept'),
    });
    db.prepare("UPDATE images SET status = 'saving' WHERE id = ?").run(id);
    writeFileSync(join(dir, 'data', 'images', '.staging', `${id}.abc`), 'partial');
    writeFileSync(join(dir, 'data', 'images', '00000000-0000-4000-8000-000000000000'), 'orphan');
    await app.close();
    ({ app, facade } = await imageTestApp(join(dir, 'data'), {}, {}, db));
    expect(await status(id)).toBe('queued');
    expect(staging()).toEqual([]);
    // Building the app never deletes committed data (a test over the default data_dir
    // with another database would wipe the real cloud's images); the daemon sweeps.
    expect(stored().sort()).toEqual([ok, '00000000-0000-4000-8000-000000000000'].sort());
    expect(await sweepUnreferencedImageData(facade.core, { warn: () => {} })).toBe(1);
    expect(stored()).toEqual([ok]);
  });

  it('serves other services through the facade', async () => {
    const ctx = { projectId: 'p-alice', isAdmin: false } as never;
    const rec = facade.createRecord(ctx, {
      name: 'snap',
      owner: 'p-alice',
      disk_format: 'raw',
      container_format: 'bare',
      properties: { image_type: 'snapshot' },
    });
    expect(rec).toMatchObject({ status: 'queued', owner: 'p-alice', properties: { image_type: 'snapshot' } });
    const done = await facade.upload(rec.id, Readable.from([Buffer.from('0123456789')]));
    expect(done).toMatchObject({ status: 'active', size: 10, virtual_size: 10 });
    const chunks: Buffer[] = [];
    for await (const c of await facade.open(rec.id, { start: 2, end: 4 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('234');
    expect(facade.get(ctx, rec.id)?.id).toBe(rec.id);
    expect(facade.get({ projectId: 'p-bob', isAdmin: false } as never, rec.id)).toBeNull();
    const k = facade.createRecord(ctx, { name: 'failed', owner: 'p-alice', disk_format: 'raw', container_format: 'bare' });
    facade.kill(k.id, 'snapshot failed');
    expect(facade.get(null, k.id)?.status).toBe('killed');
  });
});

describe('Range', () => {
  it('parses the forms clients send', () => {
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 3 });
    expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
    expect(parseRange('bytes=2-100', 10)).toEqual({ start: 2, end: 9 });
    expect(parseRange('items=1-2', 10)).toBeNull();
    expect(() => parseRange('bytes=10-', 10)).toThrow(/not satisfiable/);
    expect(() => parseRange('bytes=5-2', 10)).toThrow(/not satisfiable/);
  });
});

describe('isStorageFull', () => {
  it('recognises ENOSPC and EDQUOT, also wrapped as a cause, and nothing else', () => {
    const enospc = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    expect(isStorageFull(enospc)).toBe(true);
    expect(isStorageFull(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    expect(isStorageFull(new Error('write failed', { cause: enospc }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error('x'), { code: 'EIO' }))).toBe(false);
    expect(isStorageFull(undefined)).toBe(false);
  });
});
