import { describe, expect, it } from 'vitest';
import { checkSafe, FAKE_CSRF, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { volumeSnapshotsPage } from './volume-snapshots.js';
import { volumesPage } from './volumes.js';

const vols = [
  { id: 'v1', name: XSS, size: 1, status: 'available', volume_type: 'lvm', bootable: 'false', attachments: [] },
  {
    id: 'v2',
    name: 'data',
    size: 2,
    status: 'in-use',
    volume_type: 'lvm',
    bootable: 'true',
    attachments: [{ server_id: 'vm1', device: '/dev/vdb' }],
  },
  { id: 'v3', name: '', size: 1, status: 'creating', volume_type: null, bootable: 'false', attachments: [] },
];
const api = () =>
  new FakeCloudApi()
    .on('GET', 'volume', '/v3/p1/volumes/detail', { volumes: vols })
    .on('GET', 'volume', '/v3/p1/types', { volume_types: [{ id: 't1', name: 'lvm' }] })
    .on('GET', 'volume', '/v3/p1/snapshots/detail', {
      snapshots: [
        {
          id: 'sn1',
          name: XSS,
          description: null,
          volume_id: 'v2',
          size: 2,
          status: 'available',
          created_at: '2026-11-22T10:00:00.000000',
        },
      ],
    })
    .on('GET', 'image', '/v2/images', {
      images: [
        { id: 'img1', name: `cirros${XSS}`, status: 'active' },
        { id: 'img2', name: 'q', status: 'queued' },
      ],
    })
    .on('GET', 'compute', '/v2.1/servers/detail', {
      servers: [
        { id: 'vm1', name: `web${XSS}`, status: 'ACTIVE' },
        { id: 'vm2', name: 'broken', status: 'ERROR' },
      ],
    });

describe('volumes page', () => {
  it('lists volumes escaped with attachments and per-state actions', async () => {
    const s = checkSafe(await volumesPage.render(fakeContext(api())));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain(`web${XSS_ESCAPED}</a> on /dev/vdb`);
    expect(s.match(/value="attach"/g)).toHaveLength(1); // only the available one
    expect(s).toContain('<option value="vm1">');
    expect(s).not.toContain('<option value="vm2">'); // ERROR instances are not offered
    expect(s.match(/value="detach"/g)).toHaveLength(1);
    expect(s).toContain('name="new_size" min="2" value="2"');
    expect(s.match(/value="delete"/g)).toHaveLength(1);
    expect(s).toContain('<option value="img1">');
    expect(s).not.toContain('<option value="img2">');
    expect(s).toContain(`name="_csrf" value="${FAKE_CSRF}"`);
  });

  it('creates an empty volume and one from an image with a type', async () => {
    const a = api();
    await volumesPage.actions!.create!(fakeContext(a), { name: 'd', size: '3', volume_type: '', image_id: '' });
    await volumesPage.actions!.create!(fakeContext(a), {
      name: 'boot',
      size: '2',
      volume_type: 'lvm',
      image_id: 'img1',
      description: 'x',
    });
    expect(a.writes()).toEqual([
      { method: 'POST', service: 'volume', path: '/v3/p1/volumes', body: { volume: { size: 3, name: 'd' } } },
      {
        method: 'POST',
        service: 'volume',
        path: '/v3/p1/volumes',
        body: { volume: { size: 2, name: 'boot', volume_type: 'lvm', imageRef: 'img1', description: 'x' } },
      },
    ]);
  });

  it('refuses a size that is not a whole number of at least 1 GB', async () => {
    const a = api();
    await expect(volumesPage.actions!.create!(fakeContext(a), { name: 'd', size: '1.5' })).rejects.toThrow(
      'Size (GB) must be a whole number.',
    );
    await expect(volumesPage.actions!.create!(fakeContext(a), { name: 'd', size: '0' })).rejects.toThrow(
      'Size (GB) must be at least 1.',
    );
    expect(a.writes()).toEqual([]);
  });

  it('attaches through Nova, detaches, extends and deletes', async () => {
    const a = api();
    const ctx = fakeContext(a);
    await volumesPage.actions!.attach!(ctx, { id: 'v1', server_id: 'vm1' });
    await volumesPage.actions!.detach!(ctx, { id: 'v2', server_id: 'vm1' });
    await volumesPage.actions!.extend!(ctx, { id: 'v1', new_size: '4' });
    const r = await volumesPage.actions!.delete!(ctx, { id: 'v1' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'compute',
        path: '/v2.1/servers/vm1/os-volume_attachments',
        body: { volumeAttachment: { volumeId: 'v1' } },
      },
      { method: 'DELETE', service: 'compute', path: '/v2.1/servers/vm1/os-volume_attachments/v2' },
      { method: 'POST', service: 'volume', path: '/v3/p1/volumes/v1/action', body: { 'os-extend': { new_size: 4 } } },
      { method: 'DELETE', service: 'volume', path: '/v3/p1/volumes/v1' },
    ]);
    expect(r.redirect).toBe('/dashboard/project/volumes');
  });
});

describe('volume snapshots page', () => {
  it('lists snapshots escaped with their volume, offers usable volumes', async () => {
    const s = checkSafe(await volumeSnapshotsPage.render(fakeContext(api())));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('<td>data</td>');
    expect(s).toContain('<option value="v1">');
    expect(s).toContain('<option value="v2">');
    expect(s).not.toContain('<option value="v3">'); // still creating
    expect(s.match(/value="delete"/g)).toHaveLength(1);
  });

  it('creates (forced for an in-use volume) and deletes snapshots', async () => {
    const a = api();
    await volumeSnapshotsPage.actions!.create!(fakeContext(a), { volume_id: 'v2', name: 'snap', force: 'on' });
    await volumeSnapshotsPage.actions!.delete!(fakeContext(a), { id: 'sn1' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'volume',
        path: '/v3/p1/snapshots',
        body: { snapshot: { volume_id: 'v2', name: 'snap', force: true } },
      },
      { method: 'DELETE', service: 'volume', path: '/v3/p1/snapshots/sn1' },
    ]);
  });
});
