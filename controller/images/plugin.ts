import type { FastifyPluginAsync } from 'fastify';
import { isoSeconds } from '../../shared/util/time.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { createImagesCore, LocalImageFacade, type ImagesCore } from './facade.js';
import { registerImageImportRoutes } from './image-import.routes.js';
import { registerImageRoutes } from './images.routes.js';
import { MetadefContents } from './metadef-contents.service.js';
import { MetadefRepo } from './metadefs.repo.js';
import { registerMetadefRoutes } from './metadefs.routes.js';
import { MetadefService } from './metadefs.service.js';
import { registerImageVersions } from './versions.js';

/** Glance v2 under /image. Shares its parts with deps.facades.images when buildApp made it. */
export function imagePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'glance' });
    const f = deps.facades.images;
    const core = f instanceof LocalImageFacade ? f.core : createImagesCore(deps);
    registerImageVersions(app, () => ({ importing: core.importer.methods().length > 0 }), deps.config.public_url || undefined);
    await core.stores.init();
    const reset = core.repo.resetSaving(isoSeconds(new Date()));
    if (reset) deps.log.warn({ images: reset }, 'images left saving by an earlier run are queued again');
    const cut = core.importer.recover();
    if (cut.tasks || cut.images) deps.log.warn(cut, 'imports cut off by an earlier stop: their images are queued again');
    registerImageRoutes(app, {
      validator: deps.auth.validator,
      images: core.images,
      data: core.data,
      importer: core.importer,
      publicUrl: deps.config.public_url || undefined,
    });
    registerImageImportRoutes(app, { validator: deps.auth.validator, importer: core.importer, removal: core.removal });
    const namespaces = new MetadefService(new MetadefRepo(deps.db), deps.auth.policy);
    registerMetadefRoutes(app, { validator: deps.auth.validator, namespaces, contents: new MetadefContents(namespaces) });
    // A stop ends running imports as failures (image queued again, nothing half-written).
    app.addHook('onClose', async () => core.importer.runner.stopAll());
  };
}

/**
 * Removes image data no image refers to (a delete whose file removal failed, a crash
 * between commit and the database update) from every store, and staged data no image
 * waits on. Only the controller daemon runs this, at start (controller/main.ts), never
 * buildApp: an app built by a test or a tool with another database (":memory:") over
 * the default data_dir would otherwise see every file of the real cloud as unreferenced
 * and delete it.
 */
export async function sweepUnreferencedImageData(core: ImagesCore, log: { warn(o: object, m: string): void }): Promise<number> {
  let removed = 0;
  for (const e of core.stores.entries) {
    for (const key of await e.store.keys()) {
      if (core.repo.hasData(e.id, key)) continue;
      log.warn({ key, store: e.id }, 'removing image data that no image refers to');
      await e.store.delete(key);
      removed++;
    }
  }
  const staged = await core.importer.sweepStaging();
  if (staged) log.warn({ staged }, 'removed staged image data no image waits on');
  return removed;
}
