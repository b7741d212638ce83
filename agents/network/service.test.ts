import { describe, expect, it } from 'vitest';
import { emptyState, type NetworkDriver } from './driver.js';
import { NetworkService } from './service.js';

/** A driver that counts syncs; flowsLost / downPortsAppeared answer what the test says. */
function fakeDriver(o: { lost?: () => boolean; appeared?: () => boolean }) {
  const syncs: string[] = [];
  const converge = async () => {
    syncs.push('sync');
    return {
      networks: [],
      ports: [],
      tunnels: { active: [], added: [], removed: [] },
      flows: { added: 0, deleted: 0 },
      errors: [],
    };
  };
  const d = {
    syncs,
    lastDesired: () => emptyState(),
    sync: converge,
    resync: converge,
    close: async () => undefined,
    ...(o.lost ? { flowsLost: async () => o.lost!() } : {}),
    ...(o.appeared ? { downPortsAppeared: async () => o.appeared!() } : {}),
  };
  return d as unknown as NetworkDriver & { syncs: string[] };
}
const logs = () => {
  const l: string[] = [];
  return { l, log: { info: (x: object, m?: string) => l.push(`${m}`), warn: () => undefined, error: () => undefined } };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NetworkService: local resync triggers', () => {
  it('re-applies the last desired state within a check interval when the switch lost its flows (ovs-vswitchd restart)', async () => {
    let lost = false;
    const d = fakeDriver({ lost: () => lost });
    const { log } = logs();
    const svc = new NetworkService(d, log, { resyncMs: 0, pendingMs: 20, datapath: 'netdev', tunnelIp: '' });
    svc.start();
    await sleep(100);
    const before = d.syncs.length; // the start sync only
    expect(before).toBe(1);
    lost = true;
    await sleep(60);
    lost = false; // the resync put them back
    await sleep(100);
    expect(d.syncs.length).toBeGreaterThan(before);
    const after = d.syncs.length;
    await sleep(100);
    expect(d.syncs.length).toBe(after); // nothing lost, nothing re-applied
    await svc.close();
  });

  it('still resyncs when a DOWN port appears, and not at all when nothing is pending', async () => {
    let appeared = false;
    const d = fakeDriver({ lost: () => false, appeared: () => appeared });
    const { log } = logs();
    const svc = new NetworkService(d, log, { resyncMs: 0, pendingMs: 20, datapath: 'netdev', tunnelIp: '' });
    svc.start();
    await sleep(120);
    expect(d.syncs.length).toBe(1);
    appeared = true;
    await sleep(60);
    expect(d.syncs.length).toBeGreaterThan(1);
    await svc.close();
  });
});
