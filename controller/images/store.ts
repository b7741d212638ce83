import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { QemuImg, QemuImgInfo } from '../../shared/tools/qemu-img.js';
import { isUuid } from '../../shared/util/ids.js';

/** Bytes written to staging, not yet visible under the image's key. */
export interface StagedImage {
  readonly bytes: number;
  /** A local file holding the staged bytes, or null for remote stores. */
  readonly localPath: string | null;
  /**
   * qemu-img's reading of the staged bytes as `qemuFormat` (under prlimit), or null
   * when this store cannot run it. Read-only; throws QemuImgError when qemu-img
   * cannot read the bytes as that format.
   */
  probe(qemuFormat: string): Promise<QemuImgInfo | null>;
  /** Makes the bytes the image's data; returns the store key. Not idempotent. */
  commit(): Promise<string>;
  /** Drops the staged bytes. Idempotent. */
  abort(): Promise<void>;
}

/**
 * Where image bytes live. Stores never see the database; the service decides what a
 * key belongs to.
 */
export interface ImageStore {
  /** Prepares the store and removes staging files left by a crash. Idempotent. */
  init(): Promise<void>;
  /**
   * Streams `source` through `transforms` into a staging area, synced to disk. On any
   * failure (source error, a transform's error, disk full) the partial data is
   * removed and the promise rejects with the first error: nothing half-made.
   */
  stage(id: string, source: Readable, transforms: Transform[]): Promise<StagedImage>;
  /** The bytes of `key` (inclusive range). Rejects with code ENOENT when absent. */
  open(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Size in bytes of `key`, or null when absent. */
  size(key: string): Promise<number | null>;
  /** Removes `key`. Succeeds if absent. */
  delete(key: string): Promise<void>;
  /** A local path for `key`, when the store is a filesystem. */
  localPath(key: string): string | null;
  /** Every committed key (for the startup sweep of data no image refers to). */
  keys(): Promise<string[]>;
}

/** 1 MiB chunks: few syscalls per GiB; larger ones only add resident memory. */
const CHUNK = 1 << 20;

/**
 * Files under <data_dir>/images: <id> when committed, .staging/<id>.<rand> while
 * uploading. With a qemu-img wrapper, staged files can be probed before commit.
 */
export class FileImageStore implements ImageStore {
  private readonly staging: string;

  constructor(private readonly dir: string, private readonly qemu: QemuImg | null = null) {
    this.staging = join(dir, '.staging');
  }

  /** Removes staging files left by a crash; directories are made on the first upload. */
  async init(): Promise<void> {
    const left = await readdir(this.staging).catch(() => [] as string[]);
    for (const f of left) await rm(join(this.staging, f), { force: true });
  }

  private path(key: string): string {
    if (!isUuid(key)) throw Object.assign(new Error(`bad image store key ${JSON.stringify(key)}`), { code: 'ENOENT' });
    return join(this.dir, key);
  }

  async stage(id: string, source: Readable, transforms: Transform[]): Promise<StagedImage> {
    const final = this.path(id);
    await mkdir(this.staging, { recursive: true, mode: 0o750 });
    const tmp = join(this.staging, `${id}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o640);
    let bytes = 0;
    try {
      const out = createWriteStream('', { fd: fh.fd, autoClose: false, highWaterMark: CHUNK } as never);
      await pipeline([source, ...transforms, out]);
      bytes = out.bytesWritten;
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    let done = false;
    return {
      bytes,
      localPath: tmp,
      probe: async (qemuFormat) => (this.qemu ? this.qemu.info(tmp, qemuFormat) : null),
      commit: async () => {
        await rename(tmp, final);
        done = true;
        await this.syncDir();
        return id;
      },
      abort: async () => {
        if (!done) await unlink(tmp).catch(() => {});
        done = true;
      },
    };
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async open(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const p = this.path(key);
    // Open first so a missing file is an error here, not mid-response.
    const fh = await open(p, 'r');
    return createReadStream('', { fd: fh, highWaterMark: CHUNK, ...(range ? { start: range.start, end: range.end } : {}) } as never);
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.path(key))).size;
    } catch {
      return null;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  localPath(key: string): string | null {
    return this.path(key);
  }

  async keys(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => isUuid(n));
  }
}

/** Store drivers by config string (house style: a literal map). */
export const IMAGE_STORES: Record<string, (dataDir: string, qemu: QemuImg | null) => ImageStore> = {
  file: (dataDir, qemu) => new FileImageStore(join(dataDir, 'images'), qemu),
};
