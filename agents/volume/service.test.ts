import { describe, expect, it } from 'vitest';
import { FakeBackend, FakeTarget } from './fake.js';
import { VolumeService } from './service.js';

describe('VolumeService.healExports: tgtd restarted under a running agent', () => {
  it('re-exports every stored volume the target forgot and re-applies the connections let in; nothing to do when nothing is missing', async () => {
    const backend = new FakeBackend();
    const target = new FakeTarget();
    const svc = new VolumeService(backend, target, { workDir: '/nonexistent' });
    await backend.create({ id: 'v1', sizeGb: 1 });
    await backend.create({ id: 'v2', sizeGb: 1 });
    await svc.restoreExports();
    await svc.initializeConnection('v1', { initiator: 'iqn.x:a' }, { username: 'hs-a1', password: 'p'.repeat(16) });
    await svc.initializeConnection('v2', { initiator: 'iqn.x:b' }, { username: 'hs-b1', password: 'q'.repeat(16) });
    await svc.terminateConnection('v2', { initiator: 'iqn.x:b' }, { username: 'hs-b1', password: 'q'.repeat(16) });
    expect(await svc.healExports()).toBe(0);

    target.exports.clear(); // tgtd restarted: it keeps nothing
    expect(await svc.healExports()).toBe(2);
    const list = await target.list();
    expect(list.map((e) => e.volumeId).sort()).toEqual(['v1', 'v2']);
    expect(list.find((e) => e.volumeId === 'v1')!.users).toEqual(['hs-a1']);
    expect(list.find((e) => e.volumeId === 'v2')!.users).toEqual([]); // terminated: not re-applied
    expect(await svc.healExports()).toBe(0);
  });
});
