import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/**
 * Response shapes per call, as Cinder's view builders and controller extensions give them and
 * Tempest 33's response schemas (tempest/lib/api_schema/response/volume/*.py,
 * additionalProperties false) check them.
 */
let c: VolumeCloud;
let P: string;
beforeEach(async () => {
  c = await volumeCloud();
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
});

const keys = (o: Record<string, unknown>) => Object.keys(o).sort();
/** cinder/api/v2/views/volumes.py ViewBuilder.detail at 3.0, without the admin-only migration_status. */
const BASE = [
  'attachments',
  'availability_zone',
  'bootable',
  'consistencygroup_id',
  'created_at',
  'description',
  'encrypted',
  'id',
  'links',
  'metadata',
  'multiattach',
  'name',
  'replication_status',
  'size',
  'snapshot_id',
  'source_volid',
  'status',
  'updated_at',
  'user_id',
  'volume_type',
];
/** What the show/detail-only controller extensions add for an admin. */
const EXT_ADMIN = [
  'os-vol-host-attr:host',
  'os-vol-mig-status-attr:migstat',
  'os-vol-mig-status-attr:name_id',
  'os-vol-tenant-attr:tenant_id',
];
const SNAP = ['created_at', 'description', 'id', 'metadata', 'name', 'size', 'status', 'updated_at', 'volume_id'];
const SNAP_EXT = ['os-extended-snapshot-attributes:progress', 'os-extended-snapshot-attributes:project_id'];

describe('volume documents per call', () => {
  it('create and update answer the base view; show and detail add the extensions (admin and member)', async () => {
    const r = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name: 'shape' } });
    expect(r.status).toBe(202);
    expect(keys(r.body.volume)).toEqual([...BASE, 'migration_status'].sort());
    await c.waitStatus(r.body.volume.id, c.admin, 'available');
    const show = (await c.req('GET', `${P}/volumes/${r.body.volume.id}`, c.admin)).body.volume;
    expect(keys(show)).toEqual([...BASE, 'migration_status', ...EXT_ADMIN].sort());
    const detail = (await c.req('GET', `${P}/volumes/detail`, c.admin)).body.volumes[0];
    expect(keys(detail)).toEqual(keys(show));
    const up = await c.req('PUT', `${P}/volumes/${show.id}`, c.admin, { volume: { name: 'shape2' } });
    expect(up.status).toBe(200);
    expect(keys(up.body.volume)).toEqual([...BASE, 'migration_status'].sort());
    expect(up.body.volume.name).toBe('shape2');

    const m = await c.member('shapes');
    const MP = `/volume/v3/${m.projectId}`;
    const mine = await c.req('POST', `${MP}/volumes`, m.token, { volume: { size: 1 } });
    expect(keys(mine.body.volume)).toEqual([...BASE].sort());
    await c.waitStatus(mine.body.volume.id, m.token, 'available');
    const mshow = (await c.req('GET', `${MP}/volumes/${mine.body.volume.id}`, m.token)).body.volume;
    expect(keys(mshow)).toEqual([...BASE, 'os-vol-tenant-attr:tenant_id'].sort());
    expect(mshow['os-vol-tenant-attr:tenant_id']).toBe(m.projectId);
  });

  it('a volume from an image: volume_image_metadata on show only', async () => {
    const img = await c.image('shape-img');
    const r = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: img } });
    expect(r.status).toBe(202);
    expect(r.body.volume.volume_image_metadata).toBeUndefined();
    const av = await c.waitStatus(r.body.volume.id, c.admin, 'available');
    expect(av.volume_image_metadata).toMatchObject({ image_id: img });
  });
});

describe('snapshot documents per call', () => {
  it('create, update and the plain list lack the extended attributes; show and detail carry them', async () => {
    const v = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1 } })).body.volume;
    await c.waitStatus(v.id, c.admin, 'available');
    const s = await c.req('POST', `${P}/snapshots`, c.admin, { snapshot: { volume_id: v.id, name: 's1' } });
    expect(s.status).toBe(202);
    expect(keys(s.body.snapshot)).toEqual(SNAP);
    await c.settle();
    const show = (await c.req('GET', `${P}/snapshots/${s.body.snapshot.id}`, c.admin)).body.snapshot;
    expect(keys(show)).toEqual([...SNAP, ...SNAP_EXT].sort());
    expect(show['os-extended-snapshot-attributes:project_id']).toBe(c.adminProjectId);
    expect(keys((await c.req('GET', `${P}/snapshots/detail`, c.admin)).body.snapshots[0])).toEqual(keys(show));
    expect(keys((await c.req('GET', `${P}/snapshots`, c.admin)).body.snapshots[0])).toEqual(SNAP);
    const up = await c.req('PUT', `${P}/snapshots/${show.id}`, c.admin, { snapshot: { name: 's2' } });
    expect(up.status).toBe(200);
    expect(keys(up.body.snapshot)).toEqual(SNAP);
  });

  it('volume_id null → 404 VolumeNotFound; unknown marker → 404; unknown sort key or direction → 400', async () => {
    const n = await c.req('POST', `${P}/snapshots`, c.admin, { snapshot: { volume_id: null } });
    expect(n.status).toBe(404);
    expect(n.body.itemNotFound.message).toBe('Volume None could not be found.');
    const mk = randomUUID();
    const m = await c.req('GET', `${P}/snapshots?marker=${mk}`, c.admin);
    expect(m.status).toBe(404);
    expect(m.body.itemNotFound.message).toBe(`Marker ${mk} could not be found.`);
    expect((await c.req('GET', `${P}/volumes/detail?marker=${mk}`, c.admin)).status).toBe(404);
    for (const q of ['sort_key=invalid', 'sort=invalid:asc', 'sort_dir=sideways', 'sort=id:asc&sort_key=id']) {
      expect((await c.req('GET', `${P}/snapshots?${q}`, c.admin)).status, q).toBe(400);
      expect((await c.req('GET', `${P}/volumes?${q}`, c.admin)).status, q).toBe(400);
    }
  });
});

describe('lists: sort, marker, next links', () => {
  it('sort=id:asc|desc with marker and limit; a full page carries volumes_links next', async () => {
    const ids: string[] = [];
    for (const name of ['l1', 'l2', 'l3'])
      ids.push((await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name } })).body.volume.id);
    await c.settle();
    const asc = [...ids].sort();
    const all = await c.req('GET', `${P}/volumes?sort=id:asc`, c.admin);
    expect(all.body.volumes.map((x: any) => x.id)).toEqual(asc);
    const desc = await c.req('GET', `${P}/volumes/detail?sort_key=id&sort_dir=desc`, c.admin);
    expect(desc.body.volumes.map((x: any) => x.id)).toEqual([...asc].reverse());
    const p1 = await c.req('GET', `${P}/volumes?sort=id:asc&limit=2`, c.admin);
    expect(p1.body.volumes.map((x: any) => x.id)).toEqual(asc.slice(0, 2));
    expect(p1.body.volumes_links[0].rel).toBe('next');
    expect(p1.body.volumes_links[0].href).toContain(`marker=${asc[1]}`);
    const p2 = await c.req('GET', `${P}/volumes?sort=id:asc&limit=2&marker=${asc[1]}`, c.admin);
    expect(p2.body.volumes.map((x: any) => x.id)).toEqual(asc.slice(2));
    expect(p2.body.volumes_links).toBeUndefined();
    // Cinder: a page holding exactly `limit` items has a next link (the next page may be empty).
    expect((await c.req('GET', `${P}/volumes?limit=3`, c.admin)).body.volumes_links).toHaveLength(1);
  });
});

describe('volume types and versions', () => {
  it('type create answers no qos_specs_id; show and list do', async () => {
    const t = await c.req('POST', `${P}/types`, c.admin, { volume_type: { name: 'gold', extra_specs: { a: 'b' } } });
    expect(t.status).toBe(200);
    expect(keys(t.body.volume_type)).toEqual([
      'description',
      'extra_specs',
      'id',
      'is_public',
      'name',
      'os-volume-type-access:is_public',
    ]);
    const show = (await c.req('GET', `${P}/types/${t.body.volume_type.id}`, c.admin)).body.volume_type;
    expect(show.qos_specs_id).toBeNull();
  });

  it('GET /volume/v3/ answers a versions list (Cinder VersionsController.index); the catalog URL a version', async () => {
    const r = await c.req('GET', '/volume/v3/');
    expect(r.status).toBe(200);
    expect(r.body.versions).toHaveLength(1);
    expect(r.body.versions[0]).toMatchObject({ id: 'v3.0', status: 'CURRENT', version: '3.2', min_version: '3.0' });
    expect(keys(r.body.versions[0])).toEqual(['id', 'links', 'media-types', 'min_version', 'status', 'updated', 'version']);
  });
});
