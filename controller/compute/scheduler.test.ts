import { describe, expect, it } from 'vitest';
import { Placement } from './placement.repo.js';
import { HostStateCache, Scheduler, selectHost, type HostState, type RequestSpec } from './scheduler.js';
import { addHost, testDb } from './testing/fixtures.js';

const ratios = { cpu: 4, ram: 1, disk: 1 };
const host = (name: string, o: Partial<HostState> = {}): HostState => ({
  id: name,
  name,
  up: true,
  enabled: true,
  roles: ['compute'],
  az: 'nova',
  arch: 'x86_64',
  hypervisorType: 'QEMU',
  capacity: { vcpus: 16, memory_mb: 8192, disk_gb: 100 },
  used: { vcpus: 0, memory_mb: 0, disk_gb: 0, instances: 0 },
  ...o,
});
const spec = (o: Partial<RequestSpec> = {}): RequestSpec => ({
  instanceId: 'i',
  resources: { vcpus: 1, memory_mb: 512, disk_gb: 1 },
  ...o,
});
const pick = (hs: HostState[], s: RequestSpec, w: 'spread' | 'pack' = 'spread') => {
  const r = selectHost(hs, s, w);
  return r.ok ? r.host.name : null;
};

describe('scheduler filters', () => {
  it('drops hosts that are down, disabled or not compute', () => {
    const hs = [host('a', { up: false }), host('b', { enabled: false }), host('c', { roles: ['network'] }), host('d')];
    expect(pick(hs, spec())).toBe('d');
    const r = selectHost(hs.slice(0, 3), spec());
    expect(r.ok).toBe(false);
    expect(r.report[0]).toMatchObject({ filter: 'ComputeFilter', before: 3, after: 0 });
  });

  it('checks RAM, vCPU and disk against capacity minus usage', () => {
    const full = { vcpus: 16, memory_mb: 8000, disk_gb: 0, instances: 1 };
    expect(pick([host('a', { used: full })], spec())).toBeNull();
    expect(selectHost([host('a', { used: full })], spec()).report.at(-1)).toMatchObject({
      filter: 'RamFilter',
      why: 'needs 512 MB RAM',
    });
    expect(pick([host('a', { used: { ...full, memory_mb: 0 } })], spec())).toBeNull(); // 16 vCPUs used
    expect(pick([host('a')], spec({ resources: { vcpus: 1, memory_mb: 1, disk_gb: 101 } }))).toBeNull();
  });

  it('honours availability zone, forced host and image architecture', () => {
    const hs = [host('a', { az: 'z1' }), host('b', { az: 'z2', arch: 'aarch64' })];
    expect(pick(hs, spec({ az: 'z2' }))).toBe('b');
    expect(pick(hs, spec({ forcedHost: 'a' }))).toBe('a');
    expect(pick(hs, spec({ imageProperties: { architecture: 'arm64' } }))).toBe('b');
    expect(pick(hs, spec({ imageProperties: { architecture: 'amd64' } }))).toBe('a');
    expect(pick(hs, spec({ az: 'z3' }))).toBeNull();
  });

  it('applies server-group affinity, anti-affinity and same/different host', () => {
    const hs = [host('a'), host('b'), host('c')];
    expect(pick(hs, spec({ group: { policy: 'affinity', memberHosts: ['b'] } }))).toBe('b');
    expect(pick(hs, spec({ group: { policy: 'anti-affinity', memberHosts: ['a', 'b'] } }))).toBe('c');
    expect(pick(hs, spec({ group: { policy: 'anti-affinity', memberHosts: ['a', 'b', 'c'] } }))).toBeNull();
    expect(pick(hs, spec({ sameHost: ['c'] }))).toBe('c');
    expect(pick(hs, spec({ differentHost: ['a', 'c'] }))).toBe('b');
    expect(pick(hs, spec({ ignoreHosts: ['a', 'b'] }))).toBe('c');
  });
});

describe('scheduler weighers', () => {
  const hs = [host('a', { used: { vcpus: 1, memory_mb: 4096, disk_gb: 1, instances: 1 } }), host('b')];
  it('spreads by free RAM by default and packs on request', () => {
    expect(pick(hs, spec())).toBe('b');
    expect(pick(hs, spec(), 'pack')).toBe('a');
  });
  it('weighs soft affinity and soft anti-affinity before RAM', () => {
    expect(pick(hs, spec({ group: { policy: 'soft-affinity', memberHosts: ['a'] } }))).toBe('a');
    expect(pick(hs, spec({ group: { policy: 'soft-anti-affinity', memberHosts: ['b'] } }))).toBe('a');
  });
});

describe('placement claims', () => {
  it('never over-commits under 50 concurrent requests over few hosts', async () => {
    const db = testDb();
    for (const n of ['h1', 'h2', 'h3']) addHost(db, { name: n, vcpus: 2, memory_mb: 4096, disk_gb: 40 });
    const placement = new Placement(db, ratios);
    // A long cache age: every request chooses from the same stale view, so claims
    // must be refused by the database re-check rather than by the cache.
    const sched = new Scheduler(new HostStateCache(db, placement, 60_000), placement);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return sched.scheduleAndClaim({ instanceId: `inst-${i}`, resources: { vcpus: 1, memory_mb: 1024, disk_gb: 5 } });
      }),
    );
    const ok = results.filter((r) => r.ok).length;
    // 3 hosts × 4 × 1 GiB RAM (ratio 1) = 12 fit; vCPU 2 × 4 = 8 per host is not the limit.
    expect(ok).toBe(12);
    const rows = db
      .prepare('SELECT host_id, SUM(memory_mb) AS m, SUM(vcpus) AS v FROM allocations GROUP BY host_id')
      .all() as Array<{ m: number; v: number }>;
    for (const r of rows) {
      expect(r.m).toBeLessThanOrEqual(4096);
      expect(r.v).toBeLessThanOrEqual(8);
    }
    const failed = results.find((r) => !r.ok);
    expect(failed && !failed.ok && failed.reason).toContain('RamFilter');
  });

  it('re-checks capacity in the database when the cache is stale', () => {
    const db = testDb();
    const id = addHost(db, { name: 'h1', vcpus: 1, memory_mb: 1024, disk_gb: 10 });
    const placement = new Placement(db, ratios);
    const cache = new HostStateCache(db, placement, 60_000);
    cache.all();
    // Another connection (simulated) takes the whole host behind the cache's back.
    expect(placement.claim('other', id, { vcpus: 1, memory_mb: 1024, disk_gb: 1 })).toEqual({ ok: true });
    const sched = new Scheduler(cache, placement);
    const r = sched.scheduleAndClaim({ instanceId: 'mine', resources: { vcpus: 1, memory_mb: 512, disk_gb: 1 } });
    expect(r.ok).toBe(false);
    expect(placement.allocationOf('mine')).toBeNull();
    sched.release('other');
    expect(sched.scheduleAndClaim({ instanceId: 'mine', resources: { vcpus: 1, memory_mb: 512, disk_gb: 1 } }).ok).toBe(true);
  });

  it("refuses a claim on a disabled host and replaces an instance's previous claim", () => {
    const db = testDb();
    const a = addHost(db, { name: 'a' });
    const b = addHost(db, { name: 'b', enabled: false });
    const p = new Placement(db, ratios);
    expect(p.claim('i1', b, { vcpus: 1, memory_mb: 1, disk_gb: 1 })).toMatchObject({ ok: false, reason: 'host b is disabled' });
    expect(p.claim('i1', a, { vcpus: 1, memory_mb: 1, disk_gb: 1 }).ok).toBe(true);
    expect(p.claim('i1', a, { vcpus: 2, memory_mb: 2, disk_gb: 2 }).ok).toBe(true);
    expect(p.usageOf(a)).toEqual({ vcpus: 2, memory_mb: 2, disk_gb: 2, instances: 1 });
    expect(p.release('i1')).not.toBeNull();
    expect(p.release('i1')).toBeNull();
  });
});
