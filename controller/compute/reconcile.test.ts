import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcileHost } from './reconcile.js';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';
let c: ComputeCloud;
beforeEach(async () => {
  c = await computeCloud();
});
afterEach(async () => {
  await c.close();
});

describe('power-state reconciliation', () => {
  it('follows what the hypervisor runs and destroys strays after the grace period', async () => {
    const hostId = c.host({ name: 'rc1' });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'v', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const id = r.body.server.id;
    const host = { id: hostId, name: 'rc1' };
    // The guest shut itself down.
    c.gw.domains.get(id)!.power = 4;
    let rep = await reconcileHost(c.ctx, host, await c.gw.listInstances(host));
    expect(rep.updated).toEqual([{ id, vm_state: 'stopped', power_state: 4 }]);
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server.status).toBe('SHUTOFF');
    // It runs again (someone started it by hand).
    c.gw.domains.get(id)!.power = 1;
    rep = await reconcileHost(c.ctx, host, await c.gw.listInstances(host));
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server.status).toBe('ACTIVE');
    // The domain vanished.
    c.gw.domains.delete(id);
    await reconcileHost(c.ctx, host, []);
    expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server).toMatchObject({
      status: 'SHUTOFF',
      'OS-EXT-STS:power_state': 0,
    });
    // A domain that belongs to nobody: kept for the grace period, then destroyed.
    const stray = '0f0e0d0c-0b0a-4908-8706-050403020100';
    c.gw.domains.set(stray, { host: 'rc1', power: 1 });
    rep = await reconcileHost(c.ctx, host, await c.gw.listInstances(host), 60_000);
    expect(rep.unknown).toEqual([stray]);
    expect(c.gw.domains.has(stray)).toBe(true);
    rep = await reconcileHost(c.ctx, host, await c.gw.listInstances(host), 0);
    expect(rep.destroyed).toEqual([stray]);
    expect(c.gw.domains.has(stray)).toBe(false);
  });
});

describe('recovery after a controller restart', () => {
  it('fails interrupted builds (destroying on the host), resumes deletes, clears power tasks', async () => {
    const hostId = c.host({ name: 'rc2' });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const boot = async (n: string) => {
      const r = await c.req('POST', `${V}/servers`, c.admin, {
        server: { name: n, imageRef: image, flavorRef: flavor, networks: 'none' },
      });
      await c.settle();
      return r.body.server.id as string;
    };
    const [a, b, d] = [await boot('a'), await boot('b'), await boot('d')];
    const now = new Date().toISOString();
    // What a crash in the middle would leave behind.
    c.ctx.servers.update(a, { vm_state: 'building', task_state: 'spawning' }, now);
    c.ctx.servers.update(b, { task_state: 'deleting' }, now);
    c.ctx.servers.update(d, { task_state: 'powering-off' }, now);
    const { recoverInterrupted } = await import('./reconcile.js');
    const r = await recoverInterrupted(c.ctx);
    expect(r).toEqual({
      failedBuilds: [a],
      resumedDeletes: [b],
      clearedTasks: [d],
      rolledBackAttaches: [],
      completedAttaches: [],
    });
    const sa = (await c.req('GET', `${V}/servers/${a}`, c.admin)).body.server;
    expect(sa.status).toBe('ERROR');
    expect(sa.fault.message).toContain('the controller restarted during the build');
    expect(c.gw.domains.has(a)).toBe(false);
    expect(c.ctx.placement.allocationOf(a)).toBeNull();
    expect((await c.req('GET', `${V}/servers/${b}`, c.admin)).status).toBe(404);
    expect((await c.req('GET', `${V}/servers/${d}`, c.admin)).body.server['OS-EXT-STS:task_state']).toBeNull();
    expect(hostId).toBeTruthy();
  });
});

describe('recovery of many interrupted builds', () => {
  it('puts them all in ERROR at once and destroys their domains side by side', async () => {
    const hostId = c.host({ name: 'rc3' });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const r = await c.req('POST', `${V}/servers`, c.admin, {
        server: { name: `m${n}`, imageRef: image, flavorRef: flavor, networks: 'none' },
      });
      await c.settle();
      ids.push(r.body.server.id);
    }
    const now = new Date().toISOString();
    for (const id of ids) c.ctx.servers.update(id, { vm_state: 'building', task_state: 'spawning' }, now);
    // Each destroy waits on the host (behind the spawn it supersedes) for 300 ms.
    const destroy = c.gw.destroy.bind(c.gw);
    const statesDuringDestroy: string[] = [];
    c.gw.destroy = async (host, uuid) => {
      statesDuringDestroy.push(c.ctx.servers.get(uuid)!.vm_state);
      await new Promise((r) => setTimeout(r, 300));
      return destroy(host, uuid);
    };
    const { recoverInterrupted } = await import('./reconcile.js');
    const t0 = Date.now();
    const pending = recoverInterrupted(c.ctx);
    await new Promise((r) => setTimeout(r, 50));
    for (const id of ids) expect((await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server.status).toBe('ERROR');
    const r = await pending;
    expect(Date.now() - t0).toBeLessThan(5 * 300);
    expect([...r.failedBuilds].sort()).toEqual([...ids].sort());
    expect(statesDuringDestroy).toEqual(ids.map(() => 'building')); // enqueued before the state changed
    for (const id of ids) expect(c.gw.domains.has(id)).toBe(false);
    expect(hostId).toBeTruthy();
  });
});

describe('strays of instances the controller knows', () => {
  it('destroys at once the domain of an aborted build (ERROR, no host) and an instance directory without a domain; unknown uuids wait', async () => {
    const hostId = c.host({ name: 'rc4' });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const r = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'aborted', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const id = r.body.server.id as string;
    const r2 = await c.req('POST', `${V}/servers`, c.admin, {
      server: { name: 'half', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const half = r2.body.server.id as string;
    // Both builds were aborted while the host was away: ERROR, placed nowhere; the
    // hypervisor still runs the first, and a directory of the second is left.
    const now = new Date().toISOString();
    for (const x of [id, half]) c.ctx.servers.update(x, { vm_state: 'error', task_state: null, host: null, host_id: null }, now);
    c.gw.domains.delete(half);
    const host = { id: hostId, name: 'rc4' };
    const unknown = '0f0e0d0c-0b0a-4908-8706-050403020101';
    c.gw.domains.set(unknown, { host: 'rc4', power: 1 });
    const destroyed: string[] = [];
    const destroy = c.gw.destroy.bind(c.gw);
    c.gw.destroy = async (h, uuid) => {
      destroyed.push(uuid);
      return destroy(h, uuid);
    };
    const rep = await reconcileHost(c.ctx, host, await c.gw.listInstances(host), 60_000, [half]);
    expect([...rep.destroyed].sort()).toEqual([id, half].sort());
    expect(rep.unknown).toEqual([unknown]);
    expect(c.gw.domains.has(id)).toBe(false);
    expect(c.gw.domains.has(unknown)).toBe(true);
    expect([...destroyed].sort()).toEqual([id, half].sort());
  });
});

describe('recovery of an interrupted snapshot or backup', () => {
  it('clears image_snapshot/image_backup and deletes the half-made image (Nova init_host), leaves other images alone', async () => {
    c.host({ name: 'rc5' });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const images = c.app.homestack.deps.facades.images!;
    const boot = async (n: string) => {
      const r = await c.req('POST', `${V}/servers`, c.admin, {
        server: { name: n, imageRef: image, flavorRef: flavor, networks: 'none' },
      });
      await c.settle();
      return r.body.server.id as string;
    };
    const [s, b] = [await boot('s'), await boot('b')];
    // The previous process died while the hosts were uploading: its snapshot calls never answer.
    let cut: (e: Error) => void = () => {};
    const never = new Promise<void>((_, reject) => {
      cut = reject;
    });
    c.gw.onSnapshot = () => never;
    const act = (id: string, body: unknown) => c.req('POST', `${V}/servers/${id}/action`, c.admin, body);
    const r1 = await act(s, { createImage: { name: 'half-snap' } });
    const r2 = await act(b, { createBackup: { name: 'half-bk', backup_type: 'daily', rotation: 2 } });
    expect([r1.status, r2.status]).toEqual([202, 202]);
    const snapId = String(r1.headers.location).split('/').pop()!;
    const bkId = images.withProperties(c.adminProjectId, { image_type: 'backup', instance_uuid: b })[0]!.id;
    const task = async (id: string) => (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['OS-EXT-STS:task_state'];
    expect([await task(s), await task(b)]).toEqual(['image_snapshot', 'image_backup']);
    const { recoverInterrupted } = await import('./reconcile.js');
    const r = await recoverInterrupted(c.ctx);
    expect([...r.clearedTasks].sort()).toEqual([s, b].sort());
    expect([await task(s), await task(b)]).toEqual([null, null]);
    // Nova's delete_image_on_error: an image that never got its data is deleted; the base image stays.
    expect(images.get(null, snapId)).toBeNull();
    expect(images.get(null, bkId)).toBeNull();
    expect(images.get(null, image)?.status).toBe('active');
    // A new backup is accepted.
    c.gw.onSnapshot = null;
    expect((await act(b, { createBackup: { name: 'again', backup_type: 'daily', rotation: 2 } })).status).toBe(202);
    cut(new Error('the previous process is gone'));
    await c.settle();
  });
});
