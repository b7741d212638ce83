import type { FastifyPluginAsync } from 'fastify';
import { isoSeconds } from '../../shared/util/time.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { createImagesCore, LocalImageFacade, type ImagesCore } from './facade.js';
import { registerImageRoutes } from './images.routes.js';
import { registerImageVersions } from './versions.js';

/** Glance v2 under /image. Shares its parts with deps.facades.images when buildApp made it. */
export function imagePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'glance' });
    registerImageVersions(app, deps.config.public_url || undefined);
    const f = deps.facades.images;
    const core = f instanceof LocalImageFacade ? f.core : createImagesCore(deps);
    await core.store.init();
    const reset = core.repo.resetSaving(isoSeconds(new Date()));
    if (reset) deps.log.warn({ images: reset }, 'images left saving by an earlier run are queued again');
    registerImageRoutes(app, {
      validator: deps.auth.validator,
      images: core.images,
      data: core.data,
      store: core.store,
      publicUrl: deps.config.public_url || undefined,
    });
  };
}

/**
 * Removes image data no image refers to (a delete whose file removal failed, a crash
 * between commit and the database update). Only the controller daemon runs this, at
 * start (controller/main.ts), never buildApp: an app built by a test or a tool with
 * another database (":memory:") over the default data_dir would otherwise see every
 * file of the real cloud as unreferenced and delete it.
 */
export async function sweepUnreferencedImageData(core: ImagesCore, log: { warn(o: object, m: string): void }): Promise<number> {
  let removed = 0;
  for (const key of await core.store.keys()) {
    if (core.repo.hasStoreKey(key)) continue;
    log.warn({ key }, 'removing image data that no image refers to');
    await core.store.delete(key);
    removed++;
  }
  return removed;
}
