import type { FastifyPluginAsync } from 'fastify';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { registerImageVersions } from './versions.js';

/** Glance v2 under /image. */
export function imagePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'glance' });
    registerImageVersions(app, deps.config.public_url || undefined);
  };
}
