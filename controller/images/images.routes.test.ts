import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageTestApp } from './testing/kit.js';

const PATCH = 'application/openstack-images-v2.1-json-patch';
let dir: string;
let app: FastifyInstance;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'timg-'));
  ({ app } = await imageTestApp(dir, { qemu_img_check: false }));
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (token: string) => ({ 'x-auth-token': token, accept: 'application/json' });

async function create(token: string, body: Record<string, unknown>) {
  const r = await app.inject({ method: 'POST', url: '/image/v2/images', headers: as(token), payload: body });
  return r;
}

async function upload(token: string, id: string, data: Buffer, type = 'application/octet-stream') {
  return app.inject({
    method: 'PUT',
    url: `/image/v2/images/${id}/file`,
    headers: { ...as(token), 'content-type': type },
    payload: data,
  });
}

async function patch(token: string, id: string, ops: unknown, type = PATCH) {
  return app.inject({
    method: 'PATCH',
    url: `/image/v2/images/${id}`,
    headers: { ...as(token), 'content-type': type },
    payload: JSON.stringify(ops),
  });
}

describe('image records', () => {
  it('creates a queued image with flat string properties, a Location and Glance defaults', async () => {
    const r = await create('alice', { name: 'timg-a', disk_format: 'raw', container_format: 'bare', min_disk: 1, acc: '1' });
    expect(r.statusCode).toBe(201);
    const b = r.json();
    expect(r.headers.location).toBe(`http://localhost:80/image/v2/images/${b.id}`);
    expect(b).toMatchObject({
      name: 'timg-a',
      status: 'queued',
      visibility: 'shared',
      protected: false,
      os_hidden: false,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      min_disk: 1,
      min_ram: 0,
      owner: 'p-alice',
      tags: [],
      acc: '1',
      self: `/v2/images/${b.id}`,
      file: `/v2/images/${b.id}/file`,
      schema: '/v2/schemas/image',
    });
    expect((await app.inject({ url: `/image/v2/images/${b.id}`, headers: as('alice') })).json().acc).toBe('1');
  });

  it('refuses bad create bodies with Glance statuses', async () => {
    expect((await create('alice', { disk_format: 'floppy' })).statusCode).toBe(400);
    expect((await create('alice', { acc: 1 })).json().message).toMatch(/is not of type 'string'/);
    const ro = await create('alice', { status: 'active' });
    expect(ro.statusCode).toBe(403);
    expect(ro.json().message).toBe("Attribute 'status' is read-only.");
    expect((await create('alice', { visibility: 'public' })).statusCode).toBe(403);
    expect((await create('admin', { visibility: 'public' })).statusCode).toBe(201);
    expect((await create('alice', { owner: 'p-bob' })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/image/v2/images', payload: {} })).statusCode).toBe(401);
  });

  it('limits custom properties to 128 (413)', async () => {
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, n) => [`p${n}`, 'x']));
    expect((await create('alice', many)).statusCode).toBe(413);
    const id = (await create('alice', { ...many, p128: undefined })).json().id;
    expect((await patch('alice', id, [{ op: 'add', path: '/one_more', value: 'x' }])).statusCode).toBe(413);
    expect((await patch('alice', id, [{ op: 'replace', path: '/p1', value: 'y' }])).statusCode).toBe(200);
  });

  it('answers 404 for unknown ids, non-UUIDs and dot-dot paths', async () => {
    for (const u of [
      '/image/v2/images/00000000-0000-0000-0000-000000000000',
      '/image/v2/images/not-a-uuid',
      '/image/v2/images/..%2F..%2Fetc%2Fpasswd',
      '/image/v2/images/../../etc/passwd',
      '/image/v2/images/..%2F..%2Fetc/file',
      // An empty id (Glance 404s it; Tempest's test_get_image_null_id), with or without a query.
      '/image/v2/images/',
      '/image/v2/images/?limit=1',
    ]) {
      const r = await app.inject({ url: u, headers: as('alice') });
      expect(r.statusCode, u).toBe(404);
      expect(r.json().code).toBe('404 Not Found');
    }
    const list = await app.inject({ url: '/image/v2/images?limit=1', headers: as('alice') });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toHaveProperty('images');
  });

  it('serves the schemas', async () => {
    const s = (await app.inject({ url: '/image/v2/schemas/image' })).json();
    expect(s.name).toBe('image');
    expect(s.additionalProperties).toEqual({ type: 'string' });
    expect((await app.inject({ url: '/image/v2/schemas/images' })).json().name).toBe('images');
    expect((await app.inject({ url: '/image/v2/schemas/member' })).json().name).toBe('member');
    expect((await app.inject({ url: '/image/v2/schemas/members' })).json().name).toBe('members');
  });
});

describe('JSON patch', () => {
  it('adds (replacing existing keys), replaces and removes', async () => {
    const id = (await create('alice', { name: 'a', disk_format: 'raw', container_format: 'bare' })).json().id;
    let r = await patch('alice', id, [
      { op: 'add', path: '/colour', value: 'blue' },
      { op: 'add', path: '/name', value: 'b' },
      { op: 'add', path: '/protected', value: true },
      { op: 'add', path: '/min_ram', value: 64 },
      { op: 'add', path: '/visibility', value: 'private' },
    ]);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ colour: 'blue', name: 'b', protected: true, min_ram: 64, visibility: 'private' });
    r = await patch('alice', id, [
      { op: 'replace', path: '/colour', value: 'red' },
      { op: 'add', path: '/colour', value: 'green' },
    ]);
    expect(r.json().colour).toBe('green');
    r = await patch(
      'alice',
      id,
      [{ op: 'add', path: '/colour', value: 'teal' }],
      'application/openstack-images-v2.1-json-patch; charset=UTF-8',
    );
    expect(r.json().colour).toBe('teal');
    // The v2.0 media type carries draft-4 style operations ({"add": path}), as Glance's and Tempest's.
    const v20 = 'application/openstack-images-v2.0-json-patch';
    r = await patch('alice', id, [{ add: '/colour', value: 'navy' }], v20);
    expect(r.json().colour).toBe('navy');
    r = await patch('alice', id, [{ op: 'add', path: '/colour', value: 'navy' }], v20);
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('Operation objects must contain exactly one member named "add", "remove", or "replace".');
    expect((await patch('alice', id, [{ add: '/os_glance_foo', value: 'bar' }], v20)).statusCode).toBe(403);
    r = await patch('alice', id, [{ op: 'remove', path: '/colour' }]);
    expect(r.json()).not.toHaveProperty('colour');
  });

  it('refuses read-only attributes, missing properties, bad ops and wrong types', async () => {
    const id = (await create('alice', { name: 'a' })).json().id;
    const ro = await patch('alice', id, [{ op: 'replace', path: '/status', value: 'active' }]);
    expect(ro.statusCode).toBe(403);
    expect(ro.json().message).toBe("Attribute 'status' is read-only.");
    expect((await patch('alice', id, [{ op: 'add', path: '/id', value: 'x' }])).statusCode).toBe(403);
    expect((await patch('alice', id, [{ op: 'add', path: '/checksum', value: 'x' }])).statusCode).toBe(403);
    const missing = await patch('alice', id, [{ op: 'remove', path: '/nope' }]);
    expect(missing.statusCode).toBe(409);
    expect(missing.json().message).toBe('Property nope does not exist.');
    expect((await patch('alice', id, [{ op: 'move', path: '/name', from: '/x' }])).statusCode).toBe(400);
    expect((await patch('alice', id, [{ op: 'add', path: 'name', value: 'x' }])).statusCode).toBe(400);
    expect((await patch('alice', id, [{ op: 'add', path: '/colour', value: 3 }])).statusCode).toBe(400);
    expect((await patch('alice', id, { op: 'add' } as never)).statusCode).toBe(400);
    expect((await patch('alice', id, [{ op: 'add', path: '/name', value: 'x' }], 'application/json')).statusCode).toBe(415);
    expect((await patch('bob', id, [{ op: 'add', path: '/name', value: 'x' }])).statusCode).toBe(404);
    await patch('alice', id, [{ op: 'add', path: '/visibility', value: 'community' }]);
    expect((await patch('bob', id, [{ op: 'add', path: '/name', value: 'x' }])).statusCode).toBe(403);
  });
});

describe('data', () => {
  it('uploads with hashes, downloads with Content-MD5 and serves ranges', async () => {
    const id = (await create('alice', { name: 'd', disk_format: 'raw', container_format: 'bare' })).json().id;
    const data = randomBytes(3 * 1024 * 1024 + 17);
    expect((await upload('alice', id, data)).statusCode).toBe(204);
    const img = (await app.inject({ url: `/image/v2/images/${id}`, headers: as('alice') })).json();
    expect(img).toMatchObject({
      status: 'active',
      size: data.length,
      virtual_size: data.length,
      checksum: createHash('md5').update(data).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512').update(data).digest('hex'),
    });
    const dl = await app.inject({ url: `/image/v2/images/${id}/file`, headers: as('alice') });
    expect(dl.statusCode).toBe(200);
    expect(dl.headers['content-md5']).toBe(img.checksum);
    expect(dl.rawPayload.equals(data)).toBe(true);
    const part = await app.inject({ url: `/image/v2/images/${id}/file`, headers: { ...as('alice'), range: 'bytes=0-3' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 0-3/${data.length}`);
    expect(part.headers['content-length']).toBe('4');
    expect(part.rawPayload.equals(data.subarray(0, 4))).toBe(true);
    const tail = await app.inject({ url: `/image/v2/images/${id}/file`, headers: { ...as('alice'), range: 'bytes=-10' } });
    expect(tail.rawPayload.equals(data.subarray(data.length - 10))).toBe(true);
    const bad = await app.inject({
      url: `/image/v2/images/${id}/file`,
      headers: { ...as('alice'), range: `bytes=${data.length}-` },
    });
    expect(bad.statusCode).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${data.length}`);
    expect((await upload('alice', id, data)).statusCode).toBe(409);
  });

  it('refuses other media types with 415 and keeps the image queued', async () => {
    const id = (await create('alice', { disk_format: 'raw', container_format: 'bare' })).json().id;
    expect((await upload('alice', id, Buffer.from('x'), 'application/json')).statusCode).toBe(415);
    expect((await upload('alice', id, Buffer.from('x'), 'text/plain')).statusCode).toBe(415);
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('alice') })).json().status).toBe('queued');
  });

  it('refuses data that is not the declared format and leaves no file', async () => {
    const id = (await create('alice', { disk_format: 'qcow2', container_format: 'bare' })).json().id;
    const r = await upload('alice', id, randomBytes(65536));
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/not in the declared disk_format qcow2/);
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('alice') })).json().status).toBe('queued');
    expect(readdirSync(join(dir, 'images')).filter((f) => f !== '.staging')).toEqual([]);
    expect(readdirSync(join(dir, 'images', '.staging'))).toEqual([]);
  });

  it('enforces the size cap and the project quota with 413', async () => {
    await app.close();
    ({ app } = await imageTestApp(dir, { qemu_img_check: false, image_size_cap: 1000, project_storage_quota: 1500 }));
    const a = (await create('alice', { disk_format: 'raw', container_format: 'bare' })).json().id;
    expect((await upload('alice', a, Buffer.alloc(1001))).statusCode).toBe(413);
    expect((await upload('alice', a, Buffer.alloc(1000))).statusCode).toBe(204);
    const b = (await create('alice', { disk_format: 'raw', container_format: 'bare' })).json().id;
    const over = await upload('alice', b, Buffer.alloc(600));
    expect(over.statusCode).toBe(413);
    expect(over.json().message).toMatch(/quota/);
    expect((await upload('alice', b, Buffer.alloc(500))).statusCode).toBe(204);
  });

  it('deletes (protected → 403) and the bytes go with the image', async () => {
    const id = (await create('alice', { disk_format: 'raw', container_format: 'bare', protected: true })).json().id;
    expect((await upload('alice', id, Buffer.from('hello'))).statusCode).toBe(204);
    const p = await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}`, headers: as('alice') });
    expect(p.statusCode).toBe(403);
    expect(p.json().message).toMatch(/is protected and cannot be deleted/);
    await patch('alice', id, [{ op: 'add', path: '/protected', value: false }]);
    expect((await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}`, headers: as('alice') })).statusCode).toBe(204);
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('alice') })).statusCode).toBe(404);
    expect(readdirSync(join(dir, 'images')).filter((f) => f !== '.staging')).toEqual([]);
  });

  it('deactivates and reactivates; a deactivated image cannot be downloaded by a user', async () => {
    const id = (await create('alice', { disk_format: 'raw', container_format: 'bare', visibility: 'community' })).json().id;
    const q = await app.inject({ method: 'POST', url: `/image/v2/images/${id}/actions/deactivate`, headers: as('alice') });
    expect(q.statusCode).toBe(400);
    await upload('alice', id, Buffer.from('abc'));
    expect(
      (await app.inject({ method: 'POST', url: `/image/v2/images/${id}/actions/deactivate`, headers: as('alice') })).statusCode,
    ).toBe(204);
    expect((await app.inject({ url: `/image/v2/images/${id}/file`, headers: as('bob') })).statusCode).toBe(403);
    expect((await app.inject({ url: `/image/v2/images/${id}/file`, headers: as('admin') })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: `/image/v2/images/${id}/actions/reactivate`, headers: as('alice') })).statusCode,
    ).toBe(204);
    expect((await app.inject({ url: `/image/v2/images/${id}/file`, headers: as('bob') })).body).toBe('abc');
  });
});

describe('sharing, tags and lists', () => {
  it('shares with a member that sees the image once it accepts', async () => {
    const id = (await create('alice', { name: 'shared-one' })).json().id;
    const names = async (t: string, q = '') =>
      (await app.inject({ url: `/image/v2/images${q}`, headers: as(t) })).json().images.map((i: { name: string }) => i.name);
    expect(await names('bob')).not.toContain('shared-one');
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('bob') })).statusCode).toBe(404);
    const add = await app.inject({
      method: 'POST',
      url: `/image/v2/images/${id}/members`,
      headers: as('alice'),
      payload: { member: 'p-bob' },
    });
    expect(add.statusCode).toBe(200);
    expect(add.json()).toMatchObject({ member_id: 'p-bob', image_id: id, status: 'pending', schema: '/v2/schemas/member' });
    expect(await names('bob')).not.toContain('shared-one');
    expect(await names('bob', '?member_status=pending')).toContain('shared-one');
    const own = await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/members/p-bob`,
      headers: as('alice'),
      payload: { status: 'accepted' },
    });
    expect(own.statusCode).toBe(403);
    const acc = await app.inject({
      method: 'PUT',
      url: `/image/v2/images/${id}/members/p-bob`,
      headers: as('bob'),
      payload: { status: 'accepted', member: 'p-bob' },
    });
    expect(acc.statusCode).toBe(200);
    expect(await names('bob')).toContain('shared-one');
    expect((await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}`, headers: as('bob') })).statusCode).toBe(403);
    const list = await app.inject({ url: `/image/v2/images/${id}/members`, headers: as('alice') });
    expect(list.json()).toMatchObject({ members: [{ member_id: 'p-bob', status: 'accepted' }], schema: '/v2/schemas/members' });
    expect(
      (await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}/members/p-bob`, headers: as('alice') })).statusCode,
    ).toBe(204);
    expect(await names('bob')).not.toContain('shared-one');
    await patch('alice', id, [{ op: 'add', path: '/visibility', value: 'private' }]);
    const priv = await app.inject({
      method: 'POST',
      url: `/image/v2/images/${id}/members`,
      headers: as('alice'),
      payload: { member: 'p-bob' },
    });
    expect(priv.statusCode).toBe(403);
  });

  it('filters, sorts and pages with relative next links', async () => {
    for (let n = 0; n < 5; n++) {
      await create('alice', {
        name: `img-${n}`,
        disk_format: n % 2 ? 'raw' : 'qcow2',
        container_format: 'bare',
        tags: n < 2 ? ['gold'] : [],
        flavour: n === 3 ? 'mint' : 'plain',
        os_hidden: n === 4,
      });
    }
    const get = async (q: string) => (await app.inject({ url: `/image/v2/images${q}`, headers: as('alice') })).json();
    const names = async (q: string) => (await get(q)).images.map((i: { name: string }) => i.name);
    expect(await names('?sort_key=name&sort_dir=asc')).toEqual(['img-0', 'img-1', 'img-2', 'img-3']);
    expect(await names('?sort=name:desc')).toEqual(['img-3', 'img-2', 'img-1', 'img-0']);
    expect(await names('?name=img-2')).toEqual(['img-2']);
    expect(await names('?tag=gold&sort_key=name&sort_dir=asc')).toEqual(['img-0', 'img-1']);
    expect(await names('?flavour=mint')).toEqual(['img-3']);
    expect(await names('?os_hidden=true')).toEqual(['img-4']);
    expect(await names('?disk_format=raw&sort_key=name&sort_dir=asc')).toEqual(['img-1', 'img-3']);
    expect(await names('?status=active')).toEqual([]);
    expect(await names('?owner=p-bob')).toEqual([]);
    expect(await names('?name=in:img-1,img-2&sort_key=name&sort_dir=asc')).toEqual(['img-1', 'img-2']);
    const p1 = await get('?limit=2&sort_key=name&sort_dir=asc');
    expect(p1.images.map((i: { name: string }) => i.name)).toEqual(['img-0', 'img-1']);
    expect(p1.next).toBe(`/v2/images?limit=2&sort_key=name&sort_dir=asc&marker=${p1.images[1].id}`);
    expect(p1.first).toBe('/v2/images?limit=2&sort_key=name&sort_dir=asc');
    expect(p1.schema).toBe('/v2/schemas/images');
    const p2 = await get(p1.next.slice(10));
    expect(p2.images.map((i: { name: string }) => i.name)).toEqual(['img-2', 'img-3']);
    const p3 = await get(p2.next.slice(10));
    expect(p3.images).toEqual([]);
    expect(p3.next).toBeUndefined();
    expect((await app.inject({ url: '/image/v2/images?sort_key=bogus', headers: as('alice') })).statusCode).toBe(400);
    expect((await app.inject({ url: '/image/v2/images?limit=-1', headers: as('alice') })).statusCode).toBe(400);
    expect(
      (
        await app.inject({
          url: `/image/v2/images?marker=${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`,
          headers: as('alice'),
        })
      ).statusCode,
    ).toBe(400);
  });

  it('adds and removes tags', async () => {
    const id = (await create('alice', { name: 't' })).json().id;
    expect((await app.inject({ method: 'PUT', url: `/image/v2/images/${id}/tags/blue`, headers: as('alice') })).statusCode).toBe(
      204,
    );
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('alice') })).json().tags).toEqual(['blue']);
    expect(
      (await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}/tags/blue`, headers: as('alice') })).statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'DELETE', url: `/image/v2/images/${id}/tags/blue`, headers: as('alice') })).statusCode,
    ).toBe(404);
  });

  it('hides private images of other projects; admin sees all', async () => {
    const id = (await create('alice', { name: 'mine', visibility: 'private' })).json().id;
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('bob') })).statusCode).toBe(404);
    expect((await app.inject({ url: `/image/v2/images/${id}`, headers: as('admin') })).statusCode).toBe(200);
    const all = (await app.inject({ url: '/image/v2/images', headers: as('admin') })).json().images;
    expect(all.map((i: { id: string }) => i.id)).toContain(id);
  });
});
