import type { Readable } from 'node:stream';
import { Value } from 'typebox/value';
import { ImageImportRequest } from '../../shared/api/image.js';
import { BadRequest, CloudError, Conflict, Forbidden, NotFound, OverLimit } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import { cinderTime, isoSeconds } from '../../shared/util/time.js';
import type { AuthContext } from '../http/auth.js';
import { isStorageFull, type ImageData } from './image-data.service.js';
import type { ImageRow, ImageStatus } from './images.repo.js';
import type { ImageService } from './images.service.js';
import { checkImportUri, UriRefused } from './import-filter.js';
import { type ImportJob, type ImportMethod, type ImportProgress, ImportRunner, type RunnerDeps } from './import-runner.js';
import type { StagingWriter } from './store.js';
import type { TaskRepo, TaskRow } from './tasks.repo.js';

export interface ImageImportOptions extends Omit<RunnerDeps, 'images' | 'data' | 'tasks'> {
  /** Configured import methods (copy-image is offered only where more than one store exists). */
  methods: readonly ImportMethod[];
}

const now = () => isoSeconds(new Date());
const csv = (xs: Iterable<string>) => [...new Set(xs)].filter(Boolean).sort().join(',');
const setOf = (s: string | null) => (s ? s.split(',').filter(Boolean) : []);

/** Glance's task document (glance/db/sqlalchemy/api.py _task_format). */
export function taskView(t: TaskRow): Record<string, unknown> {
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    owner: t.owner,
    expires_at: t.expires_at,
    created_at: t.created_at,
    updated_at: t.updated_at,
    deleted_at: null,
    deleted: false,
    image_id: t.image_id,
    request_id: t.request_id,
    user_id: t.user_id,
    input: t.input,
    result: t.result,
    message: t.message,
  };
}

/**
 * Glance's interoperable image import (API v2.6+): the methods on offer, staging for
 * glance-direct, POST /v2/images/{id}/import with Glance's checks and messages
 * (glance/api/v2/images.py import_image), the import lock (os_glance_import_task) and
 * the tasks. The work itself runs in ImportRunner.
 */
export class ImageImport {
  readonly runner: ImportRunner;

  constructor(
    private readonly images: ImageService,
    private readonly data: ImageData,
    private readonly tasks: TaskRepo,
    private readonly o: ImageImportOptions,
  ) {
    this.runner = new ImportRunner({ ...o, images, data, tasks });
  }

  /** The methods this cloud really offers. */
  methods(): ImportMethod[] {
    return this.o.methods.filter((m) => m !== 'copy-image' || this.data.stores.multiple);
  }

  /** GET /v2/info/import. */
  info(): Record<string, unknown> {
    return { 'import-methods': { description: 'Import methods available.', type: 'array', value: this.methods() } };
  }

  /** GET /v2/info/stores (Glance's shape: "default" and "read-only" are the strings "true"). */
  storesInfo(): { stores: Array<Record<string, string>> } {
    return {
      stores: this.data.stores.entries.map((e) => ({
        id: e.id,
        ...(e.description ? { description: e.description } : {}),
        ...(e.id === this.data.stores.defaultId ? { default: 'true' } : {}),
      })),
    };
  }

  private staging() {
    return this.o.staging;
  }

  /**
   * PUT /v2/images/{id}/stage: the data kept aside for a glance-direct import; the image
   * goes queued → uploading and its size is the staged size. On failure nothing stays
   * staged and the image is queued again.
   */
  async stage(ctx: AuthContext, id: string, source: Readable, length: number | null): Promise<void> {
    const i = this.images.find(ctx, id);
    this.images.enforce('modify_image', ctx, i);
    if (!this.images.isOwner(ctx, i)) throw new Forbidden('You are not permitted to modify this image.');
    const { limit, overLimit } = this.data.limitsFor(i, length);
    if (!this.images.repo.update(i.id, { status: 'uploading', updated_at: now() }, ['queued'])) {
      throw new Conflict(
        `Image status transition from ${this.images.repo.get(i.id)?.status ?? 'deleted'} to uploading is not allowed`,
      );
    }
    let writer: StagingWriter | null = null;
    try {
      writer = await this.staging().createStaging(i.id);
      let bytes = 0;
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > limit) throw overLimit();
          const w = writer.write(chunk);
          if (w) await w;
        }
      } catch (e) {
        if (e instanceof CloudError) throw e;
        if (isStorageFull(e)) throw new OverLimit('Image storage media is full: there is not enough space for the staged data.');
        throw new BadRequest('The upload was interrupted before all image data arrived.');
      }
      const staged = await writer.finish();
      if (length !== null && staged.bytes !== length) {
        await staged.abort();
        throw new BadRequest(`Received ${staged.bytes} bytes but Content-Length said ${length}.`);
      }
      await staged.commit();
      writer = null;
      if (!this.images.repo.update(i.id, { size: staged.bytes, updated_at: now() }, ['uploading'])) {
        await this.staging().delete(i.id);
        throw new NotFound(`No image found with ID ${id}`);
      }
    } catch (e) {
      await writer?.abort();
      this.images.repo.update(i.id, { status: 'queued', size: null, updated_at: now() }, ['uploading']);
      throw e;
    }
  }

  /** Reads and checks the body as Glance's deserializer does (400s). */
  private parseBody(body: unknown): {
    method: ImportMethod;
    uri: unknown;
    allStores: boolean;
    allMust: boolean;
    stores?: unknown;
  } {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('Body expected in request.');
    const b = body as Record<string, unknown>;
    const m = b.method as Record<string, unknown> | undefined;
    if (m === undefined || m === null) throw new BadRequest("Import request requires a 'method' field.");
    if (typeof m !== 'object' || Array.isArray(m) || !('name' in m))
      throw new BadRequest("Import request requires a 'name' field.");
    const name = m.name;
    if (typeof name !== 'string' || !(this.methods() as string[]).includes(name))
      throw new BadRequest(`Unknown import method name '${String(name)}'.`);
    const allMust = b.all_stores_must_succeed ?? true;
    if (typeof allMust !== 'boolean') throw new BadRequest("'all_stores_must_succeed' must be boolean value only");
    const allStores = b.all_stores ?? false;
    if (typeof allStores !== 'boolean') throw new BadRequest("'all_stores' must be boolean value only");
    if (!Value.Check(ImageImportRequest, b)) {
      const e = [...Value.Errors(ImageImportRequest, b)][0];
      throw new BadRequest(`Invalid import request: ${e ? `${e.instancePath || '/'} ${e.message}` : 'malformed body'}`);
    }
    return { method: name as ImportMethod, uri: m.uri, allStores, allMust, ...('stores' in b ? { stores: b.stores } : {}) };
  }

  /** Glance's get_stores_from_request: all_stores, the `stores` list, X-Image-Meta-Store, or the default. */
  private storesOf(p: { allStores: boolean; stores?: unknown }, header: string | undefined): string[] {
    let stores: string[];
    if (p.allStores) {
      if (p.stores !== undefined || header !== undefined)
        throw new BadRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter");
      stores = this.data.stores.ids();
    } else if (p.stores !== undefined) {
      if (header !== undefined) throw new BadRequest("Stores parameter and x-image-meta-store header can't be both specified");
      if (!Array.isArray(p.stores) || p.stores.some((s) => typeof s !== 'string'))
        throw new BadRequest("'stores' must be a list of store identifiers");
      stores = [...new Set(p.stores as string[])];
    } else {
      stores = [header ?? this.data.stores.defaultId];
    }
    for (const s of stores) this.data.stores.get(s); // 409 for an unknown store
    return stores;
  }

  /**
   * POST /v2/images/{id}/import (202). Checks the request, takes the image's import
   * lock, records the task and hands it to the runner.
   */
  async start(ctx: AuthContext, id: string, body: unknown, o: { requestId: string; storeHeader?: string }): Promise<void> {
    const p = this.parseBody(body);
    const i = this.images.find(ctx, id);
    if (i.status === 'active' && p.method !== 'copy-image')
      throw new Conflict('Image with status active cannot be target for import');
    if (i.status !== 'active' && p.method === 'copy-image')
      throw new Conflict('Only images with status active can be targeted for copying');
    if (i.status !== 'queued' && p.method === 'web-download')
      throw new Conflict(`Image needs to be in 'queued' state to use '${p.method}' method`);
    if (i.status !== 'uploading' && p.method === 'glance-direct')
      throw new Conflict("Image needs to be staged before 'glance-direct' method can be used");
    if (!i.container_format) throw new Conflict("'container_format' needs to be set before import");
    if (!i.disk_format) throw new Conflict("'disk_format' needs to be set before import");
    if (p.method === 'copy-image') this.images.enforce('copy_image', ctx, i);
    else {
      this.images.enforce('modify_image', ctx, i);
      if (!this.images.isOwner(ctx, i)) throw new Forbidden('You are not permitted to modify this image.');
    }
    if (i.import_task && this.runner.isRunning(i.id, i.import_task)) throw new Conflict('Image has active task');
    let stores = this.storesOf(p, o.storeHeader);
    if (p.method === 'copy-image') {
      if (p.allStores) {
        stores = stores.filter((s) => !i.stores.includes(s));
        if (!stores.length) return; // already in every store: nothing to do
      } else {
        const there = stores.find((s) => i.stores.includes(s));
        if (there) throw new BadRequest(`Image is already present at store '${there}'`);
      }
    }
    if (p.method === 'web-download') {
      try {
        await checkImportUri(typeof p.uri === 'string' ? p.uri : '', this.o.download.filter, this.o.download.resolve);
      } catch (e) {
        if (e instanceof UriRefused) throw new BadRequest(e.message);
        throw e;
      }
    }
    this.startTask(ctx, i, p, stores, o.requestId);
  }

  private startTask(
    ctx: AuthContext,
    i: ImageRow,
    p: { method: ImportMethod; uri: unknown; allStores: boolean; allMust: boolean; stores?: unknown },
    stores: string[],
    requestId: string,
  ): void {
    const t = new Date();
    this.tasks.prune(cinderTime(t));
    const taskId = newUuid();
    const importReq: Record<string, unknown> = { method: { name: p.method, ...(p.uri !== undefined ? { uri: p.uri } : {}) } };
    if (p.stores !== undefined) importReq.stores = p.stores;
    if (p.allStores) importReq.all_stores = true;
    if (!p.allMust) importReq.all_stores_must_succeed = false;
    const copy = p.method === 'copy-image';
    const expected: ImageStatus[] = copy ? ['active'] : [p.method === 'glance-direct' ? 'uploading' : 'queued'];
    // A lock left by an import that no longer runs here (a crash the startup did not
    // see) is stale: take it over, as Glance busts an expired lock.
    if (i.import_task && !this.runner.isRunning(i.id)) {
      this.images.repo.update(i.id, { import_task: null });
      this.tasks.update(i.import_task, { status: 'failure', message: 'abandoned', updated_at: cinderTime(t) }, [
        'pending',
        'processing',
      ]);
    }
    const took = this.images.repo.takeImportLock(i.id, taskId, expected, {
      ...(copy ? {} : { status: 'importing' }),
      importing_stores: csv([...setOf(i.importing_stores), ...stores]),
      failed_stores: csv(setOf(i.failed_stores).filter((s) => !stores.includes(s))),
      updated_at: isoSeconds(t),
    });
    if (!took) throw new Conflict(`New operation on image '${i.id}' is not permitted as prior operation is still in progress`);
    this.tasks.insert({
      id: taskId,
      type: 'api_image_import',
      status: 'pending',
      owner: ctx.projectId ?? null,
      image_id: i.id,
      user_id: ctx.userId,
      request_id: requestId,
      input: { image_id: i.id, import_req: importReq, backend: stores },
      result: null,
      message: '',
      created_at: cinderTime(t),
      updated_at: cinderTime(t),
      expires_at: null,
    });
    const job: ImportJob = {
      taskId,
      imageId: i.id,
      method: p.method,
      ...(typeof p.uri === 'string' ? { uri: p.uri } : {}),
      stores,
      allStoresMustSucceed: p.allMust,
    };
    this.runner.enqueue(job);
  }

  /** GET /v2/images/{id}/tasks: the image's tasks the caller may see (404 when it may not see the image). */
  tasksOf(ctx: AuthContext, id: string): TaskRow[] {
    const i = this.images.find(ctx, id);
    this.images.enforce('get_image', ctx, i);
    return this.tasks.forImage(i.id, cinderTime(new Date())).filter((t) => ctx.isAdmin || t.owner === ctx.projectId);
  }

  /** Progress of the running import of an image the caller may see, or null. */
  progress(ctx: AuthContext, id: string): ImportProgress | null {
    const i = this.images.find(ctx, id);
    return this.runner.progress(i.id);
  }

  /** The image was deleted: stop its import and drop its staged data. */
  async forget(id: string): Promise<void> {
    this.runner.abort(id);
    await this.staging()
      .delete(id)
      .catch(() => {});
  }

  /**
   * At start: no import runs yet, so an unfinished task was cut off by a stop. Its
   * image goes back as a failed import would (importing → queued, its stores listed as
   * failed, the lock released). Database only; sweepStaging() handles the files.
   */
  recover(): { tasks: number; images: number } {
    const repo = this.images.repo;
    const t = new Date();
    const cut = this.tasks.withStatus(['pending', 'processing']);
    for (const task of cut) {
      this.tasks.update(task.id, {
        status: 'failure',
        message: 'The controller stopped during the import; import again.',
        updated_at: cinderTime(t),
        expires_at: cinderTime(new Date(t.getTime() + this.o.taskTtlS * 1000)),
      });
    }
    let fixed = 0;
    for (const i of repo.withStatus(['importing', 'active', 'uploading', 'queued'])) {
      if (!i.import_task && i.status !== 'importing') continue;
      const pending = setOf(i.importing_stores);
      repo.update(i.id, {
        import_task: null,
        ...(i.status === 'importing' ? { status: 'queued', size: null, virtual_size: null } : {}),
        importing_stores: i.importing_stores === null ? null : '',
        failed_stores: i.failed_stores === null && !pending.length ? null : csv([...setOf(i.failed_stores), ...pending]),
        updated_at: isoSeconds(t),
      });
      fixed++;
    }
    return { tasks: cut.length, images: fixed };
  }

  /**
   * Staged data that no image waits on (its image is gone or no longer uploading) is
   * removed, and an uploading image whose staged data is gone is queued again. Only the
   * controller daemon runs this (like the store sweep): an app over another database
   * would see every staged file of the real cloud as orphaned.
   */
  async sweepStaging(): Promise<number> {
    const repo = this.images.repo;
    await this.staging().init();
    let removed = 0;
    for (const key of await this.staging().keys()) {
      if (repo.get(key)?.status === 'uploading') continue;
      await this.staging().delete(key);
      removed++;
    }
    for (const i of repo.withStatus(['uploading'])) {
      if ((await this.staging().size(i.id)) === null) repo.update(i.id, { status: 'queued', size: null }, ['uploading']);
    }
    return removed;
  }
}
