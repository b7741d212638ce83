import { join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { RoleModule } from '../host/role.js';
import type { VolumeBackend } from './backend.js';
import { FakeBackend, FakeTarget } from './fake.js';
import { FileBackend } from './file.js';
import { LioTarget } from './lio.js';
import { LvmBackend } from './lvm.js';
import { registerVolumeRoutes } from './routes.js';
import { VolumeService } from './service.js';
import type { IscsiTarget } from './target.js';
import { TgtTarget } from './tgt.js';

export interface VolumeDriverContext {
  config: AgentConfig['volume'];
  run: Runner;
  dataDir: string;
  portalIp: string;
}

/** Back ends by `volume.backend` (house style: a literal map keyed by the config string). */
export const BACKENDS: Record<AgentConfig['volume']['backend'], (c: VolumeDriverContext) => VolumeBackend> = {
  file: (c) => new FileBackend({ dir: c.config.file_dir || join(c.dataDir, 'volumes'), run: c.run }),
  lvm: (c) => new LvmBackend({ run: c.run, vg: c.config.volume_group, thinPool: c.config.thin_pool }),
  fake: () => new FakeBackend(),
};

/** Targets by `volume.target`. */
export const TARGETS: Record<AgentConfig['volume']['target'], (c: VolumeDriverContext) => IscsiTarget> = {
  tgtadm: (c) => new TgtTarget({ run: c.run, iqnPrefix: c.config.iqn_prefix, portalIp: c.portalIp }),
  lioadm: (c) => new LioTarget({ run: c.run, iqnPrefix: c.config.iqn_prefix, portalIp: c.portalIp }),
  fake: (c) => new FakeTarget(c.config.iqn_prefix, `${c.portalIp}:3260`),
};

/**
 * The volume role (agents/roles.ts maps "volume" to this): builds the back end and the
 * target from config, `init()`s the back end (fail fast: directory / VG / thin pool),
 * re-exports every stored volume (tgtd keeps nothing across restarts) and registers
 * the volume descriptors.
 */
export const volumeRole: RoleModule = {
  async register(agent, ctx) {
    const cfg = ctx.config.volume;
    const c: VolumeDriverContext = {
      config: cfg,
      run: ctx.run,
      dataDir: ctx.dataDir,
      portalIp: cfg.target_ip || ctx.config.listen.host,
    };
    const backend = BACKENDS[cfg.backend](c);
    const target = TARGETS[cfg.target](c);
    await backend.init();
    const svc = new VolumeService(backend, target, { workDir: join(ctx.dataDir, 'volume-work'), log: ctx.log });
    const restored = await svc.restoreExports();
    ctx.log.info({ restored, backend: cfg.backend, target: cfg.target }, 'volume exports restored');
    // tgtd may restart under a running agent (it keeps nothing): re-export on a timer.
    setInterval(() => void svc.healExports().catch((err) => ctx.log.warn({ err }, 'export check failed')), 10_000).unref();
    registerVolumeRoutes(agent, svc);
    return {
      capabilities: { backend: cfg.backend, target: cfg.target, backend_name: `${cfg.backend}`, portal: `${c.portalIp}:3260` },
      usage: async () => {
        const s = await backend.stats();
        return { total_gb: s.totalGb, free_gb: s.freeGb, volumes: (await backend.list()).length };
      },
    };
  },
};
