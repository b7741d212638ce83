import type { Readable } from 'node:stream';
import type { ImportMethod } from '../../shared/api/image.js';
import { BadRequest, CloudError } from '../../shared/errors/index.js';
import { cinderTime, isoSeconds } from '../../shared/util/time.js';
import { ImageData } from './image-data.service.js';
import type { ImageRow } from './images.repo.js';
import type { ImageService } from './images.service.js';
import { UriRefused } from './import-filter.js';
import type { ImageStore } from './store.js';
import type { TaskRepo } from './tasks.repo.js';
import { openWebDownload, type WebDownloadOptions } from './web-download.js';

export type { ImportMethod };

/** One accepted import request: the task that runs it and what it asked for. */
export interface ImportJob {
  taskId: string;
  imageId: string;
  method: ImportMethod;
  uri?: string;
  /** Target stores, in the order they are filled. */
  stores: string[];
  allStoresMustSucceed: boolean;
}

/** Bytes moved so far by a running import, and the total when known. */
export interface ImportProgress {
  taskId: string;
  method: ImportMethod;
  bytes: number;
  total: number | null;
}

export interface RunnerDeps {
  images: ImageService;
  data: ImageData;
  /** Where glance-direct keeps staged data (key = image id). */
  staging: ImageStore;
  tasks: TaskRepo;
  download: Omit<WebDownloadOptions, 'signal'>;
  maxConcurrent: number;
  taskTtlS: number;
  log?: { warn(o: object, m?: string): void; info(o: object, m?: string): void };
}

/** The import lost its image (deleted) or its lock (taken over) while it ran. */
class ImportLost extends Error {}

const MiB = 1 << 20;
const now = () => isoSeconds(new Date());
const csv = (xs: Iterable<string>) => [...new Set(xs)].filter(Boolean).sort().join(',');
const setOf = (s: string | null) => (s ? s.split(',').filter(Boolean) : []);

/** The message a task or an image keeps for a failure: what the user can act on, never a stack. */
export function failureMessage(e: unknown): string {
  if (e instanceof UriRefused) return e.message;
  if (e instanceof CloudError) return e.safe ? e.message : 'internal error';
  const m = (e as Error)?.message;
  return typeof m === 'string' && m ? m : 'internal error';
}

/**
 * Runs accepted imports in the background, at most `maxConcurrent` at once (the rest
 * wait as pending tasks), as Glance's api_image_import flow does: the data of each
 * target store goes through ImageData.ingest — size limits, MD5 and SHA-512, the
 * format checks — exactly as an upload's; the image turns active with its first store
 * when all_stores_must_succeed is false, otherwise with the last. On failure the image
 * is back to queued (copy-image: stays active), the failed stores are listed in
 * os_glance_failed_import, data this import wrote is deleted, staged data is dropped,
 * the lock is released and the task says why.
 */
export class ImportRunner {
  private readonly running = new Map<string, { abort: AbortController; progress: ImportProgress }>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private readonly all = new Set<Promise<void>>();

  constructor(private readonly d: RunnerDeps) {}

  /** Starts `job` now or when a slot frees. */
  enqueue(job: ImportJob): void {
    const abort = new AbortController();
    this.running.set(job.imageId, { abort, progress: { taskId: job.taskId, method: job.method, bytes: 0, total: null } });
    const p = this.slot()
      .then(() => this.run(job, abort.signal))
      .catch((e) => this.d.log?.warn({ err: e, image: job.imageId }, 'image import crashed'))
      .finally(() => {
        this.active--;
        this.waiting.shift()?.();
        if (this.running.get(job.imageId)?.progress.taskId === job.taskId) this.running.delete(job.imageId);
        this.all.delete(p);
      });
    this.all.add(p);
  }

  private slot(): Promise<void> {
    if (this.active < this.d.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.active++;
        resolve();
      });
    });
  }

  /** Whether an import of `imageId` runs or waits in this process. */
  isRunning(imageId: string, taskId?: string): boolean {
    const r = this.running.get(imageId);
    return !!r && (!taskId || r.progress.taskId === taskId);
  }

  progress(imageId: string): ImportProgress | null {
    const r = this.running.get(imageId);
    return r ? { ...r.progress } : null;
  }

  /** Stops the import of `imageId` (its image was deleted). */
  abort(imageId: string): void {
    this.running.get(imageId)?.abort.abort();
  }

  /** Stops every import (the controller is stopping) and waits until they have cleaned up. */
  async stopAll(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort();
    await this.idle();
  }

  /** Resolves when every import started so far has ended. */
  async idle(): Promise<void> {
    while (this.all.size) await Promise.allSettled([...this.all]);
  }

  private async run(job: ImportJob, signal: AbortSignal): Promise<void> {
    const { images, tasks } = this.d;
    const repo = images.repo;
    tasks.update(job.taskId, { status: 'processing', updated_at: cinderTime(new Date()) }, ['pending']);
    const committed: Array<{ sid: string; key: string }> = [];
    const failed: string[] = [];
    const reasons: string[] = [];
    let activated = false;
    let lastMessage = 0;
    const progress = this.running.get(job.imageId)?.progress;
    const onBytes = (n: number) => {
      if (progress) progress.bytes = n;
      const t = Date.now();
      if (t - lastMessage >= 1000) {
        lastMessage = t;
        // Glance's progress text, with the total when the source said it.
        const of = progress?.total ? ` of ${Math.ceil(progress.total / MiB)} MiB` : '';
        tasks.update(job.taskId, { message: `Copied ${Math.floor(n / MiB)} MiB${of}`, updated_at: cinderTime(new Date()) });
      }
    };
    try {
      for (const [idx, sid] of job.stores.entries()) {
        if (signal.aborted) throw new ImportLost('the import was stopped');
        const image = repo.get(job.imageId);
        if (!image || image.import_task !== job.taskId) throw new ImportLost('the image was deleted or another import took over');
        const firstDone = committed[0]?.sid;
        try {
          const src = await this.source(job, image, firstDone, signal);
          if (progress) {
            progress.bytes = 0;
            progress.total = src.length;
          }
          const store = this.d.data.stores.get(sid);
          const got = await this.d.data.ingest(image, src.body, src.length, store, {
            // A copy of data the project already has stored counts against the size cap only.
            ...this.d.data.limitsFor(image, src.length, { quota: job.method !== 'copy-image' && !firstDone }),
            interrupted: () => new BadRequest(`the download was cut short after ${progress?.bytes ?? 0} bytes`),
            onBytes,
          });
          if (job.method === 'copy-image' && (got.digests.md5 !== image.checksum || got.digests.sha512 !== image.os_hash_value)) {
            await got.staged.abort();
            throw new BadRequest(`the copy in store ${sid} does not match the image's checksum`);
          }
          const key = await got.staged.commit();
          committed.push({ sid, key });
          const fresh = repo.get(job.imageId);
          const fields: Partial<ImageRow> = {
            stores: [...(fresh?.stores ?? []), sid],
            importing_stores: csv(setOf(fresh?.importing_stores ?? '').filter((s) => s !== sid)),
            updated_at: now(),
          };
          const last = idx === job.stores.length - 1;
          const activate: boolean = job.method !== 'copy-image' && !activated && (last || !job.allStoresMustSucceed);
          const ok = activate
            ? repo.updateIfLocked(job.imageId, job.taskId, { ...ImageData.activeFields(got, key, fields.stores!), ...fields }, [
                'importing',
              ])
            : repo.updateIfLocked(job.imageId, job.taskId, fields);
          if (!ok) throw new ImportLost('the image was deleted or another import took over');
          activated ||= activate;
        } catch (e) {
          if (e instanceof ImportLost || signal.aborted) throw e;
          failed.push(sid);
          reasons.push(job.stores.length > 1 ? `${sid}: ${failureMessage(e)}` : failureMessage(e));
          this.d.log?.info({ image: job.imageId, store: sid, err: failureMessage(e) }, 'image import to a store failed');
          const fresh = repo.get(job.imageId);
          repo.updateIfLocked(job.imageId, job.taskId, {
            importing_stores: csv(setOf(fresh?.importing_stores ?? '').filter((s) => s !== sid)),
            failed_stores: csv([...setOf(fresh?.failed_stores ?? ''), sid]),
            updated_at: now(),
          });
          if (job.allStoresMustSucceed) throw e;
        }
      }
      if (job.method !== 'copy-image' && !activated) throw new Error('None of the uploads finished!');
      this.finish(job, 'success', reasons.length ? `Imported, but not to ${reasons.join('; ')}` : '');
    } catch (e) {
      await this.fail(job, committed, e, reasons);
    } finally {
      if (job.method === 'glance-direct') await this.d.staging.delete(job.imageId).catch(() => {});
    }
  }

  /** The bytes to import: the URL, the staged file, or (copy-image, later stores) a store holding the image. */
  private async source(
    job: ImportJob,
    image: ImageRow,
    firstDone: string | undefined,
    signal: AbortSignal,
  ): Promise<{ body: Readable; length: number | null }> {
    const fromStore = async (sid: string) => {
      const size = await this.d.data.stores.get(sid).size(image.store_key ?? image.id);
      return { body: await this.d.data.stores.get(sid).open(image.store_key ?? image.id), length: size };
    };
    if (firstDone) return fromStore(firstDone);
    if (job.method === 'web-download') {
      const dl = await openWebDownload(job.uri!, { ...this.d.download, signal });
      return { body: dl.body, length: dl.length };
    }
    if (job.method === 'glance-direct') {
      const length = await this.d.staging.size(image.id);
      if (length === null) throw new BadRequest('the staged image data is gone');
      return { body: await this.d.staging.open(image.id), length };
    }
    const from = image.stores.find((s) => this.d.data.stores.has(s));
    if (!from || !image.store_key) throw new BadRequest('the image has no data in any configured store');
    return fromStore(from);
  }

  private finish(job: ImportJob, status: 'success' | 'failure', message: string): void {
    const t = new Date();
    this.d.tasks.update(job.taskId, {
      status,
      message,
      result: status === 'success' ? { image_id: job.imageId } : null,
      updated_at: cinderTime(t),
      expires_at: cinderTime(new Date(t.getTime() + this.d.taskTtlS * 1000)),
    });
    this.d.images.repo.updateIfLocked(job.imageId, job.taskId, { import_task: null, updated_at: isoSeconds(t) });
  }

  /**
   * Undoes what this import wrote (the data it committed, in every store), puts the
   * image back to queued (copy-image: leaves it active with the stores it had), records
   * the reason on the task and releases the lock. The failed stores were added to
   * os_glance_failed_import as they failed.
   */
  private async fail(
    job: ImportJob,
    committed: Array<{ sid: string; key: string }>,
    e: unknown,
    reasons: string[],
  ): Promise<void> {
    const repo = this.d.images.repo;
    if (!(e instanceof ImportLost) && !reasons.length) reasons.push(failureMessage(e));
    const message = reasons.length ? reasons.join('; ') : failureMessage(e);
    const cur = repo.get(job.imageId);
    const ours = cur?.import_task === job.taskId;
    for (const c of committed) {
      // Data this import committed, unless the image has since been given it by someone else.
      if (ours || !cur?.stores.includes(c.sid))
        await this.d.data.stores
          .get(c.sid)
          .delete(c.key)
          .catch(() => {});
    }
    if (cur && ours) {
      const dropped = new Set(committed.map((c) => c.sid));
      const left = cur.stores.filter((s) => !dropped.has(s));
      const mine = new Set(job.stores);
      repo.updateIfLocked(job.imageId, job.taskId, {
        stores: left,
        ...(left.length
          ? {}
          : { store_key: null, size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null }),
        importing_stores: csv(setOf(cur.importing_stores).filter((s) => !mine.has(s))),
        updated_at: now(),
      });
      if (job.method !== 'copy-image') {
        repo.updateIfLocked(job.imageId, job.taskId, { status: 'queued', size: null, virtual_size: null }, ['importing']);
      }
    }
    this.d.log?.info({ image: job.imageId, task: job.taskId, err: message }, 'image import failed');
    this.finish(job, 'failure', message);
  }
}
