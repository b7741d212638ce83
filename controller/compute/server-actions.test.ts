import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';
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

async function active(name: string, token = c.admin, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await c.req('POST', `${V}/servers`, token, {
    server: { name, imageRef: image, flavorRef: flavor, networks: 'none', ...extra },
  });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  await c.settle();
  return r.body.server.id;
}
const show = async (id: string, token = c.admin) => (await c.req('GET', `${V}/servers/${id}`, token)).body.server;
const act = (id: string, body: unknown, token = c.admin, headers: Record<string, string> = {}) =>
  c.req('POST', `${V}/servers/${id}/action`, token, body, headers);

describe('power actions', () => {
  it('stop → SHUTOFF, start → ACTIVE, and a wrong state is a 409 naming the vm_state', async () => {
    const id = await active('p1');
    const again = await act(id, { 'os-start': null });
    expect(again.status).toBe(409);
    expect(again.body.conflictingRequest.message).toBe(`Cannot 'start' instance ${id} while it is in vm_state active`);
    expect((await act(id, { 'os-stop': null })).status).toBe(202);
    expect((await show(id))['OS-EXT-STS:task_state']).toBe('powering-off');
    await c.settle();
    expect(await show(id)).toMatchObject({ status: 'SHUTOFF', 'OS-EXT-STS:power_state': 4 });
    expect((await act(id, { 'os-start': null })).status).toBe(202);
    await c.settle();
    expect(await show(id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:power_state': 1 });
  });

  it('shows REBOOT / HARD_REBOOT before the 202 returns, then ACTIVE', async () => {
    const id = await active('r1');
    c.gw.hold();
    expect((await act(id, { reboot: { type: 'SOFT' } })).status).toBe(202);
    expect((await show(id)).status).toBe('REBOOT');
    c.gw.release();
    await c.settle();
    expect((await show(id)).status).toBe('ACTIVE');
    expect((await act(id, { reboot: { type: 'HARD' } })).status).toBe(202);
    expect((await show(id)).status).toBe('HARD_REBOOT');
    await c.settle();
    expect((await show(id)).status).toBe('ACTIVE');
    expect((await act(id, { reboot: { type: 'sideways' } })).status).toBe(400);
  });

  it('pause/unpause and suspend/resume', async () => {
    const id = await active('s1');
    await act(id, { pause: null });
    await c.settle();
    expect(await show(id)).toMatchObject({ status: 'PAUSED', 'OS-EXT-STS:power_state': 3 });
    expect((await act(id, { pause: null })).status).toBe(409);
    await act(id, { unpause: null });
    await c.settle();
    expect((await show(id)).status).toBe('ACTIVE');
    await act(id, { suspend: null });
    await c.settle();
    expect((await show(id)).status).toBe('SUSPENDED');
    await act(id, { resume: null });
    await c.settle();
    expect((await show(id)).status).toBe('ACTIVE');
  });

  it('a failed host operation clears the task and records the error event', async () => {
    const id = await active('f1');
    c.gw.failPower = new Set(['stop']);
    await act(id, { 'os-stop': null });
    await c.settle();
    expect(await show(id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': null });
    const acts = (await c.req('GET', `${V}/servers/${id}/os-instance-actions`, c.admin)).body.instanceActions;
    expect(acts[0]).toMatchObject({ action: 'stop', message: 'Error' });
  });
});

describe('other actions', () => {
  it('console output gives the last N lines; length may be a string', async () => {
    const id = await active('c1');
    const all = await act(id, { 'os-getConsoleOutput': {} });
    expect(all.status).toBe(200);
    expect(all.body.output).toBe(c.gw.console);
    const five = await act(id, { 'os-getConsoleOutput': { length: 5 } });
    expect(five.body.output.split('\n')).toEqual(['line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
    expect((await act(id, { 'os-getConsoleOutput': { length: '2' } })).body.output).toBe('line 6\nline 7');
    expect((await act(id, { 'os-getConsoleOutput': { length: 'x' } })).status).toBe(400);
  });

  it('createImage: the queued image exists at the 202; Location at 2.1', async () => {
    const id = await active('snap');
    const r = await act(id, { createImage: { name: 'snap1' } });
    expect(r.status).toBe(202);
    const loc = String(r.headers.location);
    expect(loc).toMatch(/^http:\/\/cloud\.test:8000\/image\/v2\/images\/[0-9a-f-]{36}$/);
    const imageId = loc.split('/').pop()!;
    const img = c.app.homestack.deps.facades.images!.get(null, imageId)!;
    expect(img).toMatchObject({ name: 'snap1', owner: c.adminProjectId });
    expect(img.properties).toMatchObject({ image_type: 'snapshot', instance_uuid: id, base_image_ref: image });
    expect((await show(id))['OS-EXT-STS:task_state']).toBe('image_snapshot');
    await c.settle();
    expect((await show(id))['OS-EXT-STS:task_state']).toBeNull();
    expect(c.gw.calls.some((x) => x.op === 'snapshot' && x.uuid === id)).toBe(true);
    // The fake host uploaded nothing: the image must not stay queued for ever.
    expect(c.app.homestack.deps.facades.images!.get(null, imageId)!.status).toBe('killed');
    // With data uploaded it becomes active, and 2.45 answers the id in the body.
    const { Readable } = await import('node:stream');
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/hs-snap-');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', `${dir}/d.qcow2`, '1M']);
    const qcow2 = readFileSync(`${dir}/d.qcow2`);
    rmSync(dir, { recursive: true, force: true });
    c.gw.onSnapshot = async (img) => {
      await c.app.homestack.deps.facades.images!.upload(img, Readable.from([qcow2]));
    };
    const r2 = await c.req('POST', `${V}/servers/${id}/action`, c.admin, { createImage: { name: 'snap2' } });
    expect(r2.status).toBe(202);
    const id2 = String(r2.headers.location).split('/').pop()!;
    await c.settle();
    const img2 = c.app.homestack.deps.facades.images!.get(null, id2)!;
    expect(img2.status).toBe('active');
  });

  it('createBackup: a backup image of its type, the newest `rotation` of that type kept (Nova rotation); rotation is required and not negative', async () => {
    const id = await active('bk');
    const { Readable } = await import('node:stream');
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/hs-bk-');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', `${dir}/d.qcow2`, '1M']);
    const qcow2 = readFileSync(`${dir}/d.qcow2`);
    rmSync(dir, { recursive: true, force: true });
    const images = c.app.homestack.deps.facades.images!;
    c.gw.onSnapshot = async (img) => {
      await images.upload(img, Readable.from([qcow2]));
    };
    const made: string[] = [];
    for (const n of [1, 2, 3]) {
      const r = await act(id, { createBackup: { name: `bk${n}`, backup_type: 'daily', rotation: 2 } });
      expect(r.status).toBe(202);
      made.push(String(r.headers.location).split('/').pop()!);
      expect((await show(id))['OS-EXT-STS:task_state']).toBe('image_backup');
      await c.settle();
    }
    // A weekly backup is rotated apart from the daily ones.
    expect((await act(id, { createBackup: { name: 'w1', backup_type: 'weekly', rotation: '1' } })).status).toBe(202);
    await c.settle();
    expect(images.get(null, made[0]!)).toBeNull();
    for (const m of made.slice(1)) expect(images.get(null, m)).toMatchObject({ status: 'active' });
    expect(images.get(null, made[2]!)!.properties).toMatchObject({
      image_type: 'backup',
      backup_type: 'daily',
      instance_uuid: id,
    });
    const weekly = images.withProperties(c.adminProjectId, { backup_type: 'weekly', instance_uuid: id });
    expect(weekly.map((x) => x.name)).toEqual(['w1']);
    const bad = await act(id, { createBackup: { name: 'x', backup_type: 'daily', rotation: -1 } });
    expect(bad.status).toBe(400);
    expect((await act(id, { createBackup: { name: 'x', backup_type: 'daily' } })).status).toBe(400);
  });

  it('lock refuses changes to a member; resetState is admin-only', async () => {
    const m = await c.member('locky');
    await c.req('PUT', `${V}/os-quota-sets/${m.projectId}`, c.admin, { quota_set: { instances: 5 } });
    const id = await active('l1', m.token);
    expect((await act(id, { lock: null }, m.token)).status).toBe(202);
    const stop = await act(id, { 'os-stop': null }, m.token);
    expect(stop.status).toBe(409);
    expect(stop.body.conflictingRequest.message).toBe(`Instance ${id} is locked`);
    expect((await c.req('DELETE', `${V}/servers/${id}`, m.token)).status).toBe(409);
    expect((await act(id, { unlock: null }, m.token)).status).toBe(202);
    expect((await act(id, { 'os-resetState': { state: 'error' } }, m.token)).status).toBe(403);
    expect((await act(id, { 'os-resetState': { state: 'error' } })).status).toBe(202);
    expect((await show(id)).status).toBe('ERROR');
  });

  it('rebuild puts REBUILD, replaces the root disk on the same host and answers the server', async () => {
    const id = await active('rb');
    const img2 = await c.image('other');
    const r = await act(id, { rebuild: { imageRef: img2 } });
    expect(r.status).toBe(202);
    expect(r.body.server).toMatchObject({ id, status: 'REBUILD', image: { id: img2 } });
    await c.settle();
    expect(await show(id)).toMatchObject({ status: 'ACTIVE', image: { id: img2 } });
    expect(c.gw.domains.get(id)!.spec!.image!.id).toBe(img2);
  });

  it('an unknown action is a 400', async () => {
    const id = await active('u1');
    expect((await act(id, { dance: null })).body.badRequest.message).toBe('There is no such action: dance');
  });
});

describe('delete', () => {
  it('answers 204, then 404; Nova-made ports are deleted, passed-in ports only unbound', async () => {
    const net = await c.network('n1', '10.6.0.0/24');
    const port = (await c.req('POST', '/network/v2.0/ports', c.admin, { port: { network_id: net, name: 'mine' } })).body.port;
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'd1', imageRef: image, flavorRef: flavor, networks: [{ uuid: net }, { port: port.id }] },
    });
    await c.settle();
    const id = r.body.server.id;
    expect(Object.values((await show(id)).addresses).flat()).toHaveLength(2);
    expect((await c.req('DELETE', `${V}/servers/${id}`, c.admin)).status).toBe(204);
    await c.settle();
    const gone = await c.req('GET', `${V}/servers/${id}`, c.admin);
    expect(gone.status).toBe(404);
    expect(gone.body.itemNotFound.message).toBe(`Instance ${id} could not be found.`);
    expect(c.gw.domains.has(id)).toBe(false);
    expect(c.ctx.placement.allocationOf(id)).toBeNull();
    const ports = (await c.req('GET', `/network/v2.0/ports?network_id=${net}`, c.admin)).body.ports.filter(
      (p: any) => !p.device_owner.startsWith('network:'),
    );
    expect(ports.map((p: any) => [p.id, p.device_id, p['binding:host_id']])).toEqual([[port.id, '', '']]);
  });

  it('a delete during the build lets the build clean up', async () => {
    c.gw.hold();
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'racer', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    const id = r.body.server.id;
    await new Promise((res) => setTimeout(res, 20));
    expect((await c.req('DELETE', `${V}/servers/${id}`, c.admin)).status).toBe(204);
    c.gw.release();
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).status).toBe(404);
    expect(c.gw.domains.has(id)).toBe(false);
    expect(c.ctx.placement.allocationOf(id)).toBeNull();
  });

  it("members see and touch only their project's servers (404, never 403)", async () => {
    const id = await active('admins');
    const m = await c.member('nosy');
    expect((await c.req('GET', `${V}/servers/${id}`, m.token)).status).toBe(404);
    expect((await c.req('DELETE', `${V}/servers/${id}`, m.token)).status).toBe(404);
    expect((await c.req('GET', `${V}/servers/detail`, m.token)).body.servers).toEqual([]);
    expect((await c.req('GET', `${V}/servers/detail?all_tenants=1`, m.token)).status).toBe(403);
    const mine = await show(id);
    expect(mine['OS-EXT-SRV-ATTR:host']).toBe('cmp1');
  });
});

describe('server metadata and update', () => {
  it('sets, merges, replaces and deletes metadata; renames with PUT', async () => {
    const id = await active('meta', c.admin, { metadata: { a: '1' } });
    expect((await c.req('POST', `${V}/servers/${id}/metadata`, c.admin, { metadata: { b: '2' } })).body.metadata).toEqual({
      a: '1',
      b: '2',
    });
    expect((await c.req('PUT', `${V}/servers/${id}/metadata/c`, c.admin, { meta: { c: '3' } })).body.meta).toEqual({ c: '3' });
    expect((await c.req('GET', `${V}/servers/${id}/metadata/c`, c.admin)).body.meta).toEqual({ c: '3' });
    expect((await c.req('DELETE', `${V}/servers/${id}/metadata/a`, c.admin)).status).toBe(204);
    expect((await c.req('GET', `${V}/servers/${id}/metadata`, c.admin)).body.metadata).toEqual({ b: '2', c: '3' });
    expect((await c.req('PUT', `${V}/servers/${id}/metadata`, c.admin, { metadata: { z: '9' } })).body.metadata).toEqual({
      z: '9',
    });
    expect((await c.req('PUT', `${V}/servers/${id}/metadata/q`, c.admin, { meta: { other: '1' } })).status).toBe(400);
    const renamed = await c.req('PUT', `${V}/servers/${id}`, c.admin, { server: { name: 'meta2' } });
    expect(renamed.body.server).toMatchObject({ name: 'meta2', metadata: { z: '9' } });
    expect((await c.req('PUT', `${V}/servers/${id}`, c.admin, { server: { flavorRef: 'x' } })).status).toBe(400);
  });
});
