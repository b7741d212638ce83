import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { injectApi } from '../dashboard/testing/inject-api.js';
import { ApiError } from '../dashboard/page.js';
import { computeCloud, type ComputeCloud } from '../compute/testing/kit.js';
import { createConsole } from './index.js';

let c: ComputeCloud;
beforeEach(async () => {
  c = await computeCloud();
  c.host({ name: 'cmp1' });
});
afterEach(async () => {
  await c.close();
});

describe('createConsole (the dashboard helper)', () => {
  it('returns the API URL and a same-origin path with a token for this server', async () => {
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const m = await c.member('dash');
    const r = await c.req('POST', '/compute/v2.1/servers', m.token, {
      server: { name: 'vm', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const id = r.body.server.id;
    const link = await createConsole(injectApi(c.app, m.token), id);
    expect(link.url).toMatch(/^http:\/\/cloud\.test:8000\/console\/vnc\.html#token=[A-Za-z0-9_-]{43}$/);
    expect(link.path).toBe(link.url.slice('http://cloud.test:8000'.length));
    const token = new URLSearchParams(new URL(link.url).hash.slice(1)).get('token')!;
    expect(c.ctx.consoles!.consume(token, { instanceId: id }).instanceId).toBe(id);
    const other = await c.member('dash2');
    await expect(createConsole(injectApi(c.app, other.token), id)).rejects.toMatchObject({ status: 404 });
    await c.req('POST', `/compute/v2.1/servers/${id}/action`, m.token, { 'os-stop': null });
    await c.settle();
    const e = await createConsole(injectApi(c.app, m.token), id).catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(409);
  });
});
