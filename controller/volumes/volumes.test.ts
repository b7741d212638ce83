import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

let c: VolumeCloud;
let P: string;
beforeEach(async () => {
  c = await volumeCloud();
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
});

/** cinderclient's `volume create --size 1 NAME` body, explicit nulls and all (api notes 1.7). */
const cliBody = (name: string, o: Record<string, unknown> = {}) => ({
  volume: {
    size: 1,
    consistencygroup_id: null,
    snapshot_id: null,
    name,
    description: null,
    volume_type: null,
    availability_zone: null,
    metadata: {},
    imageRef: null,
    source_volid: null,
    backup_id: null,
    ...o,
  },
});

describe('Cinder v3 volumes', () => {
  it('version documents advertise 3.0 to 3.2; a request without a microversion is answered with the maximum header; 3.60 is refused', async () => {
    const root = await c.req('GET', '/volume/');
    expect(root.status).toBe(300);
    expect(root.body.versions[0]).toMatchObject({ id: 'v3.0', version: '3.2', min_version: '3.0', status: 'CURRENT' });
    const r = await c.req('GET', `${P}/volumes`, c.admin);
    expect(r.headers['openstack-api-version']).toBe('volume 3.2');
    const hi = await c.req('GET', `${P}/volumes`, c.admin, undefined, { 'openstack-api-version': 'volume 3.60' });
    expect(hi.status).toBe(406);
    expect((await c.req('GET', `${P}/volumes`, c.admin, undefined, { 'openstack-api-version': 'volume 3.0' })).status).toBe(200);
    expect((await c.req('GET', `${P}/volumes`)).status).toBe(401);
  });

  it('create (explicit nulls) → creating → available; show, list, detail, update, delete', async () => {
    const r = await c.req('POST', `${P}/volumes`, c.admin, cliBody('v1'));
    expect(r.status).toBe(202);
    const v = r.body.volume;
    expect(v).toMatchObject({
      name: 'v1',
      size: 1,
      status: 'creating',
      bootable: 'false',
      encrypted: false,
      multiattach: false,
      volume_type: '__DEFAULT__',
      availability_zone: 'nova',
      attachments: [],
      metadata: {},
    });
    expect(v.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(v['os-vol-tenant-attr:tenant_id']).toBeUndefined(); // show/detail only (views.test.ts)
    const av = await c.waitStatus(v.id, c.admin, 'available');
    expect(av['os-vol-tenant-attr:tenant_id']).toBe(c.adminProjectId);
    expect(av['os-vol-host-attr:host']).toBe('vol1@fake#fake');
    expect((await c.backend.find(v.id))?.sizeBytes).toBe(1024 ** 3);
    expect(c.target.exports.has(v.id)).toBe(true);
    // list and find-by-name as cinderclient does it
    expect((await c.req('GET', `${P}/volumes/v1`, c.admin)).status).toBe(404);
    const found = await c.req('GET', `${P}/volumes/detail?all_tenants=1&name=v1`, c.admin);
    expect(found.body.volumes.map((x: any) => x.id)).toEqual([v.id]);
    expect((await c.req('GET', `${P}/volumes?name=v1x`, c.admin)).body.volumes).toEqual([]);
    expect((await c.req('GET', `${P}/volumes`, c.admin)).body.volumes[0]).toEqual({
      id: v.id,
      name: 'v1',
      links: expect.any(Array),
    });
    // project-less URLs
    expect((await c.req('GET', `/volume/v3/volumes/${v.id}`, c.admin)).body.volume.id).toBe(v.id);
    const up = await c.req('PUT', `${P}/volumes/${v.id}`, c.admin, { volume: { name: 'v1b', description: 'd' } });
    expect(up.body.volume).toMatchObject({ name: 'v1b', description: 'd' });
    expect((await c.req('DELETE', `${P}/volumes/${v.id}`, c.admin)).status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).status).toBe(404);
    expect(await c.backend.find(v.id)).toBeNull();
    expect(c.target.exports.has(v.id)).toBe(false);
  });

  it('bad input: sizes, unknown ids, unknown type, bad actions', async () => {
    const bad = await c.req('POST', `${P}/volumes`, c.admin, cliBody('x', { size: 0 }));
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toMatch(/size/);
    expect((await c.req('POST', `${P}/volumes`, c.admin, cliBody('x', { size: 'abc' }))).status).toBe(400);
    expect((await c.req('POST', `${P}/volumes`, c.admin, { volume: { name: 'nosize' } })).status).toBe(400);
    expect((await c.req('POST', `${P}/volumes`, c.admin, { nope: {} })).body.badRequest.message).toMatch(/volume/);
    const nt = await c.req('POST', `${P}/volumes`, c.admin, cliBody('x', { volume_type: 'gold' }));
    expect(nt.status).toBe(404);
    expect(nt.body.itemNotFound.message).toMatch(/gold/);
    const id = randomUUID();
    for (const [m, u] of [
      ['GET', `volumes/${id}`],
      ['DELETE', `volumes/${id}`],
      ['PUT', `volumes/${id}`],
      ['GET', `snapshots/${id}`],
      ['POST', `volumes/${id}/action`],
    ] as const) {
      const r = await c.req(m, `${P}/${u}`, c.admin, m === 'GET' || m === 'DELETE' ? undefined : { volume: {} });
      expect(r.status, `${m} ${u}`).toBe(404);
      expect(r.body.itemNotFound.code).toBe(404);
    }
    const v = (await c.req('POST', `${P}/volumes`, c.admin, cliBody('a'))).body.volume;
    await c.waitStatus(v.id, c.admin, 'available');
    expect((await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-frobnicate': {} })).status).toBe(400);
    expect(
      (await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-set_bootable': { bootable: 'maybe' } })).status,
    ).toBe(400);
    expect((await c.req('GET', `/volume/v3/not-my-project/volumes`, (await c.member('m0')).token)).status).toBe(400);
  });

  it('extend grows, shrinking is refused; set_bootable; reset_status is for admins', async () => {
    const v = (await c.req('POST', `${P}/volumes`, c.admin, cliBody('e'))).body.volume;
    await c.waitStatus(v.id, c.admin, 'available');
    expect((await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-extend': { new_size: 2 } })).status).toBe(202);
    const e = await c.waitStatus(v.id, c.admin, 'available');
    expect(e.size).toBe(2);
    expect((await c.backend.find(v.id))?.sizeBytes).toBe(2 * 1024 ** 3);
    const shrink = await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-extend': { new_size: 1 } });
    expect(shrink.status).toBe(400);
    expect(shrink.body.badRequest.message).toMatch(/greater than current size/);
    expect((await c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, { 'os-set_bootable': { bootable: true } })).status).toBe(
      200,
    );
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.bootable).toBe('true');
    const m = await c.member('m1');
    const mv = (await c.req('POST', `/volume/v3/${m.projectId}/volumes`, m.token, cliBody('mine'))).body.volume;
    await c.waitStatus(mv.id, m.token, 'available');
    expect(
      (
        await c.req('POST', `/volume/v3/${m.projectId}/volumes/${mv.id}/action`, m.token, {
          'os-reset_status': { status: 'error' },
        })
      ).status,
    ).toBe(403);
    expect(
      (await c.req('POST', `${P}/volumes/${mv.id}/action`, c.admin, { 'os-reset_status': { status: 'error' } })).status,
    ).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${mv.id}`, c.admin)).body.volume.status).toBe('error');
  });

  it('projects are isolated; all_tenants only for admins', async () => {
    const a = await c.member('alice');
    const b = await c.member('bob');
    const va = (await c.req('POST', `/volume/v3/${a.projectId}/volumes`, a.token, cliBody('va'))).body.volume;
    await c.waitStatus(va.id, a.token, 'available');
    const asBob = await c.req('GET', `/volume/v3/${b.projectId}/volumes/detail?all_tenants=1`, b.token);
    expect(asBob.status).toBe(200);
    expect(asBob.body.volumes).toEqual([]);
    expect((await c.req('GET', `/volume/v3/${b.projectId}/volumes/${va.id}`, b.token)).status).toBe(404);
    expect((await c.req('DELETE', `/volume/v3/${b.projectId}/volumes/${va.id}`, b.token)).status).toBe(404);
    const all = await c.req('GET', `${P}/volumes/detail?all_tenants=1`, c.admin);
    expect(all.body.volumes.map((x: any) => x.id)).toContain(va.id);
    expect((await c.req('GET', `${P}/volumes/detail`, c.admin)).body.volumes.map((x: any) => x.id)).not.toContain(va.id);
    expect(
      (await c.req('GET', `/volume/v3/${a.projectId}/volumes/${va.id}`, a.token)).body.volume['os-vol-host-attr:host'],
    ).toBeUndefined();
  });

  it('quotas: over the gigabytes quota → 413 overLimit; show/update/defaults; limits', async () => {
    const m = await c.member('q');
    const MP = `/volume/v3/${m.projectId}`;
    const big = await c.req('POST', `${MP}/volumes`, m.token, cliBody('big', { size: 2000 }));
    expect(big.status).toBe(413);
    expect(big.body.overLimit.message).toMatch(/gigabytes quota/);
    expect((await c.req('PUT', `${MP}/os-quota-sets/${m.projectId}`, m.token, { quota_set: { volumes: 1 } })).status).toBe(403);
    const up = await c.req('PUT', `${P}/os-quota-sets/${m.projectId}`, c.admin, { quota_set: { volumes: 1, gigabytes: 5 } });
    expect(up.body.quota_set).toMatchObject({ volumes: 1, gigabytes: 5, snapshots: 10 });
    expect((await c.req('PUT', `${P}/os-quota-sets/${m.projectId}`, c.admin, { quota_set: { bogus: 1 } })).status).toBe(400);
    const v = (await c.req('POST', `${MP}/volumes`, m.token, cliBody('one'))).body.volume;
    await c.waitStatus(v.id, m.token, 'available');
    const two = await c.req('POST', `${MP}/volumes`, m.token, cliBody('two'));
    expect(two.status).toBe(413);
    expect(two.body.overLimit.message).toMatch(/Maximum number of volumes allowed \(1\)/);
    const show = await c.req('GET', `${MP}/os-quota-sets/${m.projectId}?usage=True`, m.token);
    expect(show.body.quota_set.volumes).toEqual({ limit: 1, in_use: 1, reserved: 0, allocated: 0 });
    expect(
      Object.keys((await c.req('GET', `${MP}/os-quota-sets/${m.projectId}/defaults`, m.token)).body.quota_set).sort(),
    ).toEqual(['backup_gigabytes', 'backups', 'gigabytes', 'groups', 'id', 'per_volume_gigabytes', 'snapshots', 'volumes']);
    const lim = await c.req('GET', `${MP}/limits`, m.token);
    expect(lim.body.limits.absolute).toMatchObject({
      maxTotalVolumes: 1,
      maxTotalVolumeGigabytes: 5,
      totalVolumesUsed: 1,
      totalGigabytesUsed: 1,
    });
  });

  it('types, services (up/down from hosts.state), availability zones', async () => {
    const t = await c.req('GET', `${P}/types`, c.admin);
    expect(t.body.volume_types.map((x: any) => x.name).sort()).toEqual(['__DEFAULT__', 'fake']);
    expect(t.body.volume_types.find((x: any) => x.name === 'fake').extra_specs).toEqual({ volume_backend_name: 'fake' });
    expect((await c.req('GET', `${P}/types/default`, c.admin)).body.volume_type.name).toBe('__DEFAULT__');
    const s = await c.req('GET', `${P}/os-services?binary=cinder-volume`, c.admin);
    expect(s.body.services).toEqual([
      expect.objectContaining({ binary: 'cinder-volume', host: 'vol1@fake', state: 'up', status: 'enabled', zone: 'nova' }),
    ]);
    c.db.prepare("UPDATE hosts SET state = 'down'").run();
    expect((await c.req('GET', `${P}/os-services?binary=cinder-volume`, c.admin)).body.services[0].state).toBe('down');
    const sm = await c.member('s');
    expect((await c.req('GET', `/volume/v3/${sm.projectId}/os-services`, sm.token)).status).toBe(403);
    // No host up: the volume ends in error with a reason (Cinder's scheduler).
    const v = (await c.req('POST', `${P}/volumes`, c.admin, cliBody('nohost'))).body.volume;
    expect(v.status).toBe('error');
    expect((await c.req('GET', `${P}/os-availability-zone`, c.admin)).body.availabilityZoneInfo).toEqual([
      { zoneName: 'nova', zoneState: { available: false } },
    ]);
  });
});

describe('discovery', () => {
  it('the catalog URL itself (/v3/{project_id}) answers the version document', async () => {
    const r = await c.req('GET', P);
    expect(r.status).toBe(200);
    expect(r.body.version).toMatchObject({ id: 'v3.0', version: '3.2' });
    expect((await c.req('GET', `${P}/volumes`, c.admin)).status).toBe(200);
  });
});
