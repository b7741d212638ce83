import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * MD5 over whole blocks, either on this thread or on a worker thread. On the worker,
 * the blocks are views of SharedArrayBuffers the caller owns (the uploads' block pool):
 * no copy and no transfer; update() resolves when the worker is done reading the block,
 * after which the caller may reuse it. MD5 (~1.2 s per GiB here) and SHA-512 (~0.9 s)
 * are the two largest costs of an upload; on a worker, MD5 runs beside everything else.
 */

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open') hashes.set(m.ctx, createHash(m.algo));
  else if (m.op === 'drop') { hashes.delete(m.ctx); return; }
  else if (m.op === 'update') hashes.get(m.ctx).update(new Uint8Array(m.sab, m.off, m.len));
  else if (m.op === 'digest') { const d = hashes.get(m.ctx).digest('hex'); hashes.delete(m.ctx); parentPort.postMessage({ msg: m.msg, digest: d }); return; }
  parentPort.postMessage({ msg: m.msg });
});
`;

export interface Digests {
  md5: string;
  sha512: string;
}

export interface BlockHasher {
  /**
   * Feeds a block (in order). The block must not change until the returned promise
   * resolves (undefined: hashed already). A worker hasher needs SharedArrayBuffer views.
   */
  update(block: Uint8Array): Promise<void> | undefined;
  /** The hex digest of everything fed. Call once, after every update resolved. */
  digest(): Promise<string>;
  /** Stops the worker (after an error). Idempotent. */
  close(): void;
}

/** On this thread: small uploads, and hosts where a worker does not pay. */
export class InlineHasher implements BlockHasher {
  private readonly h: Hash;
  constructor(algo = 'md5') {
    this.h = createHash(algo);
  }
  update(block: Uint8Array): undefined {
    this.h.update(block);
    return undefined;
  }
  async digest(): Promise<string> {
    return this.h.digest('hex');
  }
  close(): void {}
}

/**
 * The hash worker: one thread for every upload in progress (each its own hash context),
 * started on the first large upload and stopped when none has used it for a while, so
 * an idle controller does not carry it.
 */
class HashWorker {
  private static current: HashWorker | null = null;
  private static readonly IDLE_MS = 30_000;

  static acquire(): HashWorker {
    const w = HashWorker.current && !HashWorker.current.failed ? HashWorker.current : (HashWorker.current = new HashWorker());
    w.users++;
    if (w.idle) clearTimeout(w.idle);
    w.idle = null;
    return w;
  }

  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (d?: string) => void; reject: (e: Error) => void }>();
  private nextMsg = 0;
  private nextCtx = 0;
  private users = 0;
  private idle: NodeJS.Timeout | null = null;
  failed: Error | null = null;

  private constructor() {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // It only hashes: a small heap keeps its resident memory low.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2, codeRangeSizeMb: 2, stackSizeMb: 1 },
    });
    this.worker.unref();
    this.worker.on('message', (m: { msg: number; digest?: string }) => {
      const p = this.waiting.get(m.msg);
      this.waiting.delete(m.msg);
      p?.resolve(m.digest);
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      if (HashWorker.current === this) HashWorker.current = null;
      for (const p of this.waiting.values()) p.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hash worker exited (code ${code})`)));
  }

  private send(m: object): Promise<string | undefined> {
    if (this.failed) return Promise.reject(this.failed);
    const msg = this.nextMsg++;
    return new Promise<string | undefined>((resolve, reject) => {
      this.waiting.set(msg, { resolve, reject });
      this.worker.postMessage({ ...m, msg });
    });
  }

  open(algo: string): number {
    const ctx = this.nextCtx++;
    void this.send({ ctx, algo, op: 'open' }).catch(() => {});
    return ctx;
  }
  update(ctx: number, block: Uint8Array): Promise<void> {
    return this.send({ ctx, op: 'update', sab: block.buffer, off: block.byteOffset, len: block.byteLength }) as Promise<never>;
  }
  async digest(ctx: number): Promise<string> {
    return (await this.send({ ctx, op: 'digest' }))!;
  }
  drop(ctx: number): void {
    if (!this.failed) this.worker.postMessage({ ctx, op: 'drop', msg: -1 });
  }

  release(): void {
    if (--this.users > 0 || this.failed) return;
    this.idle = setTimeout(() => {
      if (this.users > 0) return;
      if (HashWorker.current === this) HashWorker.current = null;
      this.failed = new Error('hash worker stopped');
      void this.worker.terminate();
    }, HashWorker.IDLE_MS);
    this.idle.unref();
  }
}

/** On the shared hash worker; blocks must be views of SharedArrayBuffers. */
export class WorkerHasher implements BlockHasher {
  private readonly w = HashWorker.acquire();
  private readonly ctx: number;
  private closed = false;

  constructor(algo = 'md5') {
    this.ctx = this.w.open(algo);
  }

  update(block: Uint8Array): Promise<void> {
    if (!(block.buffer instanceof SharedArrayBuffer)) throw new TypeError('WorkerHasher needs SharedArrayBuffer blocks');
    return this.w.update(this.ctx, block);
  }

  async digest(): Promise<string> {
    const d = await this.w.digest(this.ctx);
    this.close();
    return d;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.w.drop(this.ctx);
    this.w.release();
  }
}
