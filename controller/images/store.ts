import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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

/** An upload being written; see ImageStore.createStaging. */
export interface StagingWriter {
  /**
   * Appends `chunk`, which the writer keeps (the caller must not change it afterwards).
   * Returns a promise when the caller should wait before writing more (backpressure);
   * it rejects with the write error, if any.
   */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Flushes, syncs and closes the file. Call once. */
  finish(): Promise<StagedImage>;
  /** Drops the staged bytes (before or after finish). Idempotent. */
  abort(): Promise<void>;
}

/** Positional reads of one stored image. */
export interface BlockReader {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buf` from its start; 0 at the end. */
  read(buf: Uint8Array, length: number, position: number): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * Where image bytes live. Stores never see the database; the service decides what a
 * key belongs to.
 */
export interface ImageStore {
  /** Prepares the store and removes staging files left by a crash. Idempotent. */
  init(): Promise<void>;
  /**
   * A staging file for `id`: blocks are appended with write(), then finish() syncs it to
   * disk. Nothing is visible under the image's key until the StagedImage is committed.
   * On any failure the caller calls abort(), which removes the partial data.
   */
  createStaging(id: string): Promise<StagingWriter>;
  /** The bytes of `key` (inclusive range). Rejects with code ENOENT when absent. */
  open(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Reads `key` into the caller's buffers (downloads that reuse a few buffers instead of
   * allocating per chunk). Rejects with code ENOENT when absent.
   */
  openReader(key: string): Promise<BlockReader>;
  /** Size in bytes of `key`, or null when absent. */
  size(key: string): Promise<number | null>;
  /** Removes `key`. Succeeds if absent. */
  delete(key: string): Promise<void>;
  /** A local path for `key`, when the store is a filesystem. */
  localPath(key: string): string | null;
  /** Every committed key (for the startup sweep of data no image refers to). */
  keys(): Promise<string[]>;
}

/** 1 MiB chunks for open()'s streams: few syscalls per GiB. */
const CHUNK = 1 << 20;
/** Bytes a staging write stream buffers before the upload waits for the disk. */
const WRITE_HWM = 1 << 20;

/**
 * Files under <data_dir>/images: <id> when committed, .staging/<id>.<rand> while
 * uploading. With a qemu-img wrapper, staged files can be probed before commit.
 */
export class FileImageStore implements ImageStore {
  private readonly staging: string;

  constructor(
    private readonly dir: string,
    private readonly qemu: QemuImg | null = null,
  ) {
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

  async createStaging(id: string): Promise<StagingWriter> {
    const final = this.path(id);
    await mkdir(this.staging, { recursive: true, mode: 0o750 });
    const tmp = join(this.staging, `${id}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o640);
    // A write stream writes what piled up while the previous write ran in one writev:
    // small writes while the disk keeps up. (Writing 1 MiB blocks measured twice the
    // kernel time here: large page-cache folios are slow to get on this VM.)
    const ws = createWriteStream('', { fd: fh.fd, autoClose: false, highWaterMark: WRITE_HWM } as never);
    let failed: Error | null = null;
    ws.on('error', (e) => void (failed ??= e));
    let closed = false;
    let gone = false;
    // The stream writes through the bare fd: never destroy it (that closes the fd, and
    // closing it twice can close another file that got the number) and close the handle
    // only once the stream has no write in flight (ending it flushes what it holds).
    const close = async () => {
      if (closed) return;
      closed = true;
      if (!ws.writableFinished && !ws.errored) {
        await new Promise<void>((resolve) => {
          ws.once('finish', resolve);
          ws.once('error', () => resolve());
          ws.end();
        });
      }
      await fh.close().catch(() => {});
    };
    const abort = async () => {
      await close();
      if (!gone) await unlink(tmp).catch(() => {});
      gone = true;
    };
    const settled = (ev: string) =>
      new Promise<void>((resolve, reject) => {
        if (failed) return reject(failed);
        const onErr = (e: Error) => {
          ws.off(ev, onOk);
          reject(e);
        };
        const onOk = () => {
          ws.off('error', onErr);
          resolve();
        };
        ws.once(ev, onOk);
        ws.once('error', onErr);
      });
    return {
      write: (chunk) => {
        if (failed) return Promise.reject(failed);
        return ws.write(chunk) ? undefined : settled('drain');
      },
      finish: async () => {
        const done = settled('finish');
        ws.end();
        await done;
        const bytes = ws.bytesWritten;
        await fh.sync();
        await close();
        return {
          bytes,
          localPath: tmp,
          probe: async (qemuFormat) => (this.qemu ? this.qemu.info(tmp, qemuFormat) : null),
          commit: async () => {
            await rename(tmp, final);
            gone = true;
            await this.syncDir();
            return id;
          },
          abort,
        };
      },
      abort,
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
    return createReadStream('', {
      fd: fh,
      highWaterMark: CHUNK,
      ...(range ? { start: range.start, end: range.end } : {}),
    } as never);
  }

  async openReader(key: string): Promise<BlockReader> {
    const fh = await open(this.path(key), 'r');
    const size = (await fh.stat()).size;
    let closed = false;
    return {
      size,
      read: async (buf, length, position) => (await fh.read(buf, 0, length, position)).bytesRead,
      close: async () => {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
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
