import type { FastifyPluginAsync } from 'fastify';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { registerComputeVersions } from './versions.js';

/** Nova v2.1 under /compute. */
export function computePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'nova' });
    registerComputeVersions(app, deps.config.public_url || undefined);
  };
}
