import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { ImageSource } from '../../shared/agent/compute.js';
import { qemuFormatOf, type QemuImg } from '../../shared/tools/qemu-img.js';
import { BadSpec, HypervisorFault } from './errors.js';

/**
 * Per-host cache of base images (<data_dir>/images/<image id>.qcow2). An image is
 * fetched once through the controller's image API (streamed with undici, MD5 checked
 * while it streams), inspected (no backing file, no external data file: the bytes are
 * untrusted), converted once to a qcow2 base, and then shared read-only by every
 * instance's qcow2 overlay. Concurrent spawns of the same image wait for one fetch.
 * Partial files live under `.tmp-*` names and are removed on failure; `sweep()`
 * removes leftovers from a crash.
 */

const ID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface ImageCacheOptions {
  dir: string;
  qemuImg: QemuImg;
  /** undici dispatcher (tests pass a MockAgent). */
  dispatcher?: Dispatcher;
  /** Download timeout without progress (ms). */
  idleTimeoutMs?: number;
}

export interface CachedBase {
  path: string;
  virtualSize: number;
  /** True when it was already in the cache. */
  cached: boolean;
}

export class ImageCache {
  private readonly inflight = new Map<string, Promise<CachedBase>>();
  /** Virtual sizes of bases already inspected (a base never changes once renamed in). */
  private readonly sizes = new Map<string, number>();

  constructor(private readonly o: ImageCacheOptions) {}

  basePath(imageId: string): string {
    if (!ID_RE.test(imageId)) throw new BadSpec(`bad image id ${JSON.stringify(imageId)}`);
    return join(this.o.dir, `${imageId.toLowerCase()}.qcow2`);
  }

  /** The qcow2 base for an image, fetching and converting it when missing. Idempotent. */
  async ensure(img: ImageSource): Promise<CachedBase> {
    const path = this.basePath(img.id);
    const running = this.inflight.get(path);
    if (running) return running.then((b) => ({ ...b, cached: true }));
    const p = (async () => {
      const have = await this.existing(path);
      if (have) return have;
      return this.fetch(img, path);
    })();
    this.inflight.set(path, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(path);
    }
  }

  private async existing(path: string): Promise<CachedBase | null> {
    try {
      await stat(path);
    } catch {
      return null;
    }
    let virtualSize = this.sizes.get(path);
    if (virtualSize === undefined) {
      virtualSize = (await this.o.qemuImg.info(path, 'qcow2')).virtualSize;
      this.sizes.set(path, virtualSize);
    }
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
    return { path, virtualSize, cached: true };
  }

  private async fetch(img: ImageSource, path: string): Promise<CachedBase> {
    const fmt = qemuFormatOf(img.disk_format);
    if (!fmt) throw new BadSpec(`image ${img.id} has disk_format ${img.disk_format}, which this host cannot boot`);
    await mkdir(this.o.dir, { recursive: true });
    const tag = randomBytes(4).toString('hex');
    const dl = join(this.o.dir, `.tmp-${img.id}-${tag}.download`);
    const conv = join(this.o.dir, `.tmp-${img.id}-${tag}.qcow2`);
    try {
      const md5 = await this.download(img, dl);
      if (img.checksum && md5 !== img.checksum.toLowerCase()) {
        throw new HypervisorFault(
          'ChecksumMismatch',
          `image ${img.id}: downloaded data has MD5 ${md5}, the image API says ${img.checksum}`,
        );
      }
      const info = await this.o.qemuImg.info(dl, fmt);
      if (info.backingFilename) throw new HypervisorFault('BadImage', `image ${img.id} refers to a backing file; refused`);
      if (info.dataFile) throw new HypervisorFault('BadImage', `image ${img.id} refers to an external data file; refused`);
      await this.o.qemuImg.convert(dl, fmt, conv, 'qcow2');
      const out = await this.o.qemuImg.info(conv, 'qcow2', { limits: { addressSpaceBytes: 1 << 30 } });
      await rename(conv, path);
      this.sizes.set(path, out.virtualSize);
      return { path, virtualSize: out.virtualSize, cached: false };
    } finally {
      await rm(dl, { force: true });
      await rm(conv, { force: true });
    }
  }

  /** Streams the image to `dest`, returning the MD5 hex of the bytes. */
  private async download(img: ImageSource, dest: string): Promise<string> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(img.download_url, {
        method: 'GET',
        headers: { 'x-auth-token': img.token, accept: 'application/octet-stream' },
        dispatcher: this.o.dispatcher,
        headersTimeout: this.o.idleTimeoutMs ?? 60_000,
        bodyTimeout: this.o.idleTimeoutMs ?? 60_000,
      });
    } catch (e) {
      throw new HypervisorFault('ImageFetchFailed', `fetching image ${img.id}: ${(e as Error).message}`, true, e);
    }
    if (res.statusCode !== 200) {
      const body = (await res.body.text().catch(() => '')).slice(0, 200);
      throw new HypervisorFault(
        'ImageFetchFailed',
        `fetching image ${img.id}: the image API answered ${res.statusCode} ${body}`,
        res.statusCode >= 500,
      );
    }
    const hash = createHash('md5');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.body, tap, createWriteStream(dest, { mode: 0o600 }));
    } catch (e) {
      throw new HypervisorFault('ImageFetchFailed', `fetching image ${img.id}: ${(e as Error).message}`, true, e);
    }
    return hash.digest('hex');
  }

  /** The cached bases with size and last use. Read-only. */
  async list(): Promise<Array<{ imageId: string; path: string; size: number; lastUsed: Date }>> {
    let names: string[];
    try {
      names = await readdir(this.o.dir);
    } catch {
      return [];
    }
    const out = [];
    for (const n of names) {
      const m = /^([0-9a-f-]{36})\.qcow2$/.exec(n);
      if (!m) continue;
      const p = join(this.o.dir, n);
      const s = await stat(p).catch(() => null);
      if (s) out.push({ imageId: m[1]!, path: p, size: s.size, lastUsed: s.mtime });
    }
    return out;
  }

  /** Removes a base; false when absent. The caller checks it is unused. */
  async evict(imageId: string): Promise<boolean> {
    const p = this.basePath(imageId);
    const had = await stat(p).then(
      () => true,
      () => false,
    );
    this.sizes.delete(p);
    await rm(p, { force: true });
    return had;
  }

  /** Removes `.tmp-*` leftovers of interrupted fetches (call at start, before any spawn). */
  async sweep(): Promise<number> {
    const names = await readdir(this.o.dir).catch(() => [] as string[]);
    let n = 0;
    for (const name of names.filter((x) => x.startsWith('.tmp-'))) {
      await rm(join(this.o.dir, name), { force: true });
      n++;
    }
    return n;
  }
}
