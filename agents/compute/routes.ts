import * as C from '../../shared/agent/compute.js';
import * as M from '../../shared/agent/migration.js';
import { InvalidState } from './errors.js';
import type { AgentApp } from '../host/app.js';
import type { HypervisorDriver } from './driver.js';
import { openOffered } from './libvirt-migrate.js';

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
  if (d.injectNmi) {
    const nmi = d.injectNmi.bind(d);
    agent.route(C.TriggerCrashDump, async (b) => {
      await nmi(b.uuid);
      return { uuid: b.uuid };
    });
  }
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

const TRANSFER_RE = /^\/v1\/compute\/transfers\/([0-9a-f]{64})\/(disk|disk\.config|console\.log)$/;

/**
 * The migration routes (shared/agent/migration.ts), when the driver can move instances:
 * the JSON descriptors, and the transfer route that streams an offered file to the
 * destination agent, admitted by its one-time token instead of the host credential.
 */
export function registerMigrationRoutes(agent: AgentApp, d: HypervisorDriver): void {
  const m = d.migration;
  if (!m) return;
  agent.route(M.TransferOffer, async (b) => ({ files: await m.offer(b.uuid, b.token, b.files, b.expires_s) }));
  agent.route(M.PrepareIncoming, (b) => m.prepareIncoming(b));
  agent.route(M.LiveMigrate, (b) => m.liveMigrate(b));
  agent.route(M.LiveMigrationProgress, (b) => m.progress(b.uuid));
  agent.route(M.LiveMigrationAbort, async (b) => ({ aborted: await m.abort(b.uuid) }));
  agent.route(M.LiveMigrationForceComplete, async (b) => ({ paused: await m.forceComplete(b.uuid) }));
  agent.route(M.CleanupInstance, (b) => m.cleanup(b.uuid, b.volume_ids, b.keep_running ?? false));
  const tokenOf = (req: { url: string; headers: Record<string, unknown> }) => {
    const hit = TRANSFER_RE.exec(req.url.split('?')[0] ?? '');
    const auth = typeof req.headers.authorization === 'string' ? req.headers.authorization : '';
    return hit && auth === `Bearer ${hit[1]}` && m.hasToken(hit[1]!) ? hit : null;
  };
  agent.altAuth.push((req) => req.method === 'GET' && tokenOf(req) !== null);
  agent.fastify.get(M.TRANSFER_URL, async (req, reply) => {
    const hit = tokenOf(req);
    const f = hit ? m.offered(hit[1]!, hit[2]!) : null;
    if (!f) throw new InvalidState('No such file is offered under this token.');
    req.log.info({ file: hit![2] }, 'sending an offered instance file to another host');
    return reply.type('application/octet-stream').send(openOffered(f.path));
  });
}
