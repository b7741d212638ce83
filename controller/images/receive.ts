import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InlineHasher, ParallelHasher, type Digests, type StreamHasher } from './hasher.js';
import { FormatSniffer } from './inspector.js';
import type { StagingWriter } from './store.js';

/**
 * The upload data path: each chunk of the body is counted against the limit, hashed
 * (MD5 and SHA-512), fed to the format sniffer and handed to the staging file as it
 * arrives; nothing is copied on the way but what the parallel hasher needs. The writer
 * buffers at most ~1 MiB before the upload waits for the disk, so an upload holds
 * about that much whatever its size.
 *
 * Measured on 2 cores (1 GiB, client on the same host): MD5 ~1.2 s and SHA-512 ~0.9 s
 * of CPU per GiB are the floor of an upload; the rest is the socket, the page cache
 * writes and the garbage collector.
 */

/** Uploads at least this large (or of unknown size) hash SHA-512 on a worker, with parallel hashing on. */
const PARALLEL_HASH_MIN = 16 << 20;

/**
 * Node's HTTP parser hands over each piece of a request body in a fresh buffer (up to
 * 64 KiB, malloc'd). V8 frees them at its next scavenge, and an upload allocates so
 * little on the JS heap that scavenges came every 30-60 MB of body: that garbage was
 * most of an upload's resident memory (+35 MiB of malloc heap per upload). A minor GC
 * every YOUNG_GC_EVERY bytes frees them while they are young. Measured per GiB: peak
 * RSS 134-146 -> 113-128 MiB, for ~0.7 s more CPU (3.9-4.1 -> 4.7-4.9 s user). `gc`
 * is exposed to a separate context only; without it (another engine, a flag refused)
 * uploads work as before.
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

export interface ReceiveOptions {
  /** Bytes allowed; one more is an error from overLimit(). */
  limit: number;
  overLimit: () => Error;
  /** Content-Length when known (null: chunked). */
  expected: number | null;
  /** SHA-512 on a worker thread for large uploads. */
  parallel: boolean;
  /** Called with the bytes received so far, after each chunk (progress of imports). */
  onBytes?: (total: number) => void;
}

export interface Received {
  bytes: number;
  digests: Digests;
  sniffer: FormatSniffer;
}

/** Streams `source` into `out`; throws the first error (the caller aborts `out`). */
export async function receive(source: Readable, out: StagingWriter, o: ReceiveOptions): Promise<Received> {
  const big = o.expected === null || o.expected >= PARALLEL_HASH_MIN;
  const hasher: StreamHasher = o.parallel && big ? new ParallelHasher() : new InlineHasher();
  const sniffer = new FormatSniffer();
  let bytes = 0;
  let sinceGc = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > o.limit) throw o.overLimit();
      if (youngGc && (sinceGc += chunk.length) >= YOUNG_GC_EVERY) {
        sinceGc = 0;
        youngGc();
      }
      const hashing = hasher.update(chunk);
      sniffer.push(chunk);
      const writing = out.write(chunk);
      if (hashing && writing) await Promise.all([hashing, writing]);
      else if (hashing || writing) await (hashing ?? writing);
      o.onBytes?.(bytes);
    }
    return { bytes, digests: await hasher.digest(), sniffer };
  } finally {
    hasher.close();
  }
}
