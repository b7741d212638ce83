import type { FastifyPluginAsync } from 'fastify';
import { Forbidden, Unauthorized } from '../../shared/errors/index.js';
import type { AuthService } from '../http/auth.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { registerIdentityVersions } from './versions.js';

export interface Identity {
  auth: AuthService;
  /** Mounted at /identity and, for OS_AUTH_URL=http://host:port/v3, at the root. */
  plugin: (root: string) => FastifyPluginAsync;
}

/**
 * Placeholder until the identity service lands (issue 3): answers version discovery
 * and refuses every token.
 */
export function createIdentity(deps: Omit<ServiceDeps, 'auth'>): Identity {
  const auth: AuthService = {
    validator: { validate: () => { throw new Unauthorized('The request you have made requires authentication.'); } },
    policy: {
      enforce: () => { throw new Forbidden(); },
      allowed: () => false,
    },
  };
  const plugin = (root: string): FastifyPluginAsync => async (app) => {
    installErrorHandling(app, { style: 'keystone', wwwAuthenticate: () => 'Keystone uri="/identity"', notFound: root !== '' });
    registerIdentityVersions(app, root, deps.config.public_url || undefined, root !== '');
  };
  return { auth, plugin };
}
