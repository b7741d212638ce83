import { join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { RoleModule } from '../host/role.js';
import { readFileSync } from 'node:fs';
import type { VolumeBackend } from './backend.js';
import { ChunkedDriver } from './backup/chunked.js';
import { PosixTarget } from './backup/posix.js';
import { S3Target } from './backup/s3.js';
import { BackupService } from './backup/service.js';
import type { BackupTarget } from './backup/target.js';
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

/** Backup targets by `backup.target` ('none': no backups on this host). */
export const BACKUP_TARGETS: Record<
  AgentConfig['backup']['target'],
  (c: AgentConfig['backup'], dataDir: string) => BackupTarget | null
> = {
  posix: (c, dataDir) => new PosixTarget({ path: c.posix_path || join(dataDir, 'backups') }),
  s3: (c) => {
    if (!c.s3_endpoint) throw new Error("backup.target is 's3' but backup.s3_endpoint is empty");
    const secret = c.s3_secret_key_file ? readFileSync(c.s3_secret_key_file, 'utf8').trim() : '';
    return new S3Target({
      endpoint: c.s3_endpoint,
      region: c.s3_region,
      bucket: c.s3_bucket,
      accessKey: c.s3_access_key,
      secretKey: secret,
      forcePathStyle: c.s3_force_path_style,
      timeoutMs: c.s3_timeout_s * 1000,
    });
  },
  none: () => null,
};

/** The backup service of a volume host, or null when it has no target. Does not touch the target (init() does). */
export function backupServiceFor(
  cfg: AgentConfig['backup'],
  o: {
    dataDir: string;
    backend: VolumeBackend;
    workDir: string;
    log?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  },
): BackupService | null {
  const target = BACKUP_TARGETS[cfg.target](cfg, o.dataDir);
  if (!target) return null;
  const driver = new ChunkedDriver(target, {
    compression: cfg.compression,
    level: cfg.compression_level,
    chunkSize: cfg.chunk_size_mib * 1024 * 1024,
    parallel: cfg.parallel,
  });
  return new BackupService(driver, o.backend, { workDir: o.workDir, log: o.log });
}

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
    const workDir = join(ctx.dataDir, 'volume-work');
    // A backup target that cannot be reached at start is logged, not fatal: volumes are
    // served, backups fail with the target's error until it answers (init is retried).
    const backups = backupServiceFor(ctx.config.backup, { dataDir: ctx.dataDir, backend, workDir, log: ctx.log });
    let backupReady = false;
    const readyBackups = async () => {
      if (!backups || backupReady) return;
      await backups.init();
      backupReady = true;
      ctx.log.info({ target: backups.target.kind, id: backups.target.id }, 'backup target ready');
    };
    await readyBackups().catch((err) => ctx.log.warn({ err }, 'backup target not ready; retrying every minute'));
    if (backups) setInterval(() => void readyBackups().catch(() => {}), 60_000).unref();
    const svc = new VolumeService(backend, target, { workDir, log: ctx.log, backups });
    const restored = await svc.restoreExports();
    ctx.log.info({ restored, backend: cfg.backend, target: cfg.target }, 'volume exports restored');
    // tgtd may restart under a running agent (it keeps nothing): re-export on a timer.
    setInterval(() => void svc.healExports().catch((err) => ctx.log.warn({ err }, 'export check failed')), 10_000).unref();
    registerVolumeRoutes(agent, svc);
    return {
      capabilities: {
        backend: cfg.backend,
        target: cfg.target,
        backend_name: `${cfg.backend}`,
        portal: `${c.portalIp}:3260`,
        ...(backups
          ? { backup_target: backups.target.kind, backup_target_id: backups.target.id, backup_service: backups.service }
          : {}),
      },
      usage: async () => {
        const s = await backend.stats();
        return { total_gb: s.totalGb, free_gb: s.freeGb, volumes: (await backend.list()).length };
      },
    };
  },
};
