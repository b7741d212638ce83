import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ControllerConfig } from '../shared/config/controller.js';
import { loggerOptions } from '../shared/log/options.js';
import { newRequestId } from '../shared/util/ids.js';
import type { Db } from './db/open.js';
import { installErrorHandling } from './http/errors.js';
import { installJsonParser } from './http/json-body.js';
import { installRequestId } from './http/request-id.js';
import type { ServiceDeps } from './http/service-deps.js';
import { createIdentity } from './identity/index.js';
import { createImageFacade } from './images/facade.js';
import { networkingOf } from './networks/plugin.js';
import { volumeFacadeOf } from './volumes/plugin.js';
import { SERVICES } from './services.js';
import { createAgentLayer, type AgentLayer } from './agents/index.js';
import { internalAgentRoutes } from './agents/internal-routes.js';
import { installMetrics } from './metrics/index.js';
import { METADATA_PREFIX, metadataPlugin } from './metadata/metadata.routes.js';

export interface AppDeps {
  config: ControllerConfig;
  db: Db;
  /** A pino logger instance, `false` for silence (tests), or undefined for JSON lines on stdout. */
  logger?: FastifyBaseLogger | false;
  /** Collaborators a service needs from outside HTTP (agent gateway, dispatcher...). */
  extras?: Record<string, unknown>;
  /** Serve HTTPS with this certificate and key (PEM); main.ts passes them when `tls.enabled`. */
  https?: { cert: string; key: string };
}

/**
 * Builds the controller's HTTP app. Never listens; holds no module-level state, so
 * tests build as many as they like (`buildApp({ db: openDb(':memory:') ... }).inject()`).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // An https.Server is a net.Server like the default one; the instance type stays the plain one.
    ...(deps.https ? ({ https: { cert: deps.https.cert, key: deps.https.key } } as object) : {}),
    ...(deps.logger === false
      ? { logger: false }
      : deps.logger
        ? { loggerInstance: deps.logger }
        : { logger: loggerOptions(deps.config.log.level, 'homestack-controller') }),
    genReqId: () => newRequestId(),
    bodyLimit: 1024 * 1024,
    // Clients put names in URLs ("GET /v3/projects/<name>"); keep ids intact.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1000 },
    return503OnClosing: true,
    // Slow clients: idle connections are closed, and headers must arrive in time (below);
    // no limit on a whole request, so a large image upload that keeps sending is not cut.
    connectionTimeout: deps.config.listen.idle_timeout_s * 1000,
    requestTimeout: 0,
  });
  app.server.headersTimeout = deps.config.listen.headers_timeout_s * 1000;
  app.decorateRequest('auth', null);
  // The route table (method, URL pattern), for tools that walk every route (the fault suite's fuzzing).
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ method: m, url: r.url });
  });
  installRequestId(app);
  installJsonParser(app);
  // Before the service plugins so their routes inherit the timing hook; /metrics is loopback or admin only.
  installMetrics(app, {
    db: deps.db,
    validator: () => (app.hasDecorator('homestack') ? app.homestack.auth.validator : undefined),
  });

  const base: Omit<ServiceDeps, 'auth'> = {
    config: deps.config,
    db: deps.db,
    log: app.log,
    facades: {},
    extras: deps.extras ?? {},
  };
  // Hosts, agent clients and the durable dispatcher, for services: agentLayerOf(deps).
  const agentLayer = (base.extras.agentLayer ??= createAgentLayer({
    config: deps.config,
    db: deps.db,
    log: app.log,
  })) as AgentLayer;
  const internal = internalAgentRoutes(agentLayer.hosts, deps.config);
  await app.register(internal.plugin, { prefix: internal.prefix });
  const identity = createIdentity(base);
  base.facades.identity = identity.facade;
  const serviceDeps: ServiceDeps = { ...base, auth: identity.auth };
  serviceDeps.facades.images = createImageFacade(serviceDeps);
  serviceDeps.facades.networks = networkingOf(serviceDeps).facade;
  serviceDeps.facades.volumes = volumeFacadeOf(serviceDeps);
  app.decorate('homestack', { auth: identity.auth, deps: serviceDeps, routes });

  await app.register(identity.plugin('/identity'), { prefix: '/identity' });
  // OS_AUTH_URL=http://host:port/v3 works too: identity's v3 API at the root.
  await app.register(identity.plugin(''), { prefix: '' });
  for (const s of SERVICES) await app.register(s.plugin(serviceDeps), { prefix: s.prefix });
  // Nova's metadata API, for the network agents' metadata proxies (host credential + signed instance id).
  await app.register(metadataPlugin(serviceDeps), { prefix: METADATA_PREFIX });

  // Anything outside the service prefixes.
  installErrorHandling(app, { style: 'keystone' });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    homestack: {
      auth: import('./http/auth.js').AuthService;
      deps: ServiceDeps;
      routes: ReadonlyArray<{ method: string; url: string }>;
    };
  }
}
