import type { FastifyPluginAsync } from 'fastify';
import type { NetworkFacade } from '../facades.js';
import { authHook } from '../http/auth.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import type { AgentLayer } from '../agents/index.js';
import { agentRoutes } from './agents.js';
import { availabilityRoutes } from './availability.js';
import { NETWORK_POLICY_DEFAULTS, readHosts, type Svc } from './context.js';
import { extensionRoutes } from './extensions.js';
import { createNetworkFacade, type NetworkFacadeExtras } from './facade.js';
import { l3Routes } from './l3.routes.js';
import { l2Routes } from './networks.routes.js';
import { quotaRoutes } from './quotas.routes.js';
import { securityGroupRoutes } from './secgroups.routes.js';
import { NetworkSyncer } from './sync.js';
import { tagRoutes } from './tags.routes.js';
import { registerNetworkVersions } from './versions.js';

const COLLECTIONS = [
  'networks',
  'subnets',
  'ports',
  'routers',
  'floatingips',
  'security-groups',
  'security-group-rules',
  'quotas',
  'extensions',
  'agents',
  'network-ip-availabilities',
];

/** Networking's state inside one app: its service context, syncer and facade (built once per ServiceDeps). */
export interface Networking {
  svc: Svc;
  syncer: NetworkSyncer;
  facade: NetworkFacade & NetworkFacadeExtras;
}

/**
 * Builds (once) and returns networking for these deps; buildApp calls it to wire
 * `facades.networks`, and the plugin reuses the same instance.
 */
export function networkingOf(deps: ServiceDeps): Networking {
  const have = deps.extras.networking as Networking | undefined;
  // The same extras object handed to a second app (tests do) must not reuse the first one's db.
  if (have && have.svc.db === deps.db && have.svc.config === deps.config && have.svc.policy === deps.auth.policy) return have;
  const layer = deps.extras.agentLayer as AgentLayer | undefined;
  const dispatcher = layer?.dispatcher ?? null;
  const policy = deps.auth.policy as typeof deps.auth.policy & { register?: (r: Record<string, string>) => void };
  policy.register?.(NETWORK_POLICY_DEFAULTS);
  const syncer = new NetworkSyncer({
    db: deps.db,
    dispatcher,
    log: deps.log,
    leaseSeconds: deps.config.network.dhcp_lease_s || undefined,
    rescheduleDownS: deps.config.network.reschedule_down_s,
  });
  const svc: Svc = {
    db: deps.db,
    config: deps.config,
    policy: deps.auth.policy,
    log: deps.log,
    hosts: () => readHosts(deps.db),
    changed: () => syncer.schedule(),
    projectExists: (id) => deps.facades.identity?.projectExists(id) ?? true,
  };
  const facade = createNetworkFacade(svc, { syncer, dispatcher, bindWaitMs: deps.config.network.bind_wait_ms });
  // A host that (re)registers gets its whole state; the others learn about the new peer.
  layer?.hosts.onUp((h) => {
    syncer.forget(h.name);
    syncer.schedule();
  });
  const n: Networking = { svc, syncer, facade };
  deps.extras.networking = n;
  return n;
}

/** Neutron v2.0 under /network. */
export function networkPlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'neutron' });
    registerNetworkVersions(app, COLLECTIONS, deps.config.public_url || undefined);
    const { svc, syncer } = networkingOf(deps);
    await app.register(async (scope) => {
      scope.addHook('preHandler', authHook(deps.auth.validator));
      l2Routes(scope, svc);
      l3Routes(scope, svc);
      securityGroupRoutes(scope, svc);
      quotaRoutes(scope, svc);
      extensionRoutes(scope);
      agentRoutes(scope, svc);
      availabilityRoutes(scope, svc);
      tagRoutes(scope, svc);
    });
    // Healing: hosts whose last sync failed (or whose state changed unnoticed) get it again.
    // Not forced: agents re-apply their last state locally, and a restarted agent
    // re-registers (hosts.onUp re-sends everything), so unchanged bodies are not queued again.
    const every = deps.config.network.resync_s;
    const timer =
      every > 0
        ? setInterval(() => {
            try {
              syncer.push();
            } catch (err) {
              deps.log.error({ err }, 'network resync failed');
            }
          }, every * 1000)
        : null;
    timer?.unref();
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      syncer.cancel();
    });
  };
}
