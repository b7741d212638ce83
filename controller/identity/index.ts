import type { FastifyPluginAsync } from 'fastify';
import type { IdentityFacade } from '../facades.js';
import { authHook, type AuthService } from '../http/auth.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { makeKit, authRoutes } from './auth.routes.js';
import { catalogRoutes } from './catalog.routes.js';
import { credentialRoutes } from './credentials.routes.js';
import { endpointGroupRoutes } from './endpoint-groups.routes.js';
import { grantRoutes } from './grants.routes.js';
import { projectTagRoutes } from './project-tags.routes.js';
import { resourceRoutes } from './resources.routes.js';
import { roleRoutes } from './roles.routes.js';
import { IdentityService } from './identity.service.js';
import { registerIdentityVersions } from './versions.js';

export interface Identity {
  auth: AuthService;
  /** Mounted at /identity and, for OS_AUTH_URL=http://host:port/v3, at the root. */
  plugin: (root: string) => FastifyPluginAsync;
  /** What other services may ask of identity (service token, project lookups). */
  facade: IdentityFacade;
  /** The service itself, for the CLI and tests. */
  service: IdentityService;
}

/**
 * Keystone v3: resources, tokens, the policy engine every service uses (auth.policy)
 * and the in-process token validator of every service's auth hook (auth.validator).
 */
export function createIdentity(deps: Omit<ServiceDeps, 'auth'>): Identity {
  const service = new IdentityService(deps.db, deps.config, deps.log);
  const auth: AuthService = {
    validator: { validate: (token) => service.authn.validate(token) },
    policy: service.policy,
  };
  const plugin =
    (root: string): FastifyPluginAsync =>
    async (app) => {
      installErrorHandling(app, {
        style: 'keystone',
        wwwAuthenticate: (req) => `Keystone uri="${service.root(req, '/identity')}"`,
        notFound: root !== '',
      });
      registerIdentityVersions(app, root, deps.config.public_url || undefined, root !== '');
      const kit = makeKit(service, root);
      const preHandler = authHook(auth.validator);
      authRoutes(app, kit, { preHandler });
      await app.register(async (scope) => {
        scope.addHook('preHandler', preHandler);
        resourceRoutes(scope, kit);
        roleRoutes(scope, kit);
        grantRoutes(scope, kit);
        catalogRoutes(scope, kit);
        credentialRoutes(scope, kit);
        endpointGroupRoutes(scope, kit);
        projectTagRoutes(scope, kit);
      });
    };
  return { auth, plugin, facade: service.facade(), service };
}
