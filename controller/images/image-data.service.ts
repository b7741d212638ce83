import type { Readable } from 'node:stream';
import { BadRequest, CloudError, Conflict, Forbidden, OverLimit } from '../../shared/errors/index.js';
import { isoSeconds } from '../../shared/util/time.js';
import { qemuFormatOf } from '../../shared/tools/qemu-img.js';
import type { AuthContext } from '../http/auth.js';
import { refusals } from './inspector.js';
import { receive, type Received } from './receive.js';
import type { ImageRow } from './images.repo.js';
import { ImageGone, type ImageService } from './images.service.js';
import type { Digests } from './hasher.js';
import type { BlockReader, ImageStore, StagedImage, StagingWriter } from './store.js';
import { UnknownStore, type ImageStores } from './stores.js';

export interface ImageDataOptions {
  imageSizeCap: number;
  /** Bytes per project; -1 = unlimited. */
  projectQuota: number;
  /** SHA-512 on a worker thread beside MD5 for large uploads (the worker costs some resident memory). */
  parallelHash?: boolean;
  /** Ask the store to read the staged bytes with qemu-img as a second check. */
  qemuCheck: boolean;
  log?: { warn(o: object, m?: string): void; info(o: object, m?: string): void };
}

/** Formats whose header qemu-img reads as a second opinion. */
const QEMU_CHECKED = new Set(['qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi']);
export interface Download {
  image: ImageRow;
  /** Null when the image has no data (204). The caller closes it. */
  reader: BlockReader | null;
  range: { start: number; end: number } | null;
}

/** 416 with the size, for an unsatisfiable Range. */
export class RangeNotSatisfiable extends CloudError {
  constructor(size: number) {
    super(416, 'Requested range not satisfiable');
    this.headers = { 'Content-Range': `bytes */${size}` };
  }
}

/** Parses "bytes=a-b", "bytes=a-", "bytes=-n" (a single range) against `size`. */
export function parseRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (!m[1] && !m[2])) return null; // not a form we serve: whole image (RFC 9110 allows ignoring)
  let start: number;
  let end: number;
  if (!m[1]) {
    const n = Number(m[2]);
    if (n === 0) throw new RangeNotSatisfiable(size);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (m[2] && Number(m[2]) < start) throw new RangeNotSatisfiable(size);
  }
  if (start >= size || end < start) throw new RangeNotSatisfiable(size);
  return { start, end };
}

const isAbort = (e: unknown) => {
  const c = (e as { code?: string })?.code;
  return c === 'ERR_STREAM_PREMATURE_CLOSE' || c === 'ECONNRESET' || c === 'ECONNABORTED' || (e as Error)?.message === 'aborted';
};

/** The store's file system is out of space or quota (Glance's StorageFull: 413). */
export const isStorageFull = (e: unknown): boolean => {
  for (let x = e as { code?: string; cause?: unknown } | undefined, i = 0; x && i < 5; x = x.cause as never, i++) {
    if (x.code === 'ENOSPC' || x.code === 'EDQUOT') return true;
  }
  return false;
};

/** How much data an image may take, and the error for one byte more. */
export interface IngestLimits {
  limit: number;
  overLimit: () => Error;
}

/** Data written to a store's staging, checked and hashed, ready to commit. */
export interface Ingested {
  staged: StagedImage;
  bytes: number;
  digests: Digests;
  virtualSize: number | null;
}

/**
 * The data path: streaming upload into the store with hashes and format checks, and
 * streaming download with ranges. Imports (image-import.service.ts) bring their data
 * through the same ingest().
 */
export class ImageData {
  constructor(
    private readonly images: ImageService,
    readonly stores: ImageStores,
    private readonly o: ImageDataOptions,
  ) {}

  /**
   * The size limit for `i`'s data: the image size cap and what is left of its project's
   * storage quota (not for another copy of data already counted: `quota: false`).
   * Throws OverLimit when `length` (if known) is already beyond it.
   */
  limitsFor(i: ImageRow, length: number | null, o: { quota?: boolean } = {}): IngestLimits {
    const cap = this.o.imageSizeCap;
    if (length !== null && length > cap)
      throw new OverLimit(`The incoming image is too large: ${length} bytes, the limit is ${cap} bytes.`);
    let limit = cap;
    let quotaLeft = Infinity;
    if (this.o.projectQuota >= 0 && i.owner && o.quota !== false) {
      quotaLeft = Math.max(0, this.o.projectQuota - this.images.repo.storedBytes(i.owner));
      if (length !== null && length > quotaLeft)
        throw new OverLimit(`Image exceeds the storage quota: ${length} bytes needed, ${quotaLeft} left.`);
      limit = Math.min(limit, quotaLeft);
    }
    const overLimit = () =>
      quotaLeft <= cap && limit === quotaLeft
        ? new OverLimit(`Image exceeds the storage quota: more than ${quotaLeft} bytes left.`)
        : new OverLimit(`The incoming image is too large: the limit is ${cap} bytes.`);
    return { limit, overLimit };
  }

  /**
   * Streams `source` into a staging file of `store`, counting it against `limits`,
   * hashing it (MD5, SHA-512) and reading its real format as it passes; then checks the
   * size against `length` and the format against the image's disk_format (and with
   * qemu-img where configured). Returns the staged data for the caller to commit; on any
   * failure nothing of it remains and the error says why (CloudError for the caller's
   * mistakes, 400/413).
   */
  async ingest(
    i: ImageRow,
    source: Readable,
    length: number | null,
    store: ImageStore,
    o: IngestLimits & { interrupted: () => Error; onBytes?: (n: number) => void },
  ): Promise<Ingested> {
    let staging: StagingWriter | null = null;
    let staged: StagedImage | null = null;
    try {
      let got: Received;
      try {
        staging = await store.createStaging(i.id);
        got = await receive(source, staging, {
          limit: o.limit,
          overLimit: o.overLimit,
          expected: length,
          parallel: this.o.parallelHash ?? false,
          onBytes: o.onBytes,
        });
        staged = await staging.finish();
      } catch (e) {
        if (e instanceof CloudError) throw e;
        if (isAbort(e)) throw o.interrupted();
        if (isStorageFull(e))
          throw new OverLimit('Image storage media is full: there is not enough space on the image store for this image.');
        throw e;
      }
      if (length !== null && staged.bytes !== length) {
        throw new BadRequest(`Received ${staged.bytes} bytes but Content-Length said ${length}.`);
      }
      const inspection = got.sniffer.result();
      const problems = refusals(i.disk_format, inspection);
      let virtualSize = inspection.virtualSize;
      if (!problems.length && this.o.qemuCheck && QEMU_CHECKED.has(inspection.format)) {
        const fmt = qemuFormatOf(i.disk_format!)!;
        try {
          const info = await staged.probe(fmt);
          if (info?.backingFilename) problems.push('qemu-img reports a backing file');
          if (info?.dataFile) problems.push('qemu-img reports an external data file');
          virtualSize ??= info?.virtualSize ?? null;
        } catch (e) {
          this.o.log?.warn({ err: e, image: i.id }, 'qemu-img could not read the image data');
          problems.push(`qemu-img cannot read the data as ${i.disk_format}`);
        }
      }
      if (problems.length) throw new BadRequest(`Image data refused: ${problems.join('; ')}.`);
      return { staged, bytes: staged.bytes, digests: got.digests, virtualSize };
    } catch (e) {
      await (staged ?? staging)?.abort();
      throw e;
    }
  }

  /** The columns an image gets when `got` becomes its data in `stores`. */
  static activeFields(got: Ingested, key: string, stores: string[]): Partial<ImageRow> {
    return {
      status: 'active',
      size: got.bytes,
      virtual_size: got.virtualSize,
      checksum: got.digests.md5,
      os_hash_algo: 'sha512',
      os_hash_value: got.digests.sha512,
      store_key: key,
      stores,
      updated_at: isoSeconds(new Date()),
    };
  }

  /**
   * PUT /v2/images/{id}/file (ctx null: the cloud itself, e.g. a snapshot). The image
   * goes queued → saving → active; on any failure it is back to queued and no bytes
   * remain. `length` is the Content-Length when the client sent one; `storeId` the
   * X-Image-Meta-Store header (400 for a store that does not exist, as Glance).
   */
  async upload(
    ctx: AuthContext | null,
    id: string,
    source: Readable,
    length: number | null,
    storeId?: string,
  ): Promise<ImageRow> {
    const i = this.images.find(ctx, id);
    this.images.enforce('upload_image', ctx, i);
    if (ctx && !this.images.isOwner(ctx, i)) throw new Forbidden(`Not allowed to upload image data for image ${i.id}`);
    if (i.status !== 'queued') throw new Conflict(`Image status transition from ${i.status} to saving is not allowed`);
    if (!i.disk_format || !i.container_format) {
      throw new BadRequest('Properties disk_format, container_format must be set prior to saving data.');
    }
    const sid = storeId ?? this.stores.defaultId;
    let store: ImageStore;
    try {
      store = this.stores.get(sid);
    } catch (e) {
      if (e instanceof UnknownStore) throw new BadRequest(e.message);
      throw e;
    }
    const limits = this.limitsFor(i, length);
    if (!this.images.repo.update(i.id, { status: 'saving', updated_at: isoSeconds(new Date()) }, ['queued'])) {
      throw new Conflict(
        `Image status transition from ${this.images.repo.get(i.id)?.status ?? 'deleted'} to saving is not allowed`,
      );
    }
    try {
      const got = await this.ingest(i, source, length, store, {
        ...limits,
        interrupted: () => new BadRequest('The upload was interrupted before all image data arrived.'),
      });
      const key = await got.staged.commit();
      if (!this.images.repo.update(i.id, ImageData.activeFields(got, key, [sid]), ['saving'])) {
        await store.delete(key);
        throw new ImageGone(i.id);
      }
      return this.images.repo.get(i.id)!;
    } catch (e) {
      this.images.repo.update(i.id, { status: 'queued', updated_at: isoSeconds(new Date()) }, ['saving']);
      this.o.log?.info({ image: i.id, err: (e as Error).message }, 'upload refused; image back to queued');
      throw e;
    }
  }

  /** The store to read `i`'s data from: the default store when it has it, else the first that does. */
  readStoreOf(i: ImageRow): ImageStore | null {
    if (!i.store_key) return null;
    const known = i.stores.filter((s) => this.stores.has(s));
    const sid = known.includes(this.stores.defaultId) ? this.stores.defaultId : known[0];
    return sid ? this.stores.get(sid) : null;
  }

  /** GET /v2/images/{id}/file, whole or one byte range. */
  async download(ctx: AuthContext | null, id: string, rangeHeader?: string): Promise<Download> {
    const i = this.images.find(ctx, id);
    this.images.enforce('download_image', ctx, i);
    if (i.status === 'deactivated' && ctx && !ctx.isAdmin) {
      throw new Forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    const store = this.readStoreOf(i);
    if (!store || !i.store_key || i.size === null || (i.status !== 'active' && i.status !== 'deactivated')) {
      return { image: i, reader: null, range: null };
    }
    const range = rangeHeader ? parseRange(rangeHeader, i.size) : null;
    if (i.size === 0) return { image: i, reader: null, range: null };
    return { image: i, reader: await store.openReader(i.store_key), range };
  }
}
