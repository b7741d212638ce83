import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, testCloud, type TestCloud } from '../../identity/testing/kit.js';
import { hiddenValue, InjectBrowser } from '../testing/session.js';

/**
 * The compute-side pages through the whole framework (sign-in, CSRF, routing) against
 * the real controller with no hosts: servers are scheduled to nowhere and end in ERROR,
 * which is enough to see them listed, escaped and acted on.
 */
const XSS = '<img src=x onerror=alert(1)>';
let cloud: TestCloud;
let b: InjectBrowser;
let csrf = '';

beforeAll(async () => {
  cloud = await testCloud();
  b = new InjectBrowser(cloud.app);
  expect((await b.signIn('admin', ADMIN_PASSWORD)).statusCode).toBe(303);
  csrf = hiddenValue((await b.go('GET', '/dashboard/project/overview')).body, '_csrf');
}, 60_000);
afterAll(async () => cloud?.close());

describe('compute pages', () => {
  it('overview draws the quota charts as SVG', async () => {
    const r = await b.go('GET', '/dashboard/project/overview');
    expect(r.statusCode).toBe(200);
    for (const c of ['Instances', 'vCPUs', 'RAM', 'Volumes', 'Floating IPs']) expect(r.body).toContain(`data-chart="${c}"`);
    expect(r.body).toContain('<svg');
  });

  it('imports a key pair, then lists and deletes it', async () => {
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDz5sbWq4QfIR6gB2+9kQa2iYFqRhvcJbGdRQ7mHnYUo test@homestack';
    const r = await b.go('POST', '/dashboard/project/key-pairs', {
      _csrf: csrf,
      _action: 'import',
      name: 'tdash-key',
      public_key: pub,
    });
    expect(r.statusCode).toBe(303);
    const page = await b.go('GET', '/dashboard/project/key-pairs');
    expect(page.body).toContain('tdash-key');
    expect(page.body).toContain('imported');
    await b.go('POST', '/dashboard/project/key-pairs', { _csrf: csrf, _action: 'delete', name: 'tdash-key' });
    expect((await b.go('GET', '/dashboard/project/key-pairs')).body).not.toContain('<td>tdash-key</td>');
  });

  it('uploads an image through the streaming route (CSRF header required) and lists it', async () => {
    const created = await b.go(
      'POST',
      '/dashboard/api/images',
      undefined,
      { 'content-type': 'application/json', 'x-csrf-token': csrf },
      JSON.stringify({ name: 'tdash-img', disk_format: 'raw' }),
    );
    expect(created.statusCode).toBe(201);
    const iid = created.json().id as string;
    const data = Buffer.alloc(1 << 20, 7);
    const noCsrf = await b.go(
      'PUT',
      `/dashboard/api/images/${iid}/file`,
      undefined,
      { 'content-type': 'application/octet-stream' },
      data,
    );
    expect(noCsrf.statusCode).toBe(403);
    const up = await b.go(
      'PUT',
      `/dashboard/api/images/${iid}/file`,
      undefined,
      { 'content-type': 'application/octet-stream', 'x-csrf-token': csrf },
      data,
    );
    expect(up.statusCode, up.body).toBe(201);
    const img = await cloud.req('GET', `/image/v2/images/${iid}`, cloud.adminToken);
    expect((img.body as any).status).toBe('active');
    expect((img.body as any).size).toBe(1 << 20);
    const page = await b.go('GET', '/dashboard/project/images');
    expect(page.body).toContain('tdash-img');
    expect(page.body).toContain('id="upload-progress"');
  });

  it('launches an instance whose hostile name renders escaped, shows its detail and deletes it', async () => {
    const flavors = (await cloud.req('GET', '/compute/v2.1/flavors', cloud.adminToken)).body as any;
    let flavorId = flavors.flavors[0]?.id as string | undefined;
    if (!flavorId) {
      const f = await cloud.req('POST', '/compute/v2.1/flavors', cloud.adminToken, {
        flavor: { name: 'tdash-tiny', vcpus: 1, ram: 64, disk: 1 },
      });
      flavorId = (f.body as any).flavor.id;
    }
    const images = (await cloud.req('GET', '/image/v2/images?name=tdash-img', cloud.adminToken)).body as any;
    const launch = await b.go('POST', '/dashboard/project/instances', {
      _csrf: csrf,
      _action: 'launch',
      name: XSS,
      image: images.images[0].id,
      flavor: flavorId!,
      count: '1',
    });
    expect(launch.statusCode).toBe(303);
    const page = await b.go('GET', '/dashboard/project/instances');
    expect(page.body).not.toContain(XSS);
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const sid = page.body.match(/data-server-id="([^"]+)"/)![1]!;
    const detail = await b.go('GET', `/dashboard/project/instances/${sid}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.body).toContain('Action log');
    expect(detail.body).toContain('create');
    expect(detail.body).not.toContain(XSS);
    const live = await b.go('GET', '/dashboard/api/servers');
    expect(live.json().servers.map((s: { id: string }) => s.id)).toContain(sid);
    expect((await b.go('POST', '/dashboard/project/instances', { _csrf: csrf, _action: 'delete', id: sid })).statusCode).toBe(
      303,
    );
  });

  it('an unknown instance id is a 404 page, a path-like one too', async () => {
    expect((await b.go('GET', '/dashboard/project/instances/00000000-0000-0000-0000-000000000000')).statusCode).toBe(404);
    expect((await b.go('GET', '/dashboard/project/instances/..%2F..%2Fetc')).statusCode).toBe(404);
  });
});
