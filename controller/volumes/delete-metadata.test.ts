import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/** Force delete, cascade delete, metadata CRUD, action status codes and type update as Cinder answers them. */
let c: VolumeCloud;
let P: string;
beforeEach(async () => {
  c = await volumeCloud();
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
});

async function volume(name: string): Promise<string> {
  const id = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name } })).body.volume.id as string;
  await c.waitStatus(id, c.admin, 'available');
  return id;
}
async function snapshot(volumeId: string): Promise<string> {
  const id = (await c.req('POST', `${P}/snapshots`, c.admin, { snapshot: { volume_id: volumeId } })).body.snapshot.id as string;
  await c.settle();
  return id;
}
const action = (id: string, body: unknown, coll = 'volumes') => c.req('POST', `${P}/${coll}/${id}/action`, c.admin, body);

describe('delete', () => {
  it('os-force_delete removes a volume in any status but attached; members may not', async () => {
    const v = await volume('fd');
    expect((await action(v, { 'os-reset_status': { status: 'maintenance' } })).status).toBe(202);
    expect((await c.req('DELETE', `${P}/volumes/${v}`, c.admin)).status).toBe(400);
    const r = await action(v, { 'os-force_delete': {} });
    expect(r.status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${P}/volumes/${v}`, c.admin)).status).toBe(404);
    expect(await c.backend.find(v)).toBeNull();
    const m = await c.member('fdm');
    const mv = (await c.req('POST', `/volume/v3/${m.projectId}/volumes`, m.token, { volume: { size: 1 } })).body.volume.id;
    await c.waitStatus(mv, m.token, 'available');
    const denied = await c.req('POST', `/volume/v3/${m.projectId}/volumes/${mv}/action`, m.token, { 'os-force_delete': {} });
    expect(denied.status).toBe(403);
  });

  it('snapshot os-force_delete in creating/deleting; plain delete refused there', async () => {
    const v = await volume('sfd');
    const s = await snapshot(v);
    expect((await action(s, { 'os-reset_status': { status: 'creating' } }, 'snapshots')).status).toBe(202);
    expect((await c.req('DELETE', `${P}/snapshots/${s}`, c.admin)).status).toBe(400);
    expect((await action(s, { 'os-force_delete': {} }, 'snapshots')).status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${P}/snapshots/${s}`, c.admin)).status).toBe(404);
  });

  it('os-update_snapshot_status: creating → error with progress, shown in the extended progress; transitions and values as Cinder checks them', async () => {
    const v = await volume('uss');
    const s = await snapshot(v);
    const shown = async () => (await c.req('GET', `${P}/snapshots/${s}`, c.admin)).body.snapshot;
    expect((await shown())['os-extended-snapshot-attributes:progress']).toBe('100%');
    const upd = (body: unknown) => action(s, { 'os-update_snapshot_status': body }, 'snapshots');
    // from available: not a status this action moves from
    expect((await upd({ status: 'error' })).status).toBe(400);
    expect((await action(s, { 'os-reset_status': { status: 'creating' } }, 'snapshots')).status).toBe(202);
    expect((await shown())['os-extended-snapshot-attributes:progress']).toBe('0%');
    expect((await upd({ status: 'error_deleting' })).status).toBe(400);
    for (const progress of ['80', '101%', 'x%', '-1%']) expect((await upd({ status: 'error', progress })).status).toBe(400);
    expect((await upd({ progress: '10%' })).status).toBe(400);
    const r = await upd({ status: 'error', progress: '80%' });
    expect(r.status).toBe(202);
    expect(await shown()).toMatchObject({ status: 'error', 'os-extended-snapshot-attributes:progress': '80%' });
    // a member of the snapshot's project may (Cinder's policy default is empty); another project sees 404
    const m = await c.member('ussm');
    const mv = (await c.req('POST', `/volume/v3/${m.projectId}/volumes`, m.token, { volume: { size: 1 } })).body.volume.id;
    await c.waitStatus(mv, m.token, 'available');
    const ms = (await c.req('POST', `/volume/v3/${m.projectId}/snapshots`, m.token, { snapshot: { volume_id: mv } })).body
      .snapshot.id;
    await c.settle();
    expect((await action(ms, { 'os-reset_status': { status: 'creating' } }, 'snapshots')).status).toBe(202);
    const mine = await c.req('POST', `/volume/v3/${m.projectId}/snapshots/${ms}/action`, m.token, {
      'os-update_snapshot_status': { status: 'available', progress: '100%' },
    });
    expect(mine.status).toBe(202);
    const other = await c.member('ussx');
    const theirs = await c.req('POST', `/volume/v3/${other.projectId}/snapshots/${s}/action`, other.token, {
      'os-update_snapshot_status': { status: 'error' },
    });
    expect(theirs.status).toBe(404);
  });

  it('cascade=True deletes the snapshots, then the volume; without it the snapshots keep the volume', async () => {
    const v = await volume('cas');
    const s1 = await snapshot(v);
    const s2 = await snapshot(v);
    expect((await c.req('DELETE', `${P}/volumes/${v}`, c.admin)).status).toBe(400);
    expect((await c.req('DELETE', `${P}/volumes/${v}?cascade=True`, c.admin)).status).toBe(202);
    await c.settle();
    for (const s of [s1, s2]) expect((await c.req('GET', `${P}/snapshots/${s}`, c.admin)).status).toBe(404);
    expect((await c.req('GET', `${P}/volumes/${v}`, c.admin)).status).toBe(404);
    expect(await c.backend.find(v)).toBeNull();
  });
});

describe('metadata', () => {
  for (const coll of ['volumes', 'snapshots'] as const) {
    it(`${coll}: POST merges, PUT replaces, items shown, replaced and deleted`, async () => {
      const v = await volume(`md-${coll}`);
      const id = coll === 'volumes' ? v : await snapshot(v);
      const M = `${P}/${coll}/${id}/metadata`;
      expect((await c.req('PUT', M, c.admin, { metadata: { a: '1' } })).body).toEqual({ metadata: { a: '1' } });
      const post = await c.req('POST', M, c.admin, { metadata: { b: '2', c: '<x&y>' } });
      expect(post.status).toBe(200);
      expect(post.body).toEqual({ metadata: { a: '1', b: '2', c: '<x&y>' } });
      expect((await c.req('GET', M, c.admin)).body.metadata).toEqual({ a: '1', b: '2', c: '<x&y>' });
      const put = await c.req('PUT', M, c.admin, { metadata: { z: '9' } });
      expect(put.body).toEqual({ metadata: { z: '9' } });
      expect((await c.req('GET', `${M}/z`, c.admin)).body).toEqual({ meta: { z: '9' } });
      expect((await c.req('PUT', `${M}/z`, c.admin, { meta: { z: '10' } })).body).toEqual({ meta: { z: '10' } });
      expect((await c.req('PUT', `${M}/z`, c.admin, { meta: { y: '1' } })).status).toBe(400);
      expect((await c.req('PUT', `${M}/z`, c.admin, { meta: { z: '1', y: '1' } })).status).toBe(400);
      const del = await c.req('DELETE', `${M}/z`, c.admin);
      expect(del.status).toBe(200);
      expect((await c.req('GET', `${M}/z`, c.admin)).status).toBe(404);
      expect((await c.req('DELETE', `${M}/z`, c.admin)).status).toBe(404);
      expect((await c.req('POST', M, c.admin, { metadata: { '': 'x' } })).status).toBe(400);
      const shown = coll === 'volumes' ? 'volume' : 'snapshot';
      expect((await c.req('GET', `${P}/${coll}/${id}`, c.admin)).body[shown].metadata).toEqual({});
    });
  }
});

describe('actions and small answers', () => {
  it('os-set_bootable: 200 without a body; os-update_readonly_flag: 202, shown in metadata as "True"/"False"', async () => {
    const v = await volume('act');
    const b = await action(v, { 'os-set_bootable': { bootable: true } });
    expect(b.status).toBe(200);
    expect(b.body ?? '').toBe('');
    for (const ro of [true, false]) {
      expect((await action(v, { 'os-update_readonly_flag': { readonly: ro } })).status).toBe(202);
      expect((await c.req('GET', `${P}/volumes/${v}`, c.admin)).body.volume.metadata.readonly).toBe(ro ? 'True' : 'False');
    }
  });

  it('os-retype: to a type that fits the back end, in place (202); same type, unknown type, other back end refused', async () => {
    const v = await volume('rt');
    const t2 = (await c.req('POST', `${P}/types`, c.admin, { volume_type: { name: 'rt2', extra_specs: { a: 'b' } } })).body
      .volume_type;
    const r = await action(v, { 'os-retype': { new_type: t2.id } });
    expect(r.status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v}`, c.admin)).body.volume).toMatchObject({
      volume_type: 'rt2',
      status: 'available',
    });
    expect((await action(v, { 'os-retype': { new_type: 'rt2' } })).status).toBe(400);
    expect((await action(v, { 'os-retype': { new_type: 'nope' } })).status).toBe(404);
    const other = (
      await c.req('POST', `${P}/types`, c.admin, { volume_type: { name: 'lvm', extra_specs: { volume_backend_name: 'lvm' } } })
    ).body.volume_type;
    const no = await action(v, { 'os-retype': { new_type: other.id } });
    expect(no.status).toBe(400);
    expect(no.body.badRequest.message).toMatch(/No valid backend/);
    expect((await action(v, { 'os-retype': { new_type: '__DEFAULT__' } })).status).toBe(202);
  });

  it('GET /volumes/ (an empty id) is 404, GET /volumes the list', async () => {
    expect((await c.req('GET', `${P}/volumes/`, c.admin)).status).toBe(404);
    expect((await c.req('GET', `${P}/volumes`, c.admin)).status).toBe(200);
  });

  it('PUT /types/{id}: name, description, is_public; 200 without the access or QoS keys', async () => {
    const t = (await c.req('POST', `${P}/types`, c.admin, { volume_type: { name: 't1' } })).body.volume_type;
    const r = await c.req('PUT', `${P}/types/${t.id}`, c.admin, {
      volume_type: { name: 't2', description: 'd', is_public: false },
    });
    expect(r.status).toBe(200);
    expect(r.body.volume_type).toEqual({ id: t.id, name: 't2', description: 'd', is_public: false, extra_specs: {} });
    expect((await c.req('GET', `${P}/types/${t.id}`, c.admin)).body.volume_type).toMatchObject({ name: 't2', is_public: false });
    expect((await c.req('PUT', `${P}/types/${t.id}`, c.admin, { volume_type: {} })).status).toBe(400);
    expect((await c.req('PUT', `${P}/types/${t.id}`, c.admin, { volume_type: { name: 'fake' } })).status).toBe(409);
  });
});
