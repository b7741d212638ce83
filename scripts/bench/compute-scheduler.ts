/**
 * Benchmark (c) of issue 6: the scheduler alone over 1,000 simulated hosts and
 * 10,000 instances. Reports the time per decision (filters + weighers + the atomic
 * claim in SQLite) and checks that 50 concurrent requests never over-commit a host,
 * both inside one process and from 4 worker threads each with its own database
 * connection (stale caches, so only the claim transaction stands between them and an
 * over-commit).
 *
 *   npx tsx scripts/bench/compute-scheduler.ts [--hosts 1000] [--instances 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDb, type Db } from '../../controller/db/open.js';
import { capacity } from '../../controller/compute/placement.js';
import { Placement } from '../../controller/compute/placement.repo.js';
import { HostStateCache, Scheduler, selectHost } from '../../controller/compute/scheduler.js';
import { addHost, testDb } from '../../controller/compute/testing/fixtures.js';

const RATIOS = { cpu: 4, ram: 1, disk: 1 };
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FLAVORS = [
  { vcpus: 1, memory_mb: 512, disk_gb: 1 },
  { vcpus: 1, memory_mb: 1024, disk_gb: 10 },
  { vcpus: 2, memory_mb: 2048, disk_gb: 20 },
  { vcpus: 4, memory_mb: 4096, disk_gb: 40 },
];
const pct = (xs: number[], p: number) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;

function overCommitted(db: Db): string[] {
  const rows = db
    .prepare(
      `SELECT h.name, h.vcpus, h.memory_mb, h.disk_gb, SUM(a.vcpus) AS uv, SUM(a.memory_mb) AS um, SUM(a.disk_gb) AS ud
       FROM allocations a JOIN hosts h ON h.id = a.host_id GROUP BY h.id`,
    )
    .all() as Array<{ name: string; vcpus: number; memory_mb: number; disk_gb: number; uv: number; um: number; ud: number }>;
  return rows
    .filter((r) => {
      const c = capacity(r, RATIOS);
      return r.uv > c.vcpus || r.um > c.memory_mb || r.ud > c.disk_gb;
    })
    .map((r) => r.name);
}

async function main(): Promise<void> {
  const nHosts = arg('hosts', 1000);
  const nInst = arg('instances', 10000);
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
  const file = join(dir, 'bench.db');
  try {
    const db = testDb(file);
    db.transaction(() => {
      for (let i = 0; i < nHosts; i++) {
        addHost(db, {
          name: `sim-${String(i).padStart(4, '0')}`,
          vcpus: 16 + (i % 4) * 8,
          memory_mb: 65536 + (i % 3) * 32768,
          disk_gb: 1000,
          az: i % 10 === 0 ? 'z2' : undefined,
        });
      }
    })();
    const placement = new Placement(db, RATIOS);
    const sched = new Scheduler(new HostStateCache(db, placement, 1000), placement);

    // 1. Fill: 10,000 decisions, each select + claim (one IMMEDIATE transaction).
    const t: number[] = [];
    let failed = 0;
    for (let i = 0; i < nInst; i++) {
      const t0 = performance.now();
      const r = sched.scheduleAndClaim({
        instanceId: `fill-${i}`,
        resources: FLAVORS[i % FLAVORS.length]!,
        az: i % 50 === 0 ? 'z2' : null,
      });
      t.push(performance.now() - t0);
      if (!r.ok) failed++;
    }
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    console.log(`hosts=${nHosts} instances=${nInst}`);
    console.log(
      `decision incl. claim: mean ${fmt(mean)}, median ${fmt(pct(t, 50))}, p95 ${fmt(pct(t, 95))}, p99 ${fmt(pct(t, 99))} (failed ${failed})`,
    );

    // 2. Filters + weighers only, over the full cloud.
    const hosts = sched.cache.all();
    const t2: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      selectHost(hosts, { instanceId: 'x', resources: FLAVORS[i % FLAVORS.length]! });
      t2.push(performance.now() - t0);
    }
    console.log(`filters+weighers only: median ${fmt(pct(t2, 50))}, p95 ${fmt(pct(t2, 95))}`);

    // 3. 50 concurrent requests in this process (interleaved with awaits) on a nearly full cloud.
    const bigs = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        return sched.scheduleAndClaim({ instanceId: `conc-${i}`, resources: { vcpus: 8, memory_mb: 32768, disk_gb: 100 } });
      }),
    );
    console.log(
      `50 concurrent in-process: ${bigs.filter((r) => r.ok).length} placed; over-committed hosts: ${overCommitted(db).length}`,
    );

    // 4. 4 worker threads × 50 requests, separate connections, stale caches, a small cloud.
    const small = join(dir, 'small.db');
    const sdb = testDb(small);
    for (let i = 0; i < 5; i++) addHost(sdb, { name: `tiny-${i}`, vcpus: 4, memory_mb: 8192, disk_gb: 100 });
    sdb.close();
    // Every worker loads its (then stale) view first; all start claiming together.
    const workers = Array.from({ length: 4 }, (_, w) => {
      // The worker runs this same file through tsx's loader.
      const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(import.meta.url)});`;
      return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: { file: small, w } });
    });
    await Promise.all(
      workers.map(
        (wk) =>
          new Promise((resolve, reject) => {
            wk.once('message', resolve);
            wk.once('error', reject);
          }),
      ),
    );
    const t4 = performance.now();
    const done = workers.map(
      (wk) =>
        new Promise<{ ok: number; retries: number }>((resolve, reject) => {
          wk.once('message', resolve);
          wk.once('error', reject);
        }),
    );
    for (const wk of workers) wk.postMessage('go');
    const per = await Promise.all(done);
    const sdb2 = openDb(small);
    const t4end = performance.now();
    const placed = per.reduce((a, b) => a + b.ok, 0);
    const retries = per.reduce((a, b) => a + b.retries, 0);
    const over = overCommitted(sdb2);
    console.log(
      `4 connections × 50 concurrent: ${placed} placed (room for 40), ${retries} claims refused by the re-check, over-committed hosts: ${over.length} (${(t4end - t4).toFixed(0)} ms)`,
    );
    const allOver = overCommitted(db).length + over.length;
    console.log(allOver === 0 && placed === 40 ? 'RESULT ok: no over-commit' : 'RESULT FAIL');
    sdb2.close();
    db.close();
    if (allOver !== 0 || placed !== 40) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function worker(): Promise<void> {
  const { file, w } = workerData as { file: string; w: number };
  const db = openDb(file, 10_000);
  const placement = new Placement(db, RATIOS);
  // A cache that never refreshes by itself: only refused claims refresh it.
  const sched = new Scheduler(new HostStateCache(db, placement, 3_600_000), placement);
  sched.cache.all();
  parentPort!.postMessage('ready');
  await new Promise((r) => parentPort!.once('message', r));
  const rs = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return sched.scheduleAndClaim({ instanceId: `w${w}-${i}`, resources: { vcpus: 2, memory_mb: 1024, disk_gb: 10 } }, 50);
    }),
  );
  parentPort!.postMessage({ ok: rs.filter((r) => r.ok).length, retries: sched.refusedClaims });
  db.close();
}

if (isMainThread) void main();
else void worker();
