import type { Readable } from 'node:stream';
import { makeRunner, type Runner } from '../../shared/exec/run.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import { isoSeconds } from '../../shared/util/time.js';
import type { ImageFacade, ImageInfo } from '../facades.js';
import type { AuthContext } from '../http/auth.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { ImageData } from './image-data.service.js';
import { registerImagePolicy } from './policy.js';
import { ImageRepo, type ImageRow } from './images.repo.js';
import { ImageService } from './images.service.js';
import { IMAGE_STORES, type ImageStore } from './store.js';

/** The image service's parts, shared by its HTTP plugin and its facade. */
export interface ImagesCore {
  repo: ImageRepo;
  store: ImageStore;
  images: ImageService;
  data: ImageData;
}

/**
 * Builds the parts from the service deps. `deps.extras.runner` (a Runner) replaces
 * the real exec runner, `deps.extras.imageStore` the configured store (tests).
 */
export function createImagesCore(deps: ServiceDeps): ImagesCore {
  const c = deps.config.images;
  const repo = new ImageRepo(deps.db);
  const storeOverride = deps.extras.imageStore as ImageStore | undefined;
  const makeStore = IMAGE_STORES[c.store];
  if (!storeOverride && !makeStore) throw new Error(`unknown image store ${JSON.stringify(c.store)}`);
  const runner = (deps.extras.runner as Runner | undefined) ?? makeRunner(deps.log);
  const store = storeOverride ?? makeStore!(deps.config.data_dir, c.qemu_img_check ? qemuImg(runner) : null);
  registerImagePolicy(deps.auth.policy);
  const images = new ImageService(repo, deps.auth.policy);
  const data = new ImageData(images, store, {
    imageSizeCap: c.image_size_cap,
    projectQuota: c.project_storage_quota,
    parallelHash: c.parallel_hash,
    qemuCheck: c.qemu_img_check,
    log: deps.log,
  });
  return { repo, store, images, data };
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

  async open(id: string, range?: { start: number; end: number }): Promise<Readable> {
    const i = this.core.images.find(null, id);
    if (!i.store_key || (i.status !== 'active' && i.status !== 'deactivated')) {
      throw Object.assign(new Error(`image ${id} has no data (status ${i.status})`), { code: 'ENOENT' });
    }
    return this.core.store.open(i.store_key, range);
  }
}

/** The facade buildApp hands to the other services (deps.facades.images). */
export function createImageFacade(deps: ServiceDeps): LocalImageFacade {
  return new LocalImageFacade(createImagesCore(deps));
}
