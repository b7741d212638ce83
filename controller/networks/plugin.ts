import type { FastifyPluginAsync } from 'fastify';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { registerNetworkVersions } from './versions.js';

/** Neutron v2.0 under /network. */
export function networkPlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'neutron' });
    registerNetworkVersions(app, [], deps.config.public_url || undefined);
  };
}
