import {
  CreateSnapshot,
  CreateVolume,
  DeleteSnapshot,
  DeleteVolume,
  ExtendVolume,
  InitializeConnection,
  SyncConnections,
  TerminateConnection,
  UploadVolumeToImage,
  VolumeStats,
} from '../../shared/agent/volume.js';
import { BackupProgress, CreateBackup, DeleteBackup, RestoreBackup, VerifyBackup } from '../../shared/agent/backup.js';
import { CloudError } from '../../shared/errors/index.js';
import type { AgentApp } from '../host/app.js';
import type { BackupService } from './backup/service.js';
import type { VolumeService } from './service.js';

/** HTTP only: the volume descriptors, each handled by the service. */
export function registerVolumeRoutes(agent: AgentApp, svc: VolumeService): void {
  agent.route(CreateVolume, (b) => svc.create(b));
  agent.route(DeleteVolume, (b) => svc.delete(b.id));
  agent.route(ExtendVolume, (b) => svc.extend(b.id, b.size_gb));
  agent.route(CreateSnapshot, (b) => svc.snapshot(b.id, b.volume_id));
  agent.route(DeleteSnapshot, (b) => svc.deleteSnapshot(b.id));
  agent.route(InitializeConnection, (b) => svc.initializeConnection(b.id, b.connector, b.auth));
  agent.route(TerminateConnection, (b) => svc.terminateConnection(b.id, b.connector, b.auth));
  agent.route(SyncConnections, (b) => svc.syncConnections(b));
  agent.route(VolumeStats, () => svc.stats());
  agent.route(UploadVolumeToImage, (b) => svc.uploadToImage(b));
  const backups = (): BackupService => {
    if (!svc.backups)
      throw new CloudError(503, 'this volume host has no backup target (backup.target = "none")', 'NoBackupTarget', true);
    return svc.backups;
  };
  agent.route(CreateBackup, (b) => backups().create(b));
  agent.route(RestoreBackup, (b) => backups().restoreInto(b.id, b.volume_id, b.chain, b.volume_is_new));
  agent.route(DeleteBackup, (b) => backups().delete(b));
  agent.route(VerifyBackup, (b) => backups().verify(b));
  agent.route(BackupProgress, async (b) => backups().progress(b));
}
