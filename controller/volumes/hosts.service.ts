import { cinderTime } from '../../shared/util/time.js';
import { HostsRepo } from '../agents/hosts.repo.js';
import type { VolumeCtx } from './context.js';

/** A host with the volume role, as the block-storage service sees it. */
export interface VolumeHost {
  id: string;
  name: string;
  backend: string;
  up: boolean;
  enabled: boolean;
  disabledReason: string | null;
  zone: string;
  freeGb: number | null;
  totalGb: number | null;
  address: string;
  updatedAt: string | null;
  /** What the host's volume role reported (backend, target, backup_target_id...). */
  caps: Record<string, unknown>;
}

function addressOf(h: { agent_url: string; tunnel_ip: string }): string {
  try {
    return new URL(h.agent_url).hostname.replace(/^\[|\]$/g, '') || h.tunnel_ip;
  } catch {
    return h.tunnel_ip;
  }
}

export function volumeHosts(ctx: VolumeCtx): VolumeHost[] {
  return new HostsRepo(ctx.db).listWithRole('volume').map((r) => {
    const caps = (r.capabilities as { roles?: { volume?: Record<string, unknown> } }).roles?.volume ?? {};
    const use = (r.usage as { roles?: { volume?: Record<string, number> } }).roles?.volume ?? {};
    return {
      id: r.id,
      name: r.name,
      backend: typeof caps.backend === 'string' && caps.backend ? caps.backend : 'file',
      up: r.state === 'up',
      enabled: r.enabled,
      disabledReason: r.disabled_reason,
      zone:
        typeof caps.availability_zone === 'string' && caps.availability_zone
          ? caps.availability_zone
          : ctx.config.volume.default_availability_zone,
      freeGb: typeof use.free_gb === 'number' ? use.free_gb : null,
      totalGb: typeof use.total_gb === 'number' ? use.total_gb : null,
      address: addressOf(r),
      updatedAt: r.last_heartbeat_at ?? r.updated_at,
      caps,
    };
  });
}

/** Cinder's host string: host@backend#pool. */
export const hostString = (h: { name: string; backend: string }, pool = true) =>
  `${h.name}@${h.backend}${pool ? `#${h.backend}` : ''}`;

/**
 * The filter scheduler in miniature: enabled, up hosts with the type's back end (if
 * it names one) in the zone, with room; the one with most free space wins.
 */
export function pickHost(
  ctx: VolumeCtx,
  o: { backend: string | null; zone: string; sizeGb: number; only?: ReadonlySet<string> },
): VolumeHost | null {
  const cands = volumeHosts(ctx).filter(
    (h) =>
      (!o.only || o.only.has(h.id)) &&
      h.enabled &&
      h.up &&
      h.zone === o.zone &&
      (!o.backend || h.backend === o.backend) &&
      (h.freeGb === null || h.freeGb >= o.sizeGb),
  );
  cands.sort((a, b) => (b.freeGb ?? 0) - (a.freeGb ?? 0) || a.name.localeCompare(b.name));
  return cands[0] ?? null;
}

/** The compute host's address (the initiator's source address for the target ACL). */
export function hostAddress(ctx: VolumeCtx, name: string): string | undefined {
  const r = new HostsRepo(ctx.db).list().find((h) => h.name === name);
  if (!r) return undefined;
  const a = addressOf(r);
  return /^[0-9a-fA-F.:]{2,45}$/.test(a) ? a : undefined;
}

/** os-services: cinder-scheduler (the controller) and one cinder-volume per back end. */
export function servicesView(ctx: VolumeCtx, q: { binary?: string; host?: string }): Array<Record<string, unknown>> {
  const zone = ctx.config.volume.default_availability_zone;
  const out: Array<Record<string, unknown>> = [
    {
      binary: 'cinder-scheduler',
      host: 'homestack-controller',
      zone,
      status: 'enabled',
      state: 'up',
      updated_at: cinderTime(ctx.now()),
      disabled_reason: null,
    },
  ];
  for (const h of volumeHosts(ctx)) {
    out.push({
      binary: 'cinder-volume',
      host: hostString(h, false),
      zone: h.zone,
      status: h.enabled ? 'enabled' : 'disabled',
      state: h.up ? 'up' : 'down',
      updated_at: h.updatedAt ? cinderTime(new Date(h.updatedAt)) : null,
      disabled_reason: h.disabledReason,
      replication_status: 'disabled',
      active_backend_id: null,
      frozen: false,
      cluster: null,
      backend_state: h.up ? 'up' : 'down',
    });
  }
  return out.filter(
    (s) => (!q.binary || s.binary === q.binary) && (!q.host || s.host === q.host || String(s.host).startsWith(`${q.host}@`)),
  );
}
