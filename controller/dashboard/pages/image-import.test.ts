import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, testCloud, type TestCloud } from '../../identity/testing/kit.js';
import { LocalImageFacade } from '../../images/facade.js';
import { hiddenValue, InjectBrowser } from '../testing/session.js';

/**
 * The Images page's "Import from a URL" against the real controller and a real HTTP
 * server: the form without script (a page action), and the script's JSON routes with
 * the progress it polls (bytes from the running import, the task's message, failure).
 */
let cloud: TestCloud;
let b: InjectBrowser;
let csrf = '';
let src: Server;
let port = 0;
let hold: (() => void) | null = null;

beforeAll(async () => {
  src = createServer((req, res) => {
    if (req.url === '/disk.raw') return res.writeHead(200, { 'content-length': 2 << 20 }).end(Buffer.alloc(2 << 20, 3));
    if (req.url === '/slow.raw') {
      res.writeHead(200, { 'content-length': 4 << 20 });
      res.write(Buffer.alloc(1 << 20, 4));
      hold = () => res.end(Buffer.alloc(3 << 20, 4));
      return;
    }
    res.writeHead(404, 'Not Found').end();
  });
  await new Promise<void>((r) => src.listen(0, '127.0.0.1', r));
  port = (src.address() as AddressInfo).port;
  cloud = await testCloud({
    image_import: { allow_local_addresses: true, allowed_ports: [] },
    images: { qemu_img_check: false },
  });
  b = new InjectBrowser(cloud.app);
  expect((await b.signIn('admin', ADMIN_PASSWORD)).statusCode).toBe(303);
  csrf = hiddenValue((await b.go('GET', '/dashboard/project/images')).body, '_csrf');
}, 60_000);
afterAll(async () => {
  hold?.();
  await cloud?.close();
  src?.closeAllConnections();
  src?.close();
});

const settle = () => {
  const f = cloud.app.homestack.deps.facades.images;
  return f instanceof LocalImageFacade ? f.core.importer.runner.idle() : Promise.resolve();
};
const json = { 'content-type': 'application/json' };

describe('Images page: import from a URL', () => {
  it('offers the form, and imports without script through the page action', async () => {
    const page = await b.go('GET', '/dashboard/project/images');
    expect(page.body).toContain('id="image-import"');
    expect(page.body).toContain('id="import-progress"');
    const r = await b.go('POST', '/dashboard/project/images', {
      _csrf: csrf,
      _action: 'import',
      uri: `http://127.0.0.1:${port}/disk.raw`,
      name: '',
      disk_format: 'raw',
      visibility: 'private',
    });
    expect(r.statusCode).toBe(303);
    await settle();
    const imgs = (await cloud.req('GET', '/image/v2/images?name=disk.raw', cloud.adminToken)).body as any;
    expect(imgs.images).toEqual([expect.objectContaining({ status: 'active', size: 2 << 20 })]);
  });

  it('shows the progress of a running import to the script, then the failure of a bad one on the page', async () => {
    const created = await b.go(
      'POST',
      '/dashboard/api/images',
      undefined,
      { ...json, 'x-csrf-token': csrf },
      JSON.stringify({ name: 'tdash-slow', disk_format: 'raw' }),
    );
    const id = created.json().id as string;
    const noCsrf = await b.go('POST', `/dashboard/api/images/${id}/import`, undefined, json, JSON.stringify({ uri: 'x' }));
    expect(noCsrf.statusCode).toBe(403);
    const started = await b.go(
      'POST',
      `/dashboard/api/images/${id}/import`,
      undefined,
      { ...json, 'x-csrf-token': csrf },
      JSON.stringify({ uri: `http://127.0.0.1:${port}/slow.raw` }),
    );
    expect(started.statusCode).toBe(202);
    let p: any = null;
    for (let i = 0; i < 200; i++) {
      p = (await b.go('GET', `/dashboard/api/images/${id}/import`)).json();
      if (p.bytes >= 1 << 20) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(p).toMatchObject({ status: 'importing', bytes: 1 << 20, total: 4 << 20, task_status: 'processing' });
    expect((await b.go('GET', '/dashboard/project/images')).body).toMatch(/data-import-id="[^"]+">importing<\/span>/);
    hold!();
    await settle();
    expect((await b.go('GET', `/dashboard/api/images/${id}/import`)).json()).toMatchObject({
      status: 'active',
      task_status: 'success',
    });

    // A refused URL: the JSON route answers Glance's 400; an import that fails shows why.
    const bad = await b.go(
      'POST',
      '/dashboard/api/images',
      undefined,
      { ...json, 'x-csrf-token': csrf },
      JSON.stringify({ name: 'tdash-missing', disk_format: 'raw' }),
    );
    const bid = bad.json().id as string;
    const refused = await b.go(
      'POST',
      `/dashboard/api/images/${bid}/import`,
      undefined,
      { ...json, 'x-csrf-token': csrf },
      JSON.stringify({ uri: 'file:///etc/shadow' }),
    );
    expect(refused.statusCode).toBe(400);
    expect(refused.json().message).toMatch(/does not pass filtering/);
    await b.go(
      'POST',
      `/dashboard/api/images/${bid}/import`,
      undefined,
      { ...json, 'x-csrf-token': csrf },
      JSON.stringify({ uri: `http://127.0.0.1:${port}/gone.raw` }),
    );
    await settle();
    expect((await b.go('GET', `/dashboard/api/images/${bid}/import`)).json()).toMatchObject({
      status: 'queued',
      task_status: 'failure',
      message: expect.stringMatching(/HTTP 404/),
    });
    expect((await b.go('GET', '/dashboard/project/images')).body).toMatch(/import failed: .*HTTP 404 Not Found/);
  });
});
