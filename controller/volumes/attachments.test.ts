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

async function volume(name: string, o: Record<string, unknown> = {}) {
  const r = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name, ...o } });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  return c.waitStatus(r.body.volume.id, c.admin, 'available');
}
const facade = () => c.app.homestack.deps.facades.volumes!;
const SERVER = '0b5e3f9c-1f5c-4c0e-9d3a-7e1c2a9b8d01';

describe('attach and detach', () => {
  it('facade: reserve → export with CHAP for the initiator → in-use with Cinder attachments → detach', async () => {
    const v = await volume('a1');
    const { attachmentId, connection } = await facade().attach(null, v.id, {
      serverId: SERVER,
      host: 'vol1',
      initiator: 'iqn.2005-03.org.homestack:cmp1',
      device: '/dev/vdb',
    });
    expect(connection).toMatchObject({
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: `iqn.2026-11.org.homestack:volume-${v.id}`,
        target_lun: 1,
        volume_id: v.id,
        auth_method: 'CHAP',
        auth_username: `hs-${attachmentId}`,
      },
    });
    expect(connection.data.auth_password).toMatch(/^[0-9a-f]{32}$/);
    const users = c.target.exports.get(v.id)!.users;
    expect(users.get(`hs-${attachmentId}`)).toEqual({ initiator: 'iqn.2005-03.org.homestack:cmp1', address: '127.0.0.1' });
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('attaching');
    facade().attachComplete(attachmentId, '/dev/vdb');
    const inUse = (await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume;
    expect(inUse.status).toBe('in-use');
    expect(inUse.attachments).toEqual([
      {
        server_id: SERVER,
        attachment_id: attachmentId,
        attached_at: expect.stringMatching(/\.\d{6}$/),
        host_name: 'vol1',
        volume_id: v.id,
        device: '/dev/vdb',
        id: v.id,
      },
    ]);
    // Deleting an attached volume, attaching it again: 400 with Cinder's messages.
    const del = await c.req('DELETE', `${P}/volumes/${v.id}`, c.admin);
    expect(del.status).toBe(400);
    expect(del.body.badRequest.message).toMatch(/^Invalid volume: Volume status must be available or error/);
    await expect(
      facade().attach(null, v.id, { serverId: SERVER, host: 'vol1', initiator: 'iqn.2005-03.org.homestack:cmp1' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      facade().attach(null, v.id, { serverId: 'other', host: 'vol1', initiator: 'iqn.2005-03.org.homestack:cmp1' }),
    ).rejects.toMatchObject({ status: 400 });
    await facade().detach(attachmentId);
    const after = (await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume;
    expect(after).toMatchObject({ status: 'available', attachments: [] });
    expect(users.size).toBe(0);
    await facade().detach(attachmentId); // idempotent
  });

  it('a failed export rolls back: no attachment, volume available with a reason', async () => {
    const v = await volume('a2');
    c.target.exports.delete(v.id);
    const orig = c.target.initializeConnection.bind(c.target);
    c.target.initializeConnection = async () => {
      throw new Error('tgtadm: boom');
    };
    await expect(
      facade().attach(null, v.id, { serverId: SERVER, host: 'vol1', initiator: 'iqn.2005-03.org.homestack:cmp1' }),
    ).rejects.toMatchObject({ status: 409 });
    c.target.initializeConnection = orig;
    await c.settle();
    expect(c.db.prepare('SELECT status, reason FROM volumes WHERE id = ?').get(v.id)).toEqual({
      status: 'available',
      reason: expect.stringMatching(/attach failed: .*boom/),
    });
    expect(c.db.prepare('SELECT COUNT(*) FROM volume_attachments').pluck().get()).toBe(0);
  });

  it('legacy actions: reserve, initialize_connection, attach, begin_detaching, terminate, detach', async () => {
    const v = await volume('a3');
    const act = (b: unknown) => c.req('POST', `${P}/volumes/${v.id}/action`, c.admin, b);
    expect((await act({ 'os-reserve': null })).status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('attaching');
    expect((await act({ 'os-reserve': {} })).status).toBe(400);
    const ic = await act({
      'os-initialize_connection': { connector: { initiator: 'iqn.1993-08.org.debian:01:abc', ip: '127.0.0.1', host: 'cmp1' } },
    });
    expect(ic.status).toBe(200);
    expect(ic.body.connection_info.data.target_iqn).toContain(v.id);
    expect((await act({ 'os-initialize_connection': { connector: { ip: '1.2.3.4' } } })).status).toBe(400);
    expect((await act({ 'os-attach': { instance_uuid: SERVER, mountpoint: '/dev/vdc' } })).status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume).toMatchObject({
      status: 'in-use',
      attachments: [expect.objectContaining({ server_id: SERVER, device: '/dev/vdc' })],
    });
    expect((await act({ 'os-begin_detaching': {} })).status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('detaching');
    expect((await act({ 'os-roll_detaching': {} })).status).toBe(202);
    expect((await act({ 'os-terminate_connection': { connector: { initiator: 'iqn.1993-08.org.debian:01:abc' } } })).status).toBe(
      202,
    );
    expect(c.target.exports.get(v.id)!.users.size).toBe(0);
    expect((await act({ 'os-detach': {} })).status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume).toMatchObject({
      status: 'available',
      attachments: [],
    });
    expect((await act({ 'os-reserve': {} })).status).toBe(202);
    expect((await act({ 'os-unreserve': {} })).status).toBe(202);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('available');
  });

  it('v3 attachments API: create with connector, complete, list, delete', async () => {
    const v = await volume('a4');
    const r = await c.req('POST', `${P}/attachments`, c.admin, {
      attachment: {
        volume_uuid: v.id,
        instance_uuid: SERVER,
        connector: { initiator: 'iqn.2005-03.org.homestack:cmp2', ip: '127.0.0.1' },
      },
    });
    expect(r.status).toBe(200);
    const a = r.body.attachment;
    expect(a).toMatchObject({ volume_id: v.id, instance: SERVER, status: 'attaching', attach_mode: 'rw' });
    expect(a.connection_info.data.auth_method).toBe('CHAP');
    expect((await c.req('POST', `${P}/attachments/${a.id}/action`, c.admin, { 'os-complete': null })).status).toBe(204);
    expect((await c.req('GET', `${P}/attachments/${a.id}`, c.admin)).body.attachment.status).toBe('attached');
    expect((await c.req('GET', `${P}/attachments?volume_id=${v.id}`, c.admin)).body.attachments.map((x: any) => x.id)).toEqual([
      a.id,
    ]);
    expect((await c.req('DELETE', `${P}/attachments/${a.id}`, c.admin)).status).toBe(200);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('available');
    expect((await c.req('GET', `${P}/attachments/${a.id}`, c.admin)).status).toBe(404);
  });

  it('snapshots: create, clone a volume from it (same host), refuse deleting a volume with snapshots; clone from a volume', async () => {
    const v = await volume('s1');
    const s = await c.req('POST', `${P}/snapshots`, c.admin, {
      snapshot: { volume_id: v.id, name: 'snap', force: false, description: null, metadata: {} },
    });
    expect(s.status).toBe(202);
    await c.settle();
    const snap = (await c.req('GET', `${P}/snapshots/${s.body.snapshot.id}`, c.admin)).body.snapshot;
    expect(snap).toMatchObject({ name: 'snap', status: 'available', size: 1, volume_id: v.id });
    expect((await c.req('GET', `${P}/snapshots/detail?name=snap`, c.admin)).body.snapshots.map((x: any) => x.id)).toEqual([
      snap.id,
    ]);
    const cl = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: null, snapshot_id: snap.id, name: 'clone' } });
    expect(cl.status).toBe(202);
    const clone = await c.waitStatus(cl.body.volume.id, c.admin, 'available');
    expect(clone).toMatchObject({ size: 1, snapshot_id: snap.id });
    expect((await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 0, snapshot_id: snap.id } })).status).toBe(400);
    const d = await c.req('DELETE', `${P}/volumes/${v.id}`, c.admin);
    expect(d.status).toBe(400);
    expect(d.body.badRequest.message).toMatch(/dependent snapshots/);
    const sv = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 2, source_volid: v.id, name: 'cl2' } });
    expect((await c.waitStatus(sv.body.volume.id, c.admin, 'available')).source_volid).toBe(v.id);
    expect((await c.req('DELETE', `${P}/snapshots/${snap.id}`, c.admin)).status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${P}/snapshots/${snap.id}`, c.admin)).status).toBe(404);
    expect((await c.req('DELETE', `${P}/volumes/${v.id}`, c.admin)).status).toBe(202);
  });

  it('from an image: downloading → available, bootable "true", image metadata; createForServer resolves when available', async () => {
    const img = await c.image('img1');
    const r = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: img, name: 'boot' } });
    expect(r.body.volume.status).toBe('downloading');
    const v = await c.waitStatus(r.body.volume.id, c.admin, 'available');
    expect(v).toMatchObject({ bootable: 'true', volume_image_metadata: { image_id: img, image_name: 'img1' } });
    const op = c.db
      .prepare("SELECT payload FROM operations WHERE kind = 'volume.create' ORDER BY rowid DESC LIMIT 1")
      .pluck()
      .get() as string;
    expect(JSON.parse(op).source.image).toMatchObject({
      id: img,
      download_url: `${c.config.public_url}/image/v2/images/${img}/file`,
      disk_format: 'raw',
      checksum: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(
      (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: '7a1d2b1c-0000-4000-8000-000000000000' } }))
        .status,
    ).toBe(400);
    const auth = c.app.homestack.auth.validator.validate(c.admin);
    const made = await c.app.homestack.deps.facades.volumes!.createForServer(auth, { size: 1, imageId: img });
    expect(made).toMatchObject({ status: 'available', bootable: true, size: 1 });
    await c.app.homestack.deps.facades.volumes!.delete(made.id);
    await c.settle();
    expect(c.app.homestack.deps.facades.volumes!.get(null, made.id)).toBeNull();
  });
});
