import type { ComputeCtx } from './context.js';
import { HostOpError, messageOf, type HostRef } from './host-gateway.js';
import type { MovedVolume } from './move-common.js';

/** A volume of a move as the migration record keeps it (its connection is not stored). */
export type AdoptedVolume = Omit<MovedVolume, 'connection'>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long the destination's agent may refuse connections before its migration is aborted. */
export const DEST_LOST_MS = 6_000;

/**
 * Watches the destination's agent while libvirt moves a guest to it: an agent that
 * refuses connections (its process is gone) for DEST_LOST_MS, or a host the registry
 * marks down, cannot adopt the guest (ports, volumes), so the job is aborted on the
 * source and the guest stays there. Slow answers do not count (a loaded host is not a
 * lost one). `probe()` is called by the migration's 2 s poll; one probe at a time.
 */
export function watchDestination(
  ctx: ComputeCtx,
  source: HostRef,
  dest: HostRef,
  uuid: string,
): { probe(): void; lost(): string | null } {
  let inFlight = false;
  let refusedSince = 0;
  let lost: string | null = null;
  const giveUp = (why: string) => {
    if (lost) return;
    lost = `the destination host ${dest.name} was lost during the migration: ${why}`;
    ctx.log.warn({ server: uuid, dest: dest.name, why }, 'aborting a live migration: its destination is lost');
    void ctx.moves!.abort(source, uuid).catch((err) => ctx.log.warn({ err, server: uuid }, 'could not abort the live migration'));
  };
  return {
    probe() {
      if (inFlight || lost) return;
      if (ctx.scheduler.cache.all().find((h) => h.id === dest.id)?.up === false) return giveUp('the host is down');
      inFlight = true;
      void ctx
        .moves!.progress(dest, uuid)
        .then(() => {
          refusedSince = 0;
        })
        .catch((e) => {
          if (!(e instanceof HostOpError && e.code === 'AgentUnavailable' && /ECONNREFUSED/.test(e.message))) return;
          refusedSince ||= Date.now();
          if (Date.now() - refusedSince >= DEST_LOST_MS) giveUp(messageOf(e));
        })
        .finally(() => {
          inFlight = false;
        });
    },
    lost: () => lost,
  };
}

/**
 * Waits until the source answers that no migration job runs for the instance (a job
 * libvirt still runs after the agent that started it died, or after the controller that
 * drove it restarted). Polls every 2 s; gives up after `limitS` (false).
 */
export async function jobEnded(ctx: ComputeCtx, source: HostRef, uuid: string, limitS = 3600): Promise<boolean> {
  const end = Date.now() + limitS * 1000;
  for (;;) {
    const p = await ctx.moves!.progress(source, uuid).catch(() => null);
    if (p && !p.running) return true;
    if (Date.now() > end) return false;
    await sleep(2000);
  }
}

/**
 * Where the guest runs once no job moves it: on the destination (a running domain there,
 * none on the source), on the source, or unknown when a host does not answer within
 * `limitS` (retried every 2 s: a restarted agent or controller needs a heartbeat first).
 */
export async function whereItRuns(
  ctx: ComputeCtx,
  source: HostRef,
  dest: HostRef,
  uuid: string,
  limitS = 60,
): Promise<'source' | 'dest' | 'unknown'> {
  const end = Date.now() + limitS * 1000;
  for (;;) {
    try {
      const [src, dst] = await Promise.all([ctx.gateway.listInstances(source), ctx.gateway.listInstances(dest)]);
      const onDest = dst.find((x) => x.uuid === uuid);
      // Running only on the destination: an incoming domain is paused until the switch-over.
      if (onDest && onDest.power_state === 1 && !src.some((x) => x.uuid === uuid)) return 'dest';
      return 'source';
    } catch (err) {
      if (Date.now() > end) {
        ctx.log.warn({ err, server: uuid }, 'could not see where a migrated guest runs');
        return 'unknown';
      }
      await sleep(2000);
    }
  }
}
