import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InlineHasher, WorkerHasher, type BlockHasher, type Digests } from './hasher.js';
import { FormatSniffer } from './inspector.js';
import type { StagingWriter } from './store.js';

/**
 * The upload data path. Each chunk of the body is counted against the limit, fed to the
 * format sniffer and to SHA-512 as it passes, and copied into one of a few fixed blocks.
 * A full block goes at once to MD5 (on a worker thread for large uploads) and to the
 * staging file, and is reused when both are done with it. So the memory an upload holds
 * is the block pool, whatever its size, and the only per-chunk garbage is the chunk
 * Node's HTTP parser made, which dies young (held a few microseconds, never queued).
 *
 * Measured on 2 cores (1 GiB, client on the same host): MD5 ~1.2 s and SHA-512 ~0.9 s
 * of CPU per GiB are the floor of an upload; everything else together is ~0.6 s.
 */

/** Block size: one write and one worker round trip per MiB. */
export const BLOCK = 1 << 20;
/** Blocks per upload: one filling, the others hashing or being written (4 MiB in all). */
const BLOCKS = 4;
/**
 * Node's HTTP parser hands over each piece of a request body in a fresh buffer (up to
 * 64 KiB, malloc'd). V8 frees them at its next scavenge, and an upload allocates so
 * little on the JS heap that scavenges come every 30-60 MB of body: that garbage was
 * most of an upload's resident memory (+35 MiB of malloc heap per upload). A minor GC
 * every YOUNG_GC_EVERY bytes (well under a millisecond: only young objects are visited)
 * frees them while they are young. `gc` is exposed to a separate context only; without
 * it (another engine, a flag refused) uploads work as before.
 */
const YOUNG_GC_EVERY = 8 << 20;
const youngGc: (() => void) | null = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as ((o: { type: 'minor' }) => void) | undefined;
    return typeof gc === 'function' ? () => gc({ type: 'minor' }) : null;
  } catch {
    return null;
  }
})();

/** Blocks kept for the next upload, and for how long once no upload runs. */
const KEEP = 2 * BLOCKS;
const KEEP_IDLE_MS = 30_000;

/**
 * Blocks reused from one upload to the next: a block allocated per upload is freed
 * only by a full garbage collection, so resident memory grew by the pool with every
 * upload. Dropped when no upload has run for a while, so an idle controller does not
 * carry them.
 */
const pool: Buffer[] = [];
let active = 0;
let dropTimer: NodeJS.Timeout | null = null;
const takeBlock = () => pool.pop() ?? Buffer.from(new SharedArrayBuffer(BLOCK));
const giveBlock = (b: Buffer) => void (pool.length < KEEP && pool.push(b));
function uploadStarted(): void {
  active++;
  if (dropTimer) clearTimeout(dropTimer);
  dropTimer = null;
}
function uploadEnded(): void {
  if (--active > 0) return;
  dropTimer = setTimeout(() => void (pool.length = 0), KEEP_IDLE_MS);
  dropTimer.unref();
}
/** Uploads at least this large (or of unknown size) hash MD5 on a worker. */
const WORKER_MIN = 16 << 20;

export interface ReceiveOptions {
  /** Bytes allowed; one more is an error from overLimit(). */
  limit: number;
  overLimit: () => Error;
  /** Content-Length when known (null: chunked). */
  expected: number | null;
  /** MD5 on a worker thread for large uploads. */
  parallel: boolean;
}

export interface Received {
  bytes: number;
  digests: Digests;
  sniffer: FormatSniffer;
}

/** Streams `source` into `out`; throws the first error (the caller aborts `out`). */
export async function receive(source: Readable, out: StagingWriter, o: ReceiveOptions): Promise<Received> {
  const useWorker = o.parallel && (o.expected === null || o.expected >= WORKER_MIN);
  const md5: BlockHasher = useWorker ? new WorkerHasher('md5') : new InlineHasher('md5');
  const sha = createHash('sha512');
  const sniffer = new FormatSniffer();
  // Small uploads get one block of their size, large ones a few shared ones.
  const small = o.expected !== null && o.expected < BLOCK;
  if (!small) uploadStarted();
  const free: Buffer[] = small ? [Buffer.allocUnsafe(Math.max(o.expected!, 1))] : Array.from({ length: BLOCKS }, takeBlock);
  const owned = [...free];
  const inFlight = new Set<Promise<void>>();
  let failed: Error | null = null;
  let wake: (() => void) | null = null;

  /** Hands a filled block to MD5 and to the file; it returns to the pool when both are done. */
  const dispatch = (buf: Buffer, len: number) => {
    const block = buf.subarray(0, len);
    const p: Promise<void> = Promise.all([md5.update(block), out.write(block)]).then(
      () => {
        free.push(buf);
      },
      (e: Error) => {
        failed ??= e;
      },
    ).finally(() => {
      inFlight.delete(p);
      const w = wake;
      wake = null;
      w?.();
    });
    inFlight.add(p);
  };
  const settle = async () => {
    while (inFlight.size) await new Promise<void>((r) => (wake = r));
  };

  let sinceGc = 0;
  let bytes = 0;
  let cur: Buffer | null = null;
  let fill = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > o.limit) throw o.overLimit();
      if (youngGc && (sinceGc += chunk.length) >= YOUNG_GC_EVERY) {
        sinceGc = 0;
        youngGc();
      }
      sha.update(chunk);
      sniffer.push(chunk);
      for (let off = 0; off < chunk.length; ) {
        if (!cur) {
          while (!free.length && !failed) await new Promise<void>((r) => (wake = r));
          if (failed) throw failed;
          cur = free.pop()!;
          fill = 0;
        }
        const n = chunk.copy(cur, fill, off);
        fill += n;
        off += n;
        if (fill === cur.length) {
          dispatch(cur, fill);
          cur = null;
        }
      }
      if (failed) throw failed;
    }
    if (cur && fill) dispatch(cur, fill);
    cur = null;
    await settle();
    if (failed) throw failed;
    return { bytes, digests: { md5: await md5.digest(), sha512: sha.digest('hex') }, sniffer };
  } catch (e) {
    await settle();
    throw e;
  } finally {
    md5.close();
    // Every write and hash has settled: the blocks are ours again, whatever happened.
    if (!small) {
      owned.forEach(giveBlock);
      uploadEnded();
    }
  }
}
