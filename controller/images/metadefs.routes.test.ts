import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageTestApp } from './testing/kit.js';

let dir: string;
let app: FastifyInstance;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tmeta-'));
  ({ app } = await imageTestApp(dir, { qemu_img_check: false }));
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (token: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, payload?: unknown) =>
  app.inject({
    method,
    url: `/image/v2${path}`,
    headers: {
      'x-auth-token': token,
      accept: 'application/json',
      ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });
const NS = '/metadefs/namespaces';

describe('metadefs namespaces', () => {
  it('creates, shows, lists, refuses to delete while protected, updates and deletes', async () => {
    const types = (await call('alice', 'GET', '/metadefs/resource_types')).json().resource_types;
    expect(types.map((t: { name: string }) => t.name)).toContain('OS::Glance::Image');
    const c = await call('admin', 'POST', NS, {
      namespace: 'tmeta-a',
      display_name: 'A',
      description: 'Tempest',
      visibility: 'public',
      protected: true,
      resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }],
      properties: { cpu: { title: 'CPU', type: 'string', enum: ['kvm', 'qemu'] } },
      tags: [{ name: 't1' }],
    });
    expect(c.statusCode).toBe(201);
    expect(c.headers.location).toBe('/v2/metadefs/namespaces/tmeta-a');
    expect(c.json()).toMatchObject({
      namespace: 'tmeta-a',
      visibility: 'public',
      protected: true,
      owner: 'p-admin',
      self: '/v2/metadefs/namespaces/tmeta-a',
      schema: '/v2/schemas/metadefs/namespace',
      resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }],
      tags: [{ name: 't1' }],
    });
    expect(c.json().created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Shown to another project (public), with its properties under the association's prefix on request.
    const s = await call('alice', 'GET', `${NS}/tmeta-a?resource_type=OS::Glance::Image`);
    expect(s.statusCode).toBe(200);
    expect(Object.keys(s.json().properties)).toEqual(['hw_cpu']);
    expect(s.json().tags).toEqual([{ name: 't1' }]);
    const l = (await call('alice', 'GET', NS)).json();
    expect(l).toMatchObject({ first: '/v2/metadefs/namespaces', schema: '/v2/schemas/metadefs/namespaces' });
    expect(l.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['tmeta-a']);
    expect(l.namespaces[0].properties).toBeUndefined();

    const d = await call('admin', 'DELETE', `${NS}/tmeta-a`);
    expect(d.statusCode).toBe(403);
    expect(d.json()).toMatchObject({ code: '403 Forbidden', message: expect.stringContaining('tmeta-a is protected') });

    // glanceclient's md-namespace-update PUTs back what it read (less self, schema and the
    // dates): nested items with their own read-only keys are accepted, as by Glance's schema.
    const { self: _s, schema: _m, created_at: _c, updated_at: _u, ...back } = s.json();
    const again = await call('admin', 'PUT', `${NS}/tmeta-a`, { ...back, display_name: 'A2' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ display_name: 'A2', protected: true, visibility: 'public' });
    const u = await call('admin', 'PUT', `${NS}/tmeta-a`, { namespace: 'tmeta-a', visibility: 'private', protected: false });
    expect(u.statusCode).toBe(200);
    expect(u.json()).toMatchObject({ visibility: 'private', protected: false });
    expect(u.json().display_name).toBeUndefined(); // a PUT replaces: left out is cleared
    expect((await call('alice', 'GET', `${NS}/tmeta-a`)).statusCode).toBe(404); // private to p-admin now
    expect((await call('admin', 'DELETE', `${NS}/tmeta-a`)).statusCode).toBe(204);
    expect((await call('admin', 'GET', `${NS}/tmeta-a/properties`)).statusCode).toBe(404);
  });

  it('answers duplicates with 409, bad bodies with 400/403 and non-admin writes with 403', async () => {
    expect((await call('admin', 'POST', NS, { namespace: 'tmeta-b' })).statusCode).toBe(201);
    const dup = await call('admin', 'POST', NS, { namespace: 'tmeta-b' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().message).toBe('The metadata definition namespace=tmeta-b already exists.');
    expect((await call('admin', 'POST', NS, { namespace: 'tmeta-c', visibility: 'shared' })).statusCode).toBe(400);
    expect((await call('admin', 'POST', NS, { namespace: 'tmeta-c', bogus: 1 })).statusCode).toBe(400);
    const ro = await call('admin', 'POST', NS, { namespace: 'tmeta-c', self: '/x' });
    expect(ro.statusCode).toBe(403);
    expect(ro.json().message).toBe("Attribute 'self' is read-only.");
    expect((await call('alice', 'POST', NS, { namespace: 'tmeta-c' })).statusCode).toBe(403);
    expect((await call('admin', 'GET', `${NS}?sort_dir=up`)).statusCode).toBe(400);
    // A failed child insert leaves no namespace behind.
    const half = await call('admin', 'POST', NS, { namespace: 'tmeta-d', tags: [{ name: 'x' }, { name: 'X' }] });
    expect(half.statusCode).toBe(409);
    expect((await call('admin', 'GET', `${NS}/tmeta-d`)).statusCode).toBe(404);
  });

  it('pages with limit and marker, and filters by visibility and resource type', async () => {
    for (const n of ['tmeta-1', 'tmeta-2', 'tmeta-3']) {
      await call('admin', 'POST', NS, { namespace: n, visibility: n === 'tmeta-2' ? 'private' : 'public' });
    }
    await call('admin', 'POST', `${NS}/tmeta-3/resource_types`, { name: 'OS::Nova::Flavor' });
    const p1 = (await call('admin', 'GET', `${NS}?limit=2&sort_key=namespace&sort_dir=asc`)).json();
    expect(p1.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['tmeta-1', 'tmeta-2']);
    expect(p1.next).toBe('/v2/metadefs/namespaces?limit=2&sort_key=namespace&sort_dir=asc&marker=tmeta-2');
    const p2 = (await call('admin', 'GET', p1.next.replace('/v2', ''))).json();
    expect(p2.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['tmeta-3']);
    expect(p2.next).toBeUndefined();
    const pub = (await call('alice', 'GET', NS)).json().namespaces.map((n: { namespace: string }) => n.namespace);
    expect(pub.sort()).toEqual(['tmeta-1', 'tmeta-3']);
    const byType = (await call('admin', 'GET', `${NS}?resource_types=OS::Nova::Flavor`)).json();
    expect(byType.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(['tmeta-3']);
  });
});

describe('metadefs contents', () => {
  beforeEach(async () => {
    expect((await call('admin', 'POST', NS, { namespace: 'tmeta-n', visibility: 'public' })).statusCode).toBe(201);
  });

  it('objects: create, rename, show, list and delete', async () => {
    const o = await call('admin', 'POST', `${NS}/tmeta-n/objects`, {
      name: 'o1',
      required: ['p'],
      properties: { p: { title: 'P', type: 'integer', minimum: 1 } },
    });
    expect(o.statusCode).toBe(201);
    expect(o.json()).toMatchObject({
      name: 'o1',
      self: '/v2/metadefs/namespaces/tmeta-n/objects/o1',
      schema: '/v2/schemas/metadefs/object',
    });
    expect((await call('admin', 'POST', `${NS}/tmeta-n/objects`, { name: 'o1' })).statusCode).toBe(409);
    const u = await call('admin', 'PUT', `${NS}/tmeta-n/objects/o1`, { name: 'o2' });
    expect(u.statusCode).toBe(200);
    expect(u.json().properties).toBeUndefined();
    expect((await call('alice', 'GET', `${NS}/tmeta-n/objects/o2`)).json().name).toBe('o2');
    expect((await call('alice', 'GET', `${NS}/tmeta-n/objects/o1`)).statusCode).toBe(404);
    const l = (await call('alice', 'GET', `${NS}/tmeta-n/objects`)).json();
    expect(l).toMatchObject({ schema: 'v2/schemas/metadefs/objects', objects: [{ name: 'o2' }] });
    expect((await call('alice', 'DELETE', `${NS}/tmeta-n/objects/o2`)).statusCode).toBe(403);
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/objects/o2`)).statusCode).toBe(204);
    expect((await call('admin', 'GET', `${NS}/tmeta-n/objects`)).json().objects).toEqual([]);
  });

  it('properties: create, show, update, list as a map and delete', async () => {
    const c = await call('admin', 'POST', `${NS}/tmeta-n/properties`, { name: 'hv', title: 'HV', type: 'string', enum: ['kvm'] });
    expect(c.statusCode).toBe(201);
    expect(c.json()).toEqual({ name: 'hv', title: 'HV', type: 'string', enum: ['kvm'] });
    expect((await call('admin', 'POST', `${NS}/tmeta-n/properties`, { name: 'x', title: 'X' })).statusCode).toBe(400);
    const u = await call('admin', 'PUT', `${NS}/tmeta-n/properties/hv`, { name: 'hv', title: 'HV2', type: 'string' });
    expect(u.json()).toEqual({ name: 'hv', title: 'HV2', type: 'string' });
    expect((await call('alice', 'GET', `${NS}/tmeta-n/properties`)).json()).toEqual({
      properties: { hv: { title: 'HV2', type: 'string' } },
    });
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/properties/hv`)).statusCode).toBe(204);
    const gone = await call('admin', 'GET', `${NS}/tmeta-n/properties/hv`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().message).toBe('The metadata definition property with name=hv was not found in namespace=tmeta-n.');
  });

  it('tags: bulk replace or append, one by one, rename and delete all', async () => {
    const b = await call('admin', 'POST', `${NS}/tmeta-n/tags`, { tags: [{ name: 'a' }, { name: 'b' }] });
    expect(b.statusCode).toBe(201);
    expect(b.json()).toEqual({ tags: [{ name: 'a' }, { name: 'b' }] });
    await call('admin', 'POST', `${NS}/tmeta-n/tags`, { tags: [{ name: 'c' }] });
    const names = async () => (await call('alice', 'GET', `${NS}/tmeta-n/tags`)).json().tags.map((t: { name: string }) => t.name);
    expect(await names()).toEqual(['c']);
    const app2 = await app.inject({
      method: 'POST',
      url: `/image/v2${NS}/tmeta-n/tags`,
      headers: { 'x-auth-token': 'admin', 'content-type': 'application/json', 'x-openstack-append': 'True' },
      payload: JSON.stringify({ tags: [{ name: 'd' }] }),
    });
    expect(app2.statusCode).toBe(201);
    expect(await names()).toEqual(['c', 'd']);
    const twice = await call('admin', 'POST', `${NS}/tmeta-n/tags`, { tags: [{ name: 'x' }, { name: 'x' }] });
    expect(twice.statusCode).toBe(409);
    expect(await names()).toEqual(['c', 'd']); // the failed replace changed nothing
    expect((await call('admin', 'POST', `${NS}/tmeta-n/tags`, { tags: [] })).statusCode).toBe(201);
    expect(await names()).toEqual(['c', 'd']); // nor does an empty list (Glance's db layer)
    const one = await call('admin', 'POST', `${NS}/tmeta-n/tags/e`);
    expect(one.statusCode).toBe(201);
    expect(one.json()).toMatchObject({ name: 'e' });
    expect((await call('admin', 'POST', `${NS}/tmeta-n/tags/E`)).statusCode).toBe(409); // case insensitive, as Glance
    const r = await call('admin', 'PUT', `${NS}/tmeta-n/tags/e`, { name: 'f' });
    expect(r.json().name).toBe('f');
    expect((await call('admin', 'GET', `${NS}/tmeta-n/tags/f`)).statusCode).toBe(200);
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/tags/f`)).statusCode).toBe(204);
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/tags`)).statusCode).toBe(204);
    expect(await names()).toEqual([]);
  });

  it('resource type associations: create (a new type too), list, duplicate and delete', async () => {
    const a = await call('admin', 'POST', `${NS}/tmeta-n/resource_types`, { name: 'OS::Glance::Image', prefix: 'hw_' });
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({ name: 'OS::Glance::Image', prefix: 'hw_' });
    expect((await call('admin', 'POST', `${NS}/tmeta-n/resource_types`, { name: 'OS::Glance::Image' })).statusCode).toBe(409);
    expect((await call('admin', 'POST', `${NS}/tmeta-n/resource_types`, { name: 'OS::Tmeta::Thing' })).statusCode).toBe(201);
    const types = (await call('admin', 'GET', '/metadefs/resource_types'))
      .json()
      .resource_types.map((t: { name: string }) => t.name);
    expect(types).toContain('OS::Tmeta::Thing');
    const l = (await call('alice', 'GET', `${NS}/tmeta-n/resource_types`)).json().resource_type_associations;
    expect(l.map((x: { name: string }) => x.name)).toEqual(['OS::Glance::Image', 'OS::Tmeta::Thing']);
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/resource_types/OS::Glance::Image`)).statusCode).toBe(204);
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/resource_types/OS::Glance::Image`)).statusCode).toBe(404);
  });

  it('refuses deleting contents of a protected namespace', async () => {
    await call('admin', 'POST', `${NS}/tmeta-n/tags/keep`);
    await call('admin', 'PUT', `${NS}/tmeta-n`, { namespace: 'tmeta-n', visibility: 'public', protected: true });
    const d = await call('admin', 'DELETE', `${NS}/tmeta-n/tags/keep`);
    expect(d.statusCode).toBe(403);
    expect(d.json().message).toBe('Metadata definition tag keep is protected and cannot be deleted.');
    expect((await call('admin', 'DELETE', `${NS}/tmeta-n/tags`)).statusCode).toBe(403);
  });
});

describe('metadefs schemas', () => {
  it('serves each document under the name Glance gives it', async () => {
    const names: Record<string, string> = {
      namespace: 'namespace',
      namespaces: 'namespaces',
      object: 'object',
      objects: 'objects',
      property: 'property',
      properties: 'properties',
      resource_type: 'resource_type_association',
      resource_types: 'resource_type_associations',
      tag: 'tag',
      tags: 'tags',
    };
    for (const [path, name] of Object.entries(names)) {
      const r = await call('alice', 'GET', `/schemas/metadefs/${path}`);
      expect(r.statusCode, path).toBe(200);
      expect(r.json().name, path).toBe(name);
    }
    const ns = (await call('alice', 'GET', '/schemas/metadefs/namespaces')).json();
    expect(ns.properties.namespaces.items.required).toEqual(['namespace']);
    expect(ns.definitions.property).toBeDefined();
  });
});
