import {
  CreateSnapshot,
  CreateVolume,
  DeleteSnapshot,
  DeleteVolume,
  ExtendVolume,
  InitializeConnection,
  SyncConnections,
  TerminateConnection,
  VolumeStats,
} from '../../shared/agent/volume.js';
import type { AgentApp } from '../host/app.js';
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
}
