import type { FastifyPluginAsync } from 'fastify';
import { agentLayerOf } from '../agents/index.js';
import { authHook } from '../http/auth.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { background, createComputeCtx, type ComputeCtx } from './context.js';
import { flavorRoutes } from './flavors.routes.js';
import { miscRoutes } from './misc.routes.js';
import { registerComputePolicy } from './policy.js';
import { dispatcherGateway, type ComputeHostGateway } from './host-gateway.js';
import { agentMoveGateway, type MoveGateway } from './move-gateway.js';
import { recoverInterrupted, syncAllHosts, syncHost } from './reconcile.js';
import { abortSpawnsOn } from './server-build.service.js';
import { serverRoutes } from './servers.routes.js';
import { volumeAttachmentRoutes } from './volume-attachments.routes.js';
import { consoleTokensOf } from '../console/plugin.js';
import { registerRemoteConsolePolicy, remoteConsoleRoutes } from './remote-consoles.js';
import { installMicroversions, registerComputeVersions } from './versions.js';
import { migrationRoutes } from './migrations.routes.js';
import { serverTagRoutes } from './server-tags.routes.js';
import { registerMobilityPolicy } from './mobility-policy.js';

/**
 * The compute context for these deps: `extras.computeGateway` (tests: a fake) or the
 * agent layer's dispatcher; `extras.computeCtx` receives the context (tests await its
 * background work).
 */
export function computeCtxOf(deps: ServiceDeps): ComputeCtx {
  const have = deps.extras.computeCtx as ComputeCtx | undefined;
  if (have) return have;
  const fake = deps.extras.computeGateway as ComputeHostGateway | undefined;
  const gateway = fake ?? dispatcherGateway(agentLayerOf(deps));
  const moves = (deps.extras.moveGateway as MoveGateway | undefined) ?? (fake ? undefined : agentMoveGateway(agentLayerOf(deps)));
  const ctx = createComputeCtx({
    moves,
    db: deps.db,
    config: deps.config,
    log: deps.log,
    policy: deps.auth.policy,
    facades: deps.facades,
    gateway,
  });
  deps.extras.computeCtx = ctx;
  return ctx;
}

/** Nova v2.1 under /compute. */
export function computePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'nova' });
    installMicroversions(app);
    registerComputeVersions(app, deps.config.public_url || undefined);
    registerComputePolicy(deps.auth.policy);
    registerRemoteConsolePolicy(deps.auth.policy);
    registerMobilityPolicy(deps.auth.policy);
    const ctx = computeCtxOf(deps);
    ctx.consoles = consoleTokensOf(deps);
    await app.register(
      async (api) => {
        api.addHook('preHandler', authHook(deps.auth.validator));
        serverRoutes(api, ctx);
        flavorRoutes(api, ctx);
        miscRoutes(api, ctx);
        volumeAttachmentRoutes(api, ctx);
        remoteConsoleRoutes(api, ctx, ctx.consoles!);
        migrationRoutes(api, ctx);
        serverTagRoutes(api, ctx);
      },
      { prefix: '/v2.1' },
    );

    // A host that goes down no longer holds builds hostage.
    const layer = deps.extras.agentLayer as ReturnType<typeof agentLayerOf> | undefined;
    layer?.hosts.onDown((h) => {
      const n = abortSpawnsOn(ctx, h.id, h.name);
      if (n) ctx.log.warn({ host: h.name, builds: n }, 'host down: its pending spawns are retried elsewhere');
      ctx.scheduler.cache.invalidate();
    });
    // A host that comes back is schedulable at once (the cache would say down for up to
    // a second), and what it ran while its agent was away is reconciled now rather than
    // at the next periodic sync.
    layer?.hosts.onUp((h) => {
      ctx.scheduler.cache.invalidate();
      if (deps.config.compute.sync_power_state_s > 0 && !deps.extras.computeGateway && h.roles.includes('compute')) {
        background(ctx, `reconcile ${h.name} on its return`, () => syncHost(ctx, { id: h.id, name: h.name }));
      }
    });

    // Work the previous process left half-done (builds, deletes, power tasks).
    app.addHook('onReady', async () => {
      background(ctx, 'recover interrupted work', () => recoverInterrupted(ctx));
    });

    // Power-state sync with what the agents really run.
    const every = deps.config.compute.sync_power_state_s;
    let timer: NodeJS.Timeout | null = null;
    if (every > 0 && !deps.extras.computeGateway) {
      app.addHook('onReady', async () => {
        timer = setInterval(
          () => void syncAllHosts(ctx).catch((err) => ctx.log.warn({ err }, 'power-state sync failed')),
          every * 1000,
        );
        timer.unref();
      });
    }
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
    });
  };
}
