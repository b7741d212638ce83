import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuthContext } from '../http/auth.js';
import type { IscsiConnectionInfo, VolumeFacade, VolumeInfo } from '../facades.js';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';

/** Volumes in memory, with Cinder's status transitions. */
class FakeVolumes implements VolumeFacade {
  vols = new Map<string, VolumeInfo>();
  attachments = new Map<string, { volumeId: string; serverId: string; host: string; initiator: string; device: string | null }>();
  deleted: string[] = [];
  add(project: string, status = 'available'): string {
    const id = randomUUID();
    this.vols.set(id, { id, name: null, status, size: 1, project_id: project, bootable: true, host: 'vol1', attachments: [] });
    return id;
  }
  get(ctx: AuthContext | null, id: string) {
    const v = this.vols.get(id);
    return v && (!ctx || ctx.isAdmin || ctx.projectId === v.project_id) ? v : null;
  }
  async createForServer(ctx: AuthContext, req: { size: number | null; imageId?: string }) {
    const id = this.add(ctx.projectId!);
    this.vols.get(id)!.size = req.size ?? 1;
    return this.vols.get(id)!;
  }
  snapshot() {
    return null;
  }
  snapshotForImage(): never {
    throw new Error('not used by these tests');
  }
  async snapshotReady(): Promise<never> {
    throw new Error('not used by these tests');
  }
  async deleteSnapshot() {}
  async attach(
    _ctx: AuthContext | null,
    volumeId: string,
    req: { serverId: string; host: string; initiator: string; device?: string | null },
  ) {
    const v = this.vols.get(volumeId)!;
    v.status = 'attaching';
    const attachmentId = randomUUID();
    this.attachments.set(attachmentId, {
      volumeId,
      serverId: req.serverId,
      host: req.host,
      initiator: req.initiator,
      device: req.device ?? null,
    });
    const connection: IscsiConnectionInfo = {
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: `iqn.2010-10.org.openstack:volume-${volumeId}`,
        target_portal: '192.0.2.9:3260',
        target_lun: 1,
        volume_id: volumeId,
      },
    };
    return { attachmentId, connection };
  }
  attachComplete(attachmentId: string, device: string) {
    const a = this.attachments.get(attachmentId)!;
    const v = this.vols.get(a.volumeId)!;
    v.status = 'in-use';
    v.attachments = [{ server_id: a.serverId, attachment_id: attachmentId, device, host_name: a.host }];
  }
  async detach(attachmentId: string) {
    const a = this.attachments.get(attachmentId);
    if (!a) return;
    this.attachments.delete(attachmentId);
    const v = this.vols.get(a.volumeId)!;
    v.status = 'available';
    v.attachments = [];
  }
  async delete(volumeId: string) {
    this.vols.delete(volumeId);
    this.deleted.push(volumeId);
  }
}

let c: ComputeCloud;
let vols: FakeVolumes;
let flavor: string;
let image: string;
beforeEach(async () => {
  c = await computeCloud();
  vols = new FakeVolumes();
  c.app.homestack.deps.facades.volumes = vols;
  c.host({ name: 'cmp1' });
  flavor = await c.flavor('small');
  image = await c.image('cirros');
});
afterEach(async () => {
  await c.close();
});

describe('os-volume_attachments', () => {
  it('attaches (200 with the device), lists, detaches (202); the volume goes in-use and back', async () => {
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'w', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const id = r.body.server.id;
    const vol = vols.add(c.adminProjectId);
    const a = await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, {
      volumeAttachment: { device: null, volumeId: vol },
    });
    expect(a.status).toBe(200);
    expect(a.body.volumeAttachment).toEqual({ id: vol, serverId: id, volumeId: vol, device: '/dev/vdb' });
    await c.settle();
    expect(vols.vols.get(vol)).toMatchObject({
      status: 'in-use',
      attachments: [{ server_id: id, device: '/dev/vdb', host_name: 'cmp1' }],
    });
    expect([...vols.attachments.values()][0]!.initiator).toBe('iqn.2005-03.org.homestack:cmp1');
    expect(c.gw.volumes.get(id)!.get(vol)).toBe('/dev/vdb');
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['os-extended-volumes:volumes_attached']).toEqual([
      { id: vol },
    ]);
    expect((await c.req('GET', `${V}/servers/${id}/os-volume_attachments`, c.admin)).body.volumeAttachments).toHaveLength(1);
    expect(
      (await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, { volumeAttachment: { volumeId: vol } })).status,
    ).toBe(400);
    expect(
      (await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, { volumeAttachment: { volumeId: randomUUID() } }))
        .status,
    ).toBe(404);
    expect((await c.req('DELETE', `${V}/servers/${id}/os-volume_attachments/${vol}`, c.admin)).status).toBe(202);
    await c.settle();
    expect(vols.vols.get(vol)).toMatchObject({ status: 'available', attachments: [] });
    expect((await c.req('GET', `${V}/servers/${id}/os-volume_attachments`, c.admin)).body.volumeAttachments).toEqual([]);
  });

  it('boots from a volume: image "" in the server, boot_volume in the spec, volume detached on delete', async () => {
    const vol = vols.add(c.adminProjectId);
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: {
        name: 'bfv',
        flavorRef: flavor,
        networks: 'none',
        block_device_mapping_v2: [{ uuid: vol, boot_index: '0', source_type: 'volume', destination_type: 'volume' }],
      },
    });
    expect(r.status).toBe(202);
    await c.settle();
    const id = r.body.server.id;
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s).toMatchObject({ status: 'ACTIVE', image: '', 'os-extended-volumes:volumes_attached': [{ id: vol }] });
    const spec = c.gw.domains.get(id)!.spec!;
    expect(spec.image).toBeUndefined();
    expect(spec.boot_volume).toMatchObject({ volume_id: vol, connection: { driver_volume_type: 'iscsi' } });
    expect(vols.vols.get(vol)!.status).toBe('in-use');
    expect((await c.req('DELETE', `${V}/servers/${id}/os-volume_attachments/${vol}`, c.admin)).status).toBe(400);
    await c.req('DELETE', `${V}/servers/${id}`, c.admin);
    await c.settle();
    expect(vols.vols.get(vol)).toMatchObject({ status: 'available' });
  });

  it('creates the boot volume from an image and deletes it with the server when asked', async () => {
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: {
        name: 'bfi',
        flavorRef: flavor,
        networks: 'none',
        block_device_mapping_v2: [
          {
            uuid: image,
            boot_index: 0,
            source_type: 'image',
            destination_type: 'volume',
            volume_size: 2,
            delete_on_termination: true,
          },
        ],
      },
    });
    await c.settle();
    const id = r.body.server.id;
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s.status).toBe('ACTIVE');
    const volId = s['os-extended-volumes:volumes_attached'][0].id;
    expect(vols.vols.get(volId)!.size).toBe(2);
    await c.req('DELETE', `${V}/servers/${id}`, c.admin);
    await c.settle();
    expect(vols.deleted).toEqual([volId]);
  });

  it('a missing or busy boot volume is a 400', async () => {
    const busy = vols.add(c.adminProjectId, 'in-use');
    const body = (uuid: string) => ({
      server: {
        name: 'x',
        flavorRef: flavor,
        networks: 'none',
        block_device_mapping_v2: [{ uuid, boot_index: '0', source_type: 'volume', destination_type: 'volume' }],
      },
    });
    expect((await c.req('POST', `${V}/servers`, c.admin, body(busy))).status).toBe(400);
    const missing = await c.req('POST', `${V}/servers`, c.admin, body(randomUUID()));
    expect(missing.body.badRequest.message).toMatch(/^Volume .* could not be found\.$/);
  });
});

describe('an attach interrupted by a controller crash', () => {
  /** An ACTIVE server and an attach whose completion the crash lost; `reached`: the hot-plug got to the host. */
  const interrupted = async (reached: boolean) => {
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'w', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const id = r.body.server.id as string;
    const vol = vols.add(c.adminProjectId);
    expect(
      (await c.req('POST', `${V}/servers/${id}/os-volume_attachments`, c.admin, { volumeAttachment: { volumeId: vol } })).status,
    ).toBe(200);
    await c.settle();
    const attachmentId = [...vols.attachments.keys()].at(-1)!;
    vols.vols.get(vol)!.status = 'attaching';
    if (!reached) c.gw.volumes.get(id)?.delete(vol);
    const now = new Date().toISOString();
    c.ctx.db
      .prepare(
        `INSERT INTO volumes (id, project_id, user_id, size, status, availability_zone, created_at, updated_at) VALUES (?, ?, 'u', 1, 'attaching', 'nova', ?, ?)`,
      )
      .run(vol, c.adminProjectId, now, now);
    c.ctx.db
      .prepare(
        `INSERT INTO volume_attachments (id, volume_id, instance_uuid, chap_username, chap_password, attach_status, created_at, updated_at) VALUES (?, ?, ?, 'u', 'p', 'attaching', ?, ?)`,
      )
      .run(attachmentId, vol, id, now, now);
    return { id, vol };
  };

  it('completes at start when the disk reached the guest (no hot-unplug)', async () => {
    const { id, vol } = await interrupted(true);
    const { recoverInterrupted } = await import('./reconcile.js');
    const out = await recoverInterrupted(c.ctx);
    expect(out.completedAttaches).toEqual([vol]);
    expect(out.rolledBackAttaches).toEqual([]);
    expect(c.gw.calls.filter((x) => x.op === 'detach')).toEqual([]);
    expect(c.gw.volumes.get(id)?.get(vol)).toBeTruthy();
    expect(vols.vols.get(vol)!.status).toBe('in-use');
    expect(
      (await c.req('GET', `${V}/servers/${id}/os-volume_attachments`, c.admin)).body.volumeAttachments.map(
        (a: any) => a.volumeId,
      ),
    ).toEqual([vol]);
  });

  it('is rolled back at start when it did not: mapping dropped, volume available again', async () => {
    const { id, vol } = await interrupted(false);
    const { recoverInterrupted } = await import('./reconcile.js');
    const out = await recoverInterrupted(c.ctx);
    expect(out.rolledBackAttaches).toEqual([vol]);
    expect(c.gw.volumes.get(id)?.get(vol)).toBeUndefined();
    expect(vols.vols.get(vol)).toMatchObject({ status: 'available', attachments: [] });
    expect((await c.req('GET', `${V}/servers/${id}/os-volume_attachments`, c.admin)).body.volumeAttachments).toEqual([]);
  });
});
