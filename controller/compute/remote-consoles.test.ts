import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';
const MV26 = { 'OpenStack-API-Version': 'compute 2.6', 'X-OpenStack-Nova-API-Version': '2.6' };
const VNC = { remote_console: { protocol: 'vnc', type: 'novnc' } };
let c: ComputeCloud;
let flavor: string;
let image: string;
beforeEach(async () => {
  c = await computeCloud();
  c.host({ name: 'cmp1' });
  flavor = await c.flavor('small');
  image = await c.image('cirros');
});
afterEach(async () => {
  await c.close();
});

async function active(name: string, token = c.admin): Promise<string> {
  const r = await c.req('POST', `${V}/servers`, token, {
    server: { name, imageRef: image, flavorRef: flavor, networks: 'none' },
  });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  await c.settle();
  return r.body.server.id;
}
const rc = (id: string, body: unknown, token = c.admin, headers: Record<string, string> = MV26) =>
  c.req('POST', `${V}/servers/${id}/remote-consoles`, token, body, headers);
const tokenOf = (url: string) => new URLSearchParams(new URL(url).hash.slice(1)).get('token')!;

describe('remote consoles (2.6)', () => {
  it('answers a novnc URL on the public URL with a fresh single-use token bound to the server', async () => {
    const id = await active('vm1');
    const r = await rc(id, VNC);
    expect(r.status).toBe(200);
    expect(r.headers['openstack-api-version']).toBe('compute 2.6');
    expect(Object.keys(r.body.remote_console).sort()).toEqual(['protocol', 'type', 'url']);
    expect(r.body.remote_console).toMatchObject({ protocol: 'vnc', type: 'novnc' });
    expect(r.body.remote_console.url).toMatch(/^http:\/\/cloud\.test:8000\/console\/vnc\.html#token=[A-Za-z0-9_-]{43}$/);
    const again = await rc(id, VNC);
    expect(tokenOf(again.body.remote_console.url)).not.toBe(tokenOf(r.body.remote_console.url));
    expect(c.ctx.consoles!.consume(tokenOf(r.body.remote_console.url))).toMatchObject({
      instanceId: id,
      protocol: 'vnc',
      type: 'novnc',
    });
    expect(c.gw.calls.filter((x) => x.op === 'vnc')).toHaveLength(2);
  });

  it('refuses as Nova does: bad body 400, other protocols/types 400, unknown server 404, below 2.6 404', async () => {
    const id = await active('vm2');
    const noProto = await rc(id, { remote_console: { type: 'novnc' } });
    expect(noProto.status).toBe(400);
    expect(noProto.body.badRequest.message).toContain("'protocol' is a required property");
    expect((await rc(id, { remote_console: { protocol: 'telnet', type: 'novnc' } })).status).toBe(400);
    expect((await rc(id, { remote_console: { protocol: 'vnc', type: 'novnc', extra: 1 } })).status).toBe(400);
    expect((await rc(id, {})).status).toBe(400);
    const spice = await rc(id, { remote_console: { protocol: 'spice', type: 'spice-html5' } });
    expect(spice.status).toBe(400);
    expect(spice.body.badRequest.message).toBe('Unavailable console type spice-html5.');
    const xvp = await rc(id, { remote_console: { protocol: 'vnc', type: 'xvpvnc' } });
    expect(xvp.status).toBe(400);
    expect(xvp.body.badRequest.message).toBe('Invalid console type xvpvnc');
    expect((await rc(id, { remote_console: { protocol: 'vnc', type: 'webmks' } })).status).toBe(400);
    const missing = await rc('00000000-0000-4000-8000-000000000000', VNC);
    expect(missing.status).toBe(404);
    expect(missing.body.itemNotFound).toBeDefined();
    expect((await rc(id, VNC, c.admin, {})).status).toBe(404);
    expect((await rc(id, VNC, c.admin, { 'X-OpenStack-Nova-API-Version': '2.5' })).status).toBe(404);
    expect(c.ctx.consoles!.size).toBe(0);
  });

  it('409 unless ACTIVE or PAUSED; paused works; a display the host does not have is 409', async () => {
    const id = await active('vm3');
    await c.req('POST', `${V}/servers/${id}/action`, c.admin, { 'os-stop': null });
    await c.settle();
    const stopped = await rc(id, VNC);
    expect(stopped.status).toBe(409);
    expect(stopped.body.conflictingRequest.message).toContain(`Instance ${id} is not ready`);
    await c.req('POST', `${V}/servers/${id}/action`, c.admin, { 'os-start': null });
    await c.settle();
    await c.req('POST', `${V}/servers/${id}/action`, c.admin, { pause: null });
    await c.settle();
    expect((await rc(id, VNC)).status).toBe(200);
    c.gw.domains.get(id)!.power = 4; // the host says: shut off
    expect((await rc(id, VNC)).status).toBe(409);
  });

  it('policy: a member of the project may, another project sees 404', async () => {
    const m = await c.member('con1');
    const other = await c.member('con2');
    const id = await active('vm4', m.token);
    expect((await rc(id, VNC, m.token)).status).toBe(200);
    expect((await rc(id, VNC, other.token)).status).toBe(404);
  });
});

describe('os-getVNCConsole action (2.1 to 2.5)', () => {
  const act = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    c.req('POST', `${V}/servers/${id}/action`, c.admin, body, headers);

  it('answers {"console": {"type", "url"}}; xvpvnc 400, bad type 400, stopped 409, gone from 2.6', async () => {
    const id = await active('vm5');
    const r = await act(id, { 'os-getVNCConsole': { type: 'novnc' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      console: { type: 'novnc', url: expect.stringMatching(/^http:\/\/cloud\.test:8000\/console\/vnc\.html#token=/) },
    });
    expect((await act(id, { 'os-getVNCConsole': { type: 'xvpvnc' } })).status).toBe(400);
    expect((await act(id, { 'os-getVNCConsole': { type: 'spice' } })).status).toBe(400);
    expect((await act(id, { 'os-getVNCConsole': {} })).status).toBe(400);
    expect((await act(id, { 'os-getVNCConsole': { type: 'novnc' } }, { 'X-OpenStack-Nova-API-Version': '2.6' })).status).toBe(
      404,
    );
    await act(id, { 'os-stop': null });
    await c.settle();
    expect((await act(id, { 'os-getVNCConsole': { type: 'novnc' } })).status).toBe(409);
  });
});
