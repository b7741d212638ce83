import { ServiceUpdate } from '../../shared/api/compute.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { must, novaTime, usgTime, type ComputeCtx } from './context.js';
import { HostsRepo } from '../agents/hosts.repo.js';
import type { ComputeHostRow } from './hosts.repo.js';
import { capacity } from './placement.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { validate } from '../http/validate.js';

type HostRow = ComputeHostRow;

export function computeHosts(ctx: ComputeCtx): HostRow[] {
  return ctx.hosts.all().filter((r) => {
    try {
      return (JSON.parse(r.roles) as string[]).includes('compute');
    } catch {
      return false;
    }
  });
}

export function zoneOf(ctx: ComputeCtx, h: HostRow): string {
  try {
    const c = JSON.parse(h.capabilities) as { roles?: { compute?: { availability_zone?: unknown } } };
    const z = c.roles?.compute?.availability_zone;
    return typeof z === 'string' && z ? z : ctx.config.compute.default_availability_zone;
  } catch {
    return ctx.config.compute.default_availability_zone;
  }
}

const hostIp = (h: HostRow) => {
  try {
    return h.tunnel_ip || new URL(h.agent_url).hostname;
  } catch {
    return h.tunnel_ip;
  }
};

/** os-hypervisors documents (integer ids and stats fields at 2.1). */
export function hypervisorView(ctx: ComputeCtx, h: HostRow, detail: boolean, v: Microversion): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    id: mvAtLeast(v, '2.53') ? h.id : h.num,
    hypervisor_hostname: h.name,
    state: h.state === 'up' && !h.forced_down ? 'up' : 'down',
    status: h.enabled ? 'enabled' : 'disabled',
  };
  if (!detail) return doc;
  const used = ctx.placement.usageOf(h.id);
  const cap = capacity(h, ctx.placement.ratios);
  Object.assign(doc, {
    hypervisor_type: h.hypervisor_type || 'QEMU',
    hypervisor_version: 0,
    host_ip: hostIp(h),
    service: { host: h.name, id: mvAtLeast(v, '2.53') ? h.id : h.num, disabled_reason: h.disabled_reason },
  });
  if (!mvAtLeast(v, '2.88')) {
    Object.assign(doc, {
      vcpus: h.vcpus,
      memory_mb: h.memory_mb,
      local_gb: h.disk_gb,
      vcpus_used: used.vcpus,
      memory_mb_used: used.memory_mb,
      local_gb_used: used.disk_gb,
      free_ram_mb: cap.memory_mb - used.memory_mb,
      free_disk_gb: cap.disk_gb - used.disk_gb,
      current_workload: 0,
      running_vms: used.instances,
      disk_available_least: cap.disk_gb - used.disk_gb,
      // a JSON object from 2.28, its text before (Nova's libvirt driver reports arch, model, topology…)
      cpu_info: mvAtLeast(v, '2.28') ? cpuInfoOf(h) : JSON.stringify(cpuInfoOf(h)),
    });
  }
  return doc;
}

export function findHypervisor(ctx: ComputeCtx, id: string): HostRow {
  const h = computeHosts(ctx).find((x) => String(x.num) === id || x.id === id);
  if (!h) throw new NotFound(`Hypervisor with ID ${id} could not be found.`, 'ComputeHostNotFound');
  return h;
}

export function hypervisorStats(ctx: ComputeCtx, auth: AuthContext): Record<string, number> {
  must(ctx, 'os_compute_api:os-hypervisors:statistics', auth);
  const s = {
    count: 0,
    vcpus: 0,
    memory_mb: 0,
    local_gb: 0,
    vcpus_used: 0,
    memory_mb_used: 0,
    local_gb_used: 0,
    free_ram_mb: 0,
    free_disk_gb: 0,
    current_workload: 0,
    running_vms: 0,
    disk_available_least: 0,
  };
  for (const h of computeHosts(ctx)) {
    const u = ctx.placement.usageOf(h.id);
    const cap = capacity(h, ctx.placement.ratios);
    s.count++;
    s.vcpus += h.vcpus;
    s.memory_mb += h.memory_mb;
    s.local_gb += h.disk_gb;
    s.vcpus_used += u.vcpus;
    s.memory_mb_used += u.memory_mb;
    s.local_gb_used += u.disk_gb;
    s.free_ram_mb += cap.memory_mb - u.memory_mb;
    s.free_disk_gb += cap.disk_gb - u.disk_gb;
    s.disk_available_least += cap.disk_gb - u.disk_gb;
    s.running_vms += u.instances;
  }
  return s;
}

/** os-services: one nova-compute per compute host; state from heartbeats. */
export function serviceView(ctx: ComputeCtx, h: HostRow, v: Microversion): Record<string, unknown> {
  return {
    id: mvAtLeast(v, '2.53') ? h.id : h.num,
    binary: 'nova-compute',
    host: h.name,
    zone: zoneOf(ctx, h),
    status: h.enabled ? 'enabled' : 'disabled',
    state: h.state === 'up' && !h.forced_down ? 'up' : 'down',
    updated_at: usgTime(h.last_heartbeat_at ?? h.updated_at),
    disabled_reason: h.disabled_reason,
    ...(mvAtLeast(v, '2.11') ? { forced_down: h.forced_down === 1 } : {}),
  };
}

export function listServices(
  ctx: ComputeCtx,
  auth: AuthContext,
  q: Record<string, string | undefined>,
  v: Microversion,
): Record<string, unknown>[] {
  must(ctx, 'os_compute_api:os-services:list', auth);
  if (q.binary && q.binary !== 'nova-compute') return [];
  return computeHosts(ctx)
    .filter((h) => !q.host || h.name === q.host)
    .map((h) => serviceView(ctx, h, v));
}

/** PUT /os-services/{enable|disable|disable-log-reason} (2.1) or /os-services/{id} (2.53). */
export function updateService(
  ctx: ComputeCtx,
  auth: AuthContext,
  action: string,
  body: unknown,
  v: Microversion,
): Record<string, unknown> {
  must(ctx, 'os_compute_api:os-services:update', auth);
  const b = validate(ServiceUpdate, body ?? {});
  let h: HostRow | undefined;
  let enable: boolean;
  if (action === 'force-down') {
    // 2.11: PUT /os-services/force-down {host, binary, forced_down}
    if (!mvAtLeast(v, '2.11') || mvAtLeast(v, '2.53')) throw new NotFound('The resource could not be found.');
    if (!b.host || !b.binary || b.forced_down === undefined) throw new BadRequest('Missing host, binary or forced_down.');
    if (b.binary !== 'nova-compute') throw new NotFound(`Service ${b.binary} on host ${b.host} could not be found.`);
    const fh = computeHosts(ctx).find((x) => x.name === b.host);
    if (!fh) throw new NotFound(`Host ${b.host} could not be found.`, 'HostNotFound');
    new HostsRepo(ctx.db).setForcedDown(fh.id, b.forced_down, ctx.now().toISOString());
    ctx.scheduler.cache.invalidate();
    return { host: fh.name, binary: 'nova-compute', forced_down: b.forced_down };
  }
  let reason: string | null = null;
  if (action === 'enable' || action === 'disable' || action === 'disable-log-reason') {
    if (!b.host || !b.binary) throw new BadRequest('Missing host or binary.');
    if (b.binary !== 'nova-compute') throw new NotFound(`Service ${b.binary} on host ${b.host} could not be found.`);
    h = computeHosts(ctx).find((x) => x.name === b.host);
    enable = action === 'enable';
    if (action === 'disable-log-reason') {
      if (!b.disabled_reason) throw new BadRequest('Missing disabled reason field');
      reason = b.disabled_reason;
    }
  } else {
    h = computeHosts(ctx).find((x) => x.id === action || String(x.num) === action);
    if (!b.status) throw new BadRequest('Nothing to update: status is required.');
    enable = b.status === 'enabled';
    reason = b.disabled_reason ?? null;
  }
  if (!h) throw new NotFound(`Host ${b.host ?? action} could not be found.`, 'HostNotFound');
  new HostsRepo(ctx.db).setEnabled(h.id, enable, reason, ctx.now().toISOString());
  ctx.scheduler.cache.invalidate();
  const after = computeHosts(ctx).find((x) => x.id === h!.id)!;
  if (action === 'enable' || action === 'disable' || action === 'disable-log-reason') {
    return {
      host: after.name,
      binary: 'nova-compute',
      status: enable ? 'enabled' : 'disabled',
      ...(reason ? { disabled_reason: reason } : {}),
    };
  }
  return serviceView(ctx, after, v);
}

/** os-availability-zone (+ detail for admins). */
export function availabilityZones(ctx: ComputeCtx, auth: AuthContext, detail: boolean): unknown[] {
  must(ctx, `os_compute_api:os-availability-zone:${detail ? 'detail' : 'list'}`, auth);
  const zones = new Map<string, Array<ReturnType<typeof computeHosts>[number]>>();
  for (const h of computeHosts(ctx)) {
    if (!h.enabled) continue;
    const z = zoneOf(ctx, h);
    zones.set(z, [...(zones.get(z) ?? []), h]);
  }
  return [...zones.entries()].map(([zone, hs]) => ({
    zoneName: zone,
    zoneState: { available: hs.some((h) => h.state === 'up') },
    hosts: detail
      ? Object.fromEntries(
          hs.map((h) => [
            h.name,
            {
              'nova-compute': { available: h.enabled === 1, active: h.state === 'up', updated_at: novaTime(h.last_heartbeat_at) },
            },
          ]),
        )
      : null,
  }));
}

/** What the host reports of its CPU, in the shape of Nova's libvirt cpu_info. */
function cpuInfoOf(h: HostRow): Record<string, unknown> {
  let c: { roles?: { compute?: { cpu_arch?: string } } } = {};
  try {
    c = JSON.parse(h.capabilities || '{}');
  } catch {
    /* none */
  }
  const arch = c.roles?.compute?.cpu_arch;
  return arch ? { arch, topology: { cells: 1, sockets: 1, cores: h.vcpus, threads: 1 } } : {};
}
