import type { FastifyPluginAsync } from 'fastify';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { registerVolumeVersions } from './versions.js';

/** Cinder v3 under /volume. */
export function volumePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'nova' });
    registerVolumeVersions(app, deps.config.public_url || undefined);
  };
}
