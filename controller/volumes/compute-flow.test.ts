import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settle as settleCompute, type ComputeCtx } from '../compute/context.js';
import { addHost } from '../compute/testing/fixtures.js';
import { FakeGateway } from '../compute/testing/kit.js';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/**
 * Nova's side of attach (controller/compute os-volume_attachments and boot from volume)
 * against the real block-storage service and a real volume agent app (fake back end
 * and target); the hypervisor is compute's FakeGateway.
 */
const V = '/compute/v2.1';
let c: VolumeCloud;
let gw: FakeGateway;
let flavor: string;
let image: string;
let P: string;
const settle = async () => {
  await settleCompute(c.app.homestack.deps.extras.computeCtx as ComputeCtx);
  await c.settle();
  await settleCompute(c.app.homestack.deps.extras.computeCtx as ComputeCtx);
};

beforeEach(async () => {
  gw = new FakeGateway();
  c = await volumeCloud({ extras: { computeGateway: gw } });
  P = `/volume/v3/${c.adminProjectId}`;
  addHost(c.db, { name: 'cmp1' });
  (c.app.homestack.deps.extras.computeCtx as ComputeCtx).scheduler.cache.invalidate();
  flavor = (await c.req('POST', `${V}/flavors`, c.admin, { flavor: { name: 'small', ram: 512, vcpus: 1, disk: 1, id: null } }))
    .body.flavor.id;
  image = await c.image('cirros');
});
afterEach(async () => {
  await settle();
  await c.close();
});

describe('compute ↔ block storage', () => {
  it('server add volume → in-use with the server in attachments; delete refused; remove → available', async () => {
    const s = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'w', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await settle();
    const id = s.body.server.id;
    const vol = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name: 'data' } })).body.volume;
    await c.waitStatus(vol.id, c.admin, 'available');
    const a = await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, {
      volumeAttachment: { device: null, volumeId: vol.id },
    });
    expect(a.status).toBe(200);
    expect(a.body.volumeAttachment).toEqual({ id: vol.id, serverId: id, volumeId: vol.id, device: '/dev/vdb' });
    await settle();
    const inUse = await c.waitStatus(vol.id, c.admin, 'in-use');
    expect(inUse.attachments).toEqual([
      expect.objectContaining({ server_id: id, device: '/dev/vdb', host_name: 'cmp1', volume_id: vol.id, id: vol.id }),
    ]);
    expect(c.target.exports.get(vol.id)!.users.size).toBe(1);
    expect(gw.volumes.get(id)!.get(vol.id)).toBe('/dev/vdb');
    expect(
      (await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, { volumeAttachment: { volumeId: vol.id } }))
        .status,
    ).toBe(400);
    const del = await c.req('DELETE', `${P}/volumes/${vol.id}`, c.admin);
    expect(del.status).toBe(400);
    expect(del.body.badRequest.message).toMatch(/Volume status must be available or error/);
    expect((await c.req('DELETE', `${V}/servers/${id}/os-volume_attachments/${vol.id}`, c.admin)).status).toBe(202);
    await settle();
    const back = await c.waitStatus(vol.id, c.admin, 'available');
    expect(back.attachments).toEqual([]);
    expect(c.target.exports.get(vol.id)!.users.size).toBe(0);
  });

  it('boot from an image-backed volume with delete_on_termination: created, attached as vda, deleted with the server', async () => {
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: {
        name: 'bfv',
        flavorRef: flavor,
        networks: 'none',
        block_device_mapping_v2: [
          {
            uuid: image,
            boot_index: 0,
            source_type: 'image',
            destination_type: 'volume',
            volume_size: 1,
            delete_on_termination: true,
          },
        ],
      },
    });
    expect(r.status).toBe(202);
    await settle();
    const id = r.body.server.id;
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s.status).toBe('ACTIVE');
    const volId = s['os-extended-volumes:volumes_attached'][0].id;
    const v = await c.waitStatus(volId, c.admin, 'in-use');
    expect(v).toMatchObject({ bootable: 'true', size: 1 });
    expect(gw.domains.get(id)!.spec!.boot_volume).toMatchObject({
      volume_id: volId,
      connection: { data: { auth_method: 'CHAP' } },
    });
    await c.req('DELETE', `${V}/servers/${id}`, c.admin);
    await settle();
    expect((await c.req('GET', `${P}/volumes/${volId}`, c.admin)).status).toBe(404);
    expect(await c.backend.find(volId)).toBeNull();
  });
});
