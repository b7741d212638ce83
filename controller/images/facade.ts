import type { Readable } from 'node:stream';
import { makeRunner, type Runner } from '../../shared/exec/run.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import { isoSeconds } from '../../shared/util/time.js';
import type { ImageFacade, ImageInfo } from '../facades.js';
import type { AuthContext } from '../http/auth.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { join } from 'node:path';
import { ImageData } from './image-data.service.js';
import { ImageImport } from './image-import.service.js';
import type { Resolver } from './import-filter.js';
import { ImageStoreRemoval } from './store-removal.service.js';
import { FileImageStore } from './store.js';
import { TaskRepo } from './tasks.repo.js';
import { registerImagePolicy } from './policy.js';
import { ImageRepo, type ImageRow } from './images.repo.js';
import { ImageService } from './images.service.js';
import type { ImageStore } from './store.js';
import { buildImageStores, type ImageStores } from './stores.js';

/** The image service's parts, shared by its HTTP plugin and its facade. */
export interface ImagesCore {
  repo: ImageRepo;
  stores: ImageStores;
  images: ImageService;
  data: ImageData;
  importer: ImageImport;
  removal: ImageStoreRemoval;
}

/**
 * Builds the parts from the service deps. `deps.extras.runner` (a Runner) replaces
 * the real exec runner, `deps.extras.imageStore` the default store's driver and
 * `deps.extras.importResolver` (a Resolver) web-download's name resolution (tests).
 * glance-direct stages data under <data_dir>/image-staging.
 */
export function createImagesCore(deps: ServiceDeps): ImagesCore {
  const c = deps.config.images;
  const repo = new ImageRepo(deps.db);
  const runner = (deps.extras.runner as Runner | undefined) ?? makeRunner(deps.log);
  const stores = buildImageStores(
    deps.config,
    c.qemu_img_check ? qemuImg(runner) : null,
    deps.extras.imageStore as ImageStore | undefined,
  );
  registerImagePolicy(deps.auth.policy);
  const images = new ImageService(repo, deps.auth.policy);
  const data = new ImageData(images, stores, {
    imageSizeCap: c.image_size_cap,
    projectQuota: c.project_storage_quota,
    parallelHash: c.parallel_hash,
    qemuCheck: c.qemu_img_check,
    log: deps.log,
  });
  const imp = deps.config.image_import;
  const importer = new ImageImport(images, data, new TaskRepo(deps.db), {
    methods: imp.methods,
    staging: new FileImageStore(join(deps.config.data_dir, 'image-staging')),
    download: {
      filter: imp,
      maxRedirects: imp.max_redirects,
      connectTimeoutMs: imp.connect_timeout_s * 1000,
      idleTimeoutMs: imp.idle_timeout_s * 1000,
      ...(deps.extras.importResolver ? { resolve: deps.extras.importResolver as Resolver } : {}),
    },
    maxConcurrent: imp.max_concurrent,
    taskTtlS: imp.task_ttl_s,
    log: deps.log,
  });
  return { repo, stores, images, data, importer, removal: new ImageStoreRemoval(images, data) };
}

export function imageInfo(i: ImageRow): ImageInfo {
  return {
    id: i.id,
    name: i.name,
    status: i.status,
    owner: i.owner,
    visibility: i.visibility,
    disk_format: i.disk_format,
    container_format: i.container_format,
    size: i.size,
    virtual_size: i.virtual_size,
    checksum: i.checksum,
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    properties: { ...i.properties },
  };
}

/** What other services use of images (Nova's snapshots and boots, Cinder's volumes from images). */
export class LocalImageFacade implements ImageFacade {
  constructor(readonly core: ImagesCore) {}

  get(ctx: AuthContext | null, id: string): ImageInfo | null {
    try {
      return imageInfo(this.core.images.find(ctx, id));
    } catch {
      return null;
    }
  }

  createRecord(ctx: AuthContext, fields: Parameters<ImageFacade['createRecord']>[1]): ImageInfo {
    const { properties, owner, ...core } = fields;
    const row = this.core.images.create(null, { ...(properties ?? {}), ...core, owner }, owner);
    return imageInfo(row);
  }

  async upload(id: string, data: Readable): Promise<ImageInfo> {
    return imageInfo(await this.core.data.upload(null, id, data, null));
  }

  /** The reason is the caller's to log; Glance keeps no field for it. */
  kill(id: string, _reason: string): void {
    this.core.repo.update(id, { status: 'killed', updated_at: isoSeconds(new Date()) }, ['queued', 'saving']);
  }

  withProperties(owner: string, props: Record<string, string>): ImageInfo[] {
    return this.core.repo.withProperties(owner, props).map(imageInfo);
  }

  async remove(id: string): Promise<void> {
    const gone = this.core.images.delete(null, id);
    await this.core.importer.forget(gone.id);
    const key = gone.store_key;
    for (const sid of key ? gone.stores.filter((x) => this.core.data.stores.has(x)) : []) {
      await this.core.data.stores.get(sid).delete(key!);
    }
  }

  importProgress(id: string): { bytes: number; total: number | null } | null {
    const p = this.core.importer.runner.progress(id);
    return p ? { bytes: p.bytes, total: p.total } : null;
  }

  async open(id: string, range?: { start: number; end: number }): Promise<Readable> {
    const i = this.core.images.find(null, id);
    const store = this.core.data.readStoreOf(i);
    if (!store || !i.store_key || (i.status !== 'active' && i.status !== 'deactivated')) {
      throw Object.assign(new Error(`image ${id} has no data (status ${i.status})`), { code: 'ENOENT' });
    }
    return store.open(i.store_key, range);
  }
}

/** The facade buildApp hands to the other services (deps.facades.images). */
export function createImageFacade(deps: ServiceDeps): LocalImageFacade {
  return new LocalImageFacade(createImagesCore(deps));
}
