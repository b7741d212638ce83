import * as C from '../../shared/agent/compute.js';
import type { AgentApp } from '../host/app.js';
import type { HypervisorDriver } from './driver.js';

/** Default and maximum console bytes when the controller gives none. */
const CONSOLE_DEFAULT_BYTES = 256 * 1024;

/**
 * The compute agent's HTTP surface: one `agent.route(Descriptor, handler)` per
 * descriptor in shared/agent/compute.ts, translating contract fields (snake_case) to
 * driver calls. No logic here (house style 3.7.3).
 */
export function registerComputeRoutes(agent: AgentApp, d: HypervisorDriver, o: { shutdownTimeoutSec: number }): void {
  agent.route(C.HostInfo, () => d.hostResources());
  agent.route(C.ListInstances, () => d.list());
  agent.route(C.GetInstance, async (b) => ({ instance: await d.get(b.uuid) }));
  agent.route(C.Spawn, async (spec) => {
    const r = await d.spawn(spec);
    return { instance: r.instance, timings: r.timings, image_cached: r.imageCached };
  });
  agent.route(C.DestroyInstance, async (b) => ({
    uuid: b.uuid,
    existed: await d.destroy(b.uuid, { deleteDisks: b.delete_disks }),
  }));
  agent.route(C.PowerOn, async (b) => ({ instance: await d.powerOn(b.uuid) }));
  agent.route(C.PowerOff, async (b) => d.powerOff(b.uuid, { timeoutSec: b.timeout_s ?? o.shutdownTimeoutSec }));
  agent.route(C.Reboot, async (b) => ({
    instance: await d.reboot(b.uuid, { hard: b.hard, timeoutSec: b.timeout_s ?? o.shutdownTimeoutSec }),
  }));
  agent.route(C.Pause, async (b) => ({ instance: await d.pause(b.uuid) }));
  agent.route(C.Unpause, async (b) => ({ instance: await d.unpause(b.uuid) }));
  agent.route(C.Suspend, async (b) => ({ instance: await d.suspend(b.uuid) }));
  agent.route(C.Resume, async (b) => ({ instance: await d.resume(b.uuid) }));
  agent.route(C.Snapshot, async (b) => {
    const r = await d.snapshot(b.uuid, {
      imageId: b.image_id,
      uploadUrl: b.upload_url,
      token: b.token,
      diskFormat: b.disk_format,
    });
    return { image_id: b.image_id, disk_format: b.disk_format, size: r.size, checksum: r.checksum, paused_ms: r.pausedMs };
  });
  agent.route(C.AttachVolume, async (b) => ({ device: await d.attachVolume(b.uuid, b.connection, b.device ?? null) }));
  agent.route(C.DetachVolume, async (b) => ({ volume_id: b.volume_id, existed: await d.detachVolume(b.uuid, b.volume_id) }));
  agent.route(C.PlugVif, async (b) => ({ port_id: b.vif.port_id, tap: await d.plugVif(b.uuid, b.vif) }));
  agent.route(C.UnplugVif, async (b) => ({ port_id: b.port_id, existed: await d.unplugVif(b.uuid, b.port_id) }));
  agent.route(C.ConsoleLog, (b) => d.consoleLog(b.uuid, b.max_bytes ?? CONSOLE_DEFAULT_BYTES));
  agent.route(C.VncConsole, (b) => d.vncConsole(b.uuid));
  agent.route(C.ListCachedImages, async () => ({
    images: (await d.cachedImages()).map((i) => ({
      image_id: i.imageId,
      size: i.size,
      last_used: i.lastUsed,
      used_by: i.usedBy,
    })),
  }));
  agent.route(C.EvictCachedImage, async (b) => ({ image_id: b.image_id, existed: await d.evictImage(b.image_id) }));
}
