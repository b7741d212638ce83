import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settle as settleCompute, type ComputeCtx } from '../compute/context.js';
import { addHost } from '../compute/testing/fixtures.js';
import { FakeGateway } from '../compute/testing/kit.js';
import { createSchedule } from './schedules.service.js';
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

  describe('images of a volume-backed server (Nova snapshot_volume_backed)', () => {
    const bootFromVolume = async (name: string) => {
      const r = await c.req('POST', `${V}/servers`, c.admin, {
        server: {
          name,
          flavorRef: flavor,
          networks: 'none',
          block_device_mapping_v2: [
            { uuid: image, boot_index: 0, source_type: 'image', destination_type: 'volume', volume_size: 1 },
          ],
        },
      });
      expect(r.status).toBe(202);
      await settle();
      return r.body.server.id as string;
    };
    const bootVolumeOf = async (id: string) =>
      (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['os-extended-volumes:volumes_attached'][0].id as string;

    it('createBackup is refused with Nova’s message; createImage snapshots the volume and the image boots a new server from it', async () => {
      const id = await bootFromVolume('vb');
      const vol = await bootVolumeOf(id);
      const backup = await c.req('POST', `${V}/servers/${id}/action`, c.admin, {
        createBackup: { name: 'b', backup_type: 'daily', rotation: 1 },
      });
      expect(backup.status).toBe(400);
      expect(backup.body.badRequest.message).toBe('Backup is not supported for volume-backed instances.');
      // …so a server backup schedule of it is refused at creation, naming what to do instead.
      expect(() => createSchedule(c.db, { server: id, cron: '0 3 * * *', keep: 2 })).toThrow(
        "--server: server 'vb' boots from a volume, and Nova backs up only image-backed servers: schedule its volumes with --volume",
      );

      const r = await c.req('POST', `${V}/servers/${id}/action`, c.admin, { createImage: { name: 'vbsnap' } });
      expect(r.status).toBe(202);
      const imageId = String(r.headers.location).split('/').pop()!;
      expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['OS-EXT-STS:task_state']).toBe('image_snapshot');
      await settle();
      const img = (await c.req('GET', `/image/v2/images/${imageId}`, c.admin)).body;
      expect(img).toMatchObject({
        status: 'active',
        size: 0,
        bdm_v2: 'True',
        root_device_name: '/dev/vda',
        image_type: 'snapshot',
      });
      const mapping = JSON.parse(img.block_device_mapping);
      expect(mapping).toEqual([
        expect.objectContaining({ source_type: 'snapshot', destination_type: 'volume', boot_index: 0, volume_size: 1 }),
      ]);
      const snap = (await c.req('GET', `${P}/snapshots/${mapping[0].snapshot_id}`, c.admin)).body.snapshot;
      expect(snap).toMatchObject({ status: 'available', volume_id: vol, name: 'snapshot for vbsnap' });
      expect(await c.backend.findSnapshot(mapping[0].snapshot_id)).not.toBeNull();
      expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server).toMatchObject({
        status: 'ACTIVE',
        'OS-EXT-STS:task_state': null,
      });

      const again = await c.req('POST', `${V}/servers`, c.admin, {
        server: { name: 'from-snap', imageRef: imageId, flavorRef: flavor, networks: 'none' },
      });
      expect(again.status).toBe(202);
      await settle();
      const s2 = (await c.req('GET', `${V}/servers/${again.body.server.id}`, c.admin)).body.server;
      expect(s2.status).toBe('ACTIVE');
      expect(s2.image).toBe('');
      const vol2 = s2['os-extended-volumes:volumes_attached'][0].id;
      expect(vol2).not.toBe(vol);
      expect((await c.req('GET', `${P}/volumes/${vol2}`, c.admin)).body.volume).toMatchObject({
        snapshot_id: mapping[0].snapshot_id,
        status: 'in-use',
        size: 1,
      });
      expect(gw.domains.get(again.body.server.id)!.spec!.boot_volume).toMatchObject({ volume_id: vol2 });
    });

    it('a snapshot that fails kills the image, deletes the snapshots made for it and clears the task', async () => {
      const id = await bootFromVolume('vbf');
      const vol = await bootVolumeOf(id);
      c.backend.snapshot = async () => {
        throw new Error('no space for the snapshot');
      };
      const r = await c.req('POST', `${V}/servers/${id}/action`, c.admin, { createImage: { name: 'bad' } });
      expect(r.status).toBe(202);
      const imageId = String(r.headers.location).split('/').pop()!;
      await settle();
      await settle();
      expect((await c.req('GET', `/image/v2/images/${imageId}`, c.admin)).body.status).toBe('killed');
      const snaps = (await c.req('GET', `${P}/snapshots/detail`, c.admin)).body.snapshots;
      expect(snaps.length).toBe(0);
      expect(snaps.filter((x: { volume_id: string }) => x.volume_id === vol)).toEqual([]);
      expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server).toMatchObject({
        status: 'ACTIVE',
        'OS-EXT-STS:task_state': null,
      });
      const acts = (await c.req('GET', `${V}/servers/${id}/os-instance-actions`, c.admin)).body.instanceActions;
      expect(acts[0]).toMatchObject({ action: 'createImage', message: 'Error' });
    });

    it('booting from a snapshot that is not there is a 400 naming it', async () => {
      const r = await c.req('POST', `${V}/servers`, c.admin, {
        server: {
          name: 'x',
          flavorRef: flavor,
          networks: 'none',
          block_device_mapping_v2: [
            {
              uuid: '00000000-0000-4000-8000-000000000000',
              boot_index: 0,
              source_type: 'snapshot',
              destination_type: 'volume',
            },
          ],
        },
      });
      expect(r.status).toBe(400);
      expect(r.body.badRequest.message).toBe('Snapshot 00000000-0000-4000-8000-000000000000 could not be found.');
    });
  });
});
