import { scheduleRoutes } from './schedules.routes.js';
import type { FastifyPluginAsync } from 'fastify';
import { CloudError } from '../../shared/errors/index.js';
import { agentLayerOf, type AgentLayer } from '../agents/index.js';
import { authHook } from '../http/auth.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { resyncHost } from './attachments.service.js';
import { createVolumeCtx, registerVolumePolicy, type VolumeCtx } from './context.js';
import { createVolumeFacade } from './facade.js';
import { miscRoutes } from './misc.routes.js';
import { volumeRoutes } from './volumes.routes.js';
import { metadataRoutes } from './metadata.routes.js';
import { registerCompletions } from './volumes.service.js';
import { registerBackupCompletions } from './backups.service.js';
import { registerRestoreCompletions } from './backup-restore.service.js';
import { backupRoutes } from './backups.routes.js';
import { registerVolumeVersions, setVolumeMinor, VOLUME_MAX_MICROVERSION, VOLUME_MIN_MICROVERSION } from './versions.js';
import { registerUploadCompletion } from './volume-upload.service.js';

/**
 * The block-storage context for these deps (one per buildApp, kept in
 * `extras.volumeCtx` so the facade and the plugin share it and tests can reach it).
 */
export function volumeCtxOf(deps: ServiceDeps): VolumeCtx {
  const have = deps.extras.volumeCtx as VolumeCtx | undefined;
  if (have) return have;
  let layer: AgentLayer | null = null;
  try {
    layer = agentLayerOf(deps);
  } catch {
    layer = null;
  }
  const ctx = createVolumeCtx({
    db: deps.db,
    config: deps.config,
    log: deps.log,
    policy: deps.auth.policy,
    facades: deps.facades,
    layer,
  });
  registerCompletions(ctx);
  registerBackupCompletions(ctx);
  registerRestoreCompletions(ctx);
  registerUploadCompletion(ctx);
  const hosts = layer?.hosts as (AgentLayer['hosts'] & { __volumes?: boolean }) | undefined;
  if (hosts && !hosts.__volumes) {
    hosts.__volumes = true;
    hosts.onUp((h) => {
      try {
        resyncHost(ctx, h.id);
      } catch (err) {
        ctx.log.warn({ err, host: h.id }, 'volume connection resync failed');
      }
    });
  }
  deps.extras.volumeCtx = ctx;
  return ctx;
}

/** The VolumeFacade for buildApp's deps.facades.volumes. */
export function volumeFacadeOf(deps: ServiceDeps) {
  return createVolumeFacade(volumeCtxOf(deps));
}

class NotAcceptable extends CloudError {
  constructor(message: string) {
    super(406, message, 'VersionNotAcceptable');
  }
}

/** Cinder v3 under /volume: /v3/{project_id}/… and the project-less /v3/…; 3.0 to VOLUME_MAX_MICROVERSION. */
export function volumePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'nova' });
    registerVolumeVersions(app, deps.config.public_url || undefined);
    registerVolumePolicy(deps.auth.policy);
    const ctx = volumeCtxOf(deps);
    await app.register(async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        reply.header('OpenStack-API-Version', `volume ${VOLUME_MAX_MICROVERSION}`);
        reply.header('Vary', 'OpenStack-API-Version');
        const h = req.headers['openstack-api-version'];
        const v = (Array.isArray(h) ? h[0] : h)?.trim();
        if (!v) return;
        const m = /^volume\s+(latest|(\d+)\.(\d+))$/i.exec(v);
        if (!m) {
          if (/^volume\b/i.test(v))
            throw new CloudError(400, `Invalid API version request string: ${v}`, 'InvalidAPIVersionString');
          return; // another service's header
        }
        if (m[1]!.toLowerCase() === 'latest') {
          setVolumeMinor(req, Number(VOLUME_MAX_MICROVERSION.split('.')[1]));
          return;
        }
        const [maj, min] = [Number(m[2]), Number(m[3])];
        const [xmaj, xmin] = VOLUME_MAX_MICROVERSION.split('.').map(Number) as [number, number];
        const [nmaj, nmin] = VOLUME_MIN_MICROVERSION.split('.').map(Number) as [number, number];
        if (maj !== xmaj || min > xmin || (maj === nmaj && min < nmin)) {
          throw new NotAcceptable(
            `Version ${maj}.${min} is not supported by the API. Minimum is ${VOLUME_MIN_MICROVERSION} and maximum is ${VOLUME_MAX_MICROVERSION}.`,
          );
        }
        setVolumeMinor(req, min);
      });
      api.addHook('preHandler', authHook(deps.auth.validator));
      for (const prefix of ['/v3/:project_id', '/v3']) {
        volumeRoutes(api, ctx, prefix);
        miscRoutes(api, ctx, prefix);
        backupRoutes(api, ctx, prefix);
        metadataRoutes(api, ctx, prefix);
        scheduleRoutes(api, ctx, prefix);
      }
    });
  };
}
