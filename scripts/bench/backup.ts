#!/usr/bin/env node
/**
 * Volume backup benchmark (issue 18): in one run, on one disk and from the page cache,
 *  1. `tar --zstd` (GNU tar piping into `zstd`, level 3, one thread) of a volume file,
 *     then `sync`: the baseline;
 *  2. a full backup of the same file by the backup driver of the volume agent
 *     (agents/volume/backup: 4 MiB chunks, zstd level 3, SHA-256 per chunk, 2 chunks at
 *     once, every object fsynced, a posix target), with the agent's default settings;
 *  3. `--changed` of the volume rewritten (whole 4 MiB regions at random places), then an
 *     incremental backup (only the changed chunks are stored);
 *  4. a restore of the incremental chain into a new sparse file, checked byte-exact,
 *     beside `tar --zstd -x` of the baseline archive (then `sync`).
 * The volume is fully written (no holes: zero chunks cost nothing and would flatter the
 * driver): each MiB is half random bytes, half hex text, so it compresses to about 70 %.
 *
 *   npx tsx scripts/bench/backup.ts [--size-mib 2048] [--changed 0.1] [--dir /var/tmp]
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, stat, truncate } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChunkedDriver } from '../../agents/volume/backup/chunked.js';
import { PosixTarget } from '../../agents/volume/backup/posix.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { makeRunner } from '../../shared/exec/run.js';

const MiB = 1024 * 1024;
const run = makeRunner();

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '2048' },
    changed: { type: 'string', default: '0.1' },
    dir: { type: 'string', default: '/var/tmp' },
  },
});
const sizeMib = Number(values['size-mib']);
const changed = Number(values.changed);
const bytes = sizeMib * MiB;

/** The agent's defaults, from its config schema (so the bench follows them). */
const defaults = AgentConfigSchema.properties.backup.properties as unknown as Record<string, { default: unknown }>;
const compression = defaults.compression!.default as 'zstd';
const level = defaults.compression_level!.default as number;
const chunkSize = (defaults.chunk_size_mib!.default as number) * MiB;
const parallel = defaults.parallel!.default as number;

const mbps = (b: number, ms: number) => Math.round((b / MiB / (ms / 1000)) * 10) / 10;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return Math.round(performance.now() - t0);
}

/** One MiB of half random bytes, half hex text. */
function mixedMiB(): Buffer {
  return Buffer.concat([randomBytes(MiB / 2), Buffer.from(randomBytes(MiB / 4).toString('hex'))]);
}

async function writeRegion(path: string, offset: number, length: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    for (let o = 0; o < length; o += MiB) await fh.write(mixedMiB(), 0, Math.min(MiB, length - o), offset + o);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(b as Buffer);
  return h.digest('hex');
}

async function main(): Promise<void> {
  const runId = `t${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(values.dir!, `${runId}-bkbench-`));
  const out: Record<string, unknown> = {
    size_mib: sizeMib,
    changed,
    chunk_mib: chunkSize / MiB,
    compression: `${compression} ${level}`,
    parallel,
  };
  try {
    const vol = join(dir, 'vol', 'volume.img');
    await mkdir(join(dir, 'vol'));
    await open(vol, 'w').then((f) => f.close());
    await truncate(vol, bytes);
    await writeRegion(vol, 0, bytes);

    // 1. the baseline: tar | zstd of the same file, synced.
    const archive = join(dir, 'base.tar.zst');
    const tarMs = await timed(async () => {
      await run('tar', ['--zstd', '-cf', archive, '-C', join(dir, 'vol'), 'volume.img'], { timeoutMs: 1_800_000 });
      await run('sync', ['-f', archive], { timeoutMs: 600_000 });
    });
    out.tar_zstd_ms = tarMs;
    out.tar_zstd_mbps = mbps(bytes, tarMs);
    out.tar_zstd_stored_mib = Math.round((await stat(archive)).size / MiB);

    // 2. the full backup.
    const target = new PosixTarget({ path: join(dir, 'store') });
    await target.init();
    const driver = new ChunkedDriver(target, { compression, level, chunkSize, parallel });
    const volumeId = randomUUID();
    const mk = (id: string, parent: { id: string; container: string; service_metadata: string } | null) => ({
      id,
      volumeId,
      name: null,
      description: null,
      createdAt: new Date().toISOString(),
      container: target.defaultContainer(id),
      sizeBytes: bytes,
      parent,
    });
    const fullId = randomUUID();
    let full!: Awaited<ReturnType<ChunkedDriver['backup']>>;
    const fullMs = await timed(async () => {
      full = await driver.backup(mk(fullId, null), vol);
    });
    const fullRef = { id: fullId, container: target.defaultContainer(fullId), service_metadata: full.service_metadata };
    out.full_ms = fullMs;
    out.full_mbps = mbps(bytes, fullMs);
    out.full_objects = full.object_count;
    out.full_stored_mib = Math.round(full.stored_bytes / MiB);
    out.full_vs_tar = Math.round((tarMs / fullMs) * 100) / 100;

    // 3. change `changed` of the volume (whole chunk-sized regions), then the incremental.
    const chunks = Math.ceil(bytes / chunkSize);
    const pick = new Set<number>();
    while (pick.size < Math.round(chunks * changed)) pick.add(Math.floor(Math.random() * chunks));
    for (const i of pick) await writeRegion(vol, i * chunkSize, Math.min(chunkSize, bytes - i * chunkSize));
    const want = await sha256File(vol);
    const incId = randomUUID();
    let inc!: Awaited<ReturnType<ChunkedDriver['backup']>>;
    const incMs = await timed(async () => {
      inc = await driver.backup(mk(incId, fullRef), vol);
    });
    out.changed_chunks = pick.size;
    out.inc_ms = incMs;
    out.inc_objects = inc.object_count;
    out.inc_stored_mib = Math.round(inc.stored_bytes / MiB);
    out.inc_vs_full_time = Math.round((incMs / fullMs) * 1000) / 1000;

    // 4. restore the chain into a new sparse file; byte-exact; beside tar -x.
    const dst = join(dir, 'restored.img');
    await open(dst, 'w').then((f) => f.close());
    await truncate(dst, bytes);
    const incRef = { id: incId, container: target.defaultContainer(incId), service_metadata: inc.service_metadata };
    const restoreMs = await timed(() => driver.restore([incRef, fullRef], dst, { skipZeros: true }));
    out.restore_ms = restoreMs;
    out.restore_mbps = mbps(bytes, restoreMs);
    out.restore_byte_exact = (await sha256File(dst)) === want;
    await rm(dst);
    await mkdir(join(dir, 'untar'));
    const untarMs = await timed(async () => {
      await run('tar', ['--zstd', '-xf', archive, '-C', join(dir, 'untar')], { timeoutMs: 1_800_000 });
      await run('sync', ['-f', join(dir, 'untar', 'volume.img')], { timeoutMs: 600_000 });
    });
    out.untar_zstd_ms = untarMs;
    out.untar_zstd_mbps = mbps(bytes, untarMs);
    out.restore_vs_untar = Math.round((untarMs / restoreMs) * 100) / 100;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out, null, 1));
  if (out.restore_byte_exact !== true) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
