import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../agents/volume/file.js';
import { makeRunner } from '../../shared/exec/run.js';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/** os-volume_upload_image through the real agent app and a file back end (qemu-img), and microversion 3.1. */
let c: VolumeCloud;
let P: string;
let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-upload-'));
  const backend = new FileBackend({ dir: join(dir, 'volumes'), run: makeRunner() });
  c = await volumeCloud({ backend, backendName: 'file' });
  P = `/volume/v3/${c.adminProjectId}`;
});
afterEach(async () => {
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

const volFile = (id: string) => join(dir, 'volumes', `volume-${id}.img`);
async function poke(id: string, off: number, data: Buffer | null): Promise<Buffer> {
  const fh = await open(volFile(id), data ? 'r+' : 'r');
  try {
    if (data) await fh.write(data, 0, data.length, off);
    const out = Buffer.alloc(data?.length ?? 16);
    await fh.read(out, 0, out.length, off);
    return out;
  } finally {
    await fh.close();
  }
}
async function volume(name: string, token = c.admin, project = c.adminProjectId): Promise<string> {
  const id = (await c.req('POST', `/volume/v3/${project}/volumes`, token, { volume: { size: 1, name } })).body.volume
    .id as string;
  await c.waitStatus(id, token, 'available');
  return id;
}
const v31 = { 'openstack-api-version': 'volume 3.1' };
const upload = (id: string, arg: Record<string, unknown>, headers?: Record<string, string>, token = c.admin) =>
  c.req('POST', `${P}/volumes/${id}/action`, token, { 'os-volume_upload_image': arg }, headers);

describe('os-volume_upload_image', () => {
  it('qcow2 at 3.1: 202 with the queued image, the volume uploading then available, the image active holding the data', async () => {
    const v = await volume('up1');
    const marker = randomBytes(4096);
    await poke(v, 300 * 1024 * 1024, marker);
    const r = await upload(v, { image_name: 'from-volume', disk_format: 'qcow2', visibility: 'shared', protected: 'false' }, v31);
    expect(r.status).toBe(202);
    const u = r.body['os-volume_upload_image'];
    expect(u).toMatchObject({
      id: v,
      status: 'uploading',
      size: 1,
      image_name: 'from-volume',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'shared',
      protected: false,
      display_description: null,
    });
    expect(u.volume_type).toMatchObject({ name: '__DEFAULT__' });
    expect(u.image_id).toMatch(/^[0-9a-f-]{36}$/);
    await c.settle();
    expect((await c.req('GET', `${P}/volumes/${v}`, c.admin)).body.volume.status).toBe('available');
    const img = (await c.req('GET', `/image/v2/images/${u.image_id}`, c.admin)).body;
    expect(img).toMatchObject({
      name: 'from-volume',
      status: 'active',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'shared',
      protected: false,
      owner: c.adminProjectId,
      virtual_size: 1024 ** 3,
    });
    expect(img.size).toBeLessThan(64 * 1024 * 1024); // qcow2 of a sparse volume: the written clusters only
    // The round trip: a volume made from the image holds what the first one held.
    const back = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: u.image_id } })).body.volume.id;
    await c.waitStatus(back, c.admin, 'available');
    expect(await poke(back, 300 * 1024 * 1024, null).then((b) => b.subarray(0, 16))).toEqual(marker.subarray(0, 16));
  });

  it('at 3.0 (no header): raw by default, private; visibility and protected neither taken nor answered', async () => {
    const v = await volume('up0');
    const r = await upload(v, { image_name: 'raw-img', visibility: 'public', protected: true });
    expect(r.status).toBe(202);
    const u = r.body['os-volume_upload_image'];
    expect(u.disk_format).toBe('raw');
    expect(u).not.toHaveProperty('visibility');
    expect(u).not.toHaveProperty('protected');
    await c.settle();
    const img = (await c.req('GET', `/image/v2/images/${u.image_id}`, c.admin)).body;
    expect(img).toMatchObject({ status: 'active', disk_format: 'raw', visibility: 'private', protected: false, size: 1024 ** 3 });
  }, 180_000); // 1 GiB of raw through the image API

  it('refused as Cinder refuses: not available, force, bad format or name; public needs admin', async () => {
    const v = await volume('upx');
    expect((await upload(v, { disk_format: 'raw' })).status).toBe(400);
    expect((await upload(v, { image_name: 'x', disk_format: 'iso' })).status).toBe(400);
    expect((await upload(v, { image_name: 'x', container_format: 'ovf' })).status).toBe(400);
    expect((await upload(v, { image_name: 'x', force: 'maybe' })).status).toBe(400);
    expect((await upload(v, { image_name: 'x', force: true })).status).toBe(400);
    expect((await upload(v, { image_name: 'x', protected: 'maybe' }, v31)).status).toBe(400);
    const m = await c.member('upm');
    const mv = await volume('upm', m.token, m.projectId);
    const pub = await c.req(
      'POST',
      `/volume/v3/${m.projectId}/volumes/${mv}/action`,
      m.token,
      { 'os-volume_upload_image': { image_name: 'pub', visibility: 'public' } },
      v31,
    );
    expect(pub.status).toBe(403);
    expect((await c.req('GET', `/volume/v3/${m.projectId}/volumes/${mv}`, m.token)).body.volume.status).toBe('available');
    expect((await c.req('POST', `${P}/volumes/${v}/action`, c.admin, { 'os-reset_status': { status: 'in-use' } })).status).toBe(
      202,
    );
    const busy = await upload(v, { image_name: 'x' });
    expect(busy.status).toBe(400);
    expect(busy.body.badRequest.message).toContain('must be available');
  });
});

describe('volume microversions', () => {
  it('3.0 to 3.2 advertised and served; 3.3 refused with 406; latest is 3.2', async () => {
    const root = await c.req('GET', '/volume/');
    expect(root.body.versions[0]).toMatchObject({ id: 'v3.0', version: '3.2', min_version: '3.0' });
    const ok = await c.req('GET', `${P}/volumes`, c.admin, undefined, v31);
    expect(ok.status).toBe(200);
    expect(ok.headers['openstack-api-version']).toBe('volume 3.2');
    expect((await c.req('GET', `${P}/volumes`, c.admin, undefined, { 'openstack-api-version': 'volume 3.3' })).status).toBe(406);
    const v = await volume('latest');
    const r = await upload(
      v,
      { image_name: 'l', disk_format: 'qcow2', visibility: 'shared' },
      { 'openstack-api-version': 'volume latest' },
    );
    expect(r.body['os-volume_upload_image']).toMatchObject({ visibility: 'shared', protected: false });
    await c.settle();
  });

  it('bootable filter: before 3.2 any value but False/false/FALSE is true; from 3.2 strict, else 400', async () => {
    const boot = await volume('boot');
    const plain = await volume('plain');
    expect((await c.req('POST', `${P}/volumes/${boot}/action`, c.admin, { 'os-set_bootable': { bootable: true } })).status).toBe(
      200,
    );
    const ids = async (q: string, minor: string) => {
      const r = await c.req('GET', `${P}/volumes?${q}`, c.admin, undefined, { 'openstack-api-version': `volume 3.${minor}` });
      return r.status === 200 ? r.body.volumes.map((x: { id: string }) => x.id).sort() : r.status;
    };
    for (const m of ['0', '1']) {
      expect(await ids('bootable=FALSE', m)).toEqual([plain]);
      expect(await ids('bootable=yes', m)).toEqual([boot]);
      expect(await ids('bootable=no', m)).toEqual([boot]); // Cinder before 3.2: bool('no') is True
      expect(await ids('bootable=xyz', m)).toEqual([boot]);
    }
    expect(await ids('bootable=no', '2')).toEqual([plain]);
    expect(await ids('bootable=0', '2')).toEqual([plain]);
    expect(await ids('bootable=T', '2')).toEqual([boot]);
    expect(await ids('bootable=xyz', '2')).toBe(400);
  });
});
