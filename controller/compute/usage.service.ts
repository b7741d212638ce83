import { BadRequest } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { boolParam, must, usgTime, type ComputeCtx } from './context.js';
import { statusOf } from './servers-view.js';

/** Nova's simple tenant usage: hours, vCPU-hours, MB-hours and GB-hours per project in [start, end). */
function window(q: Record<string, string | undefined>, now: Date): { start: Date; end: Date } {
  const parse = (s: string | undefined, def: Date, what: string) => {
    if (!s) return def;
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
    if (Number.isNaN(d.getTime())) throw new BadRequest(`Invalid ${what} time. The ${what} time must be in ISO 8601 format.`);
    return d;
  };
  const end = parse(q.end, now, 'end');
  const start = parse(q.start, new Date(end.getTime() - 30 * 86400_000), 'start');
  if (start > end) throw new BadRequest('Invalid start time. The start time cannot occur after the end time.');
  return { start, end };
}

export function tenantUsages(
  ctx: ComputeCtx,
  auth: AuthContext,
  q: Record<string, string | undefined>,
  projectId?: string,
): unknown {
  must(ctx, projectId ? 'os_compute_api:os-simple-tenant-usage:show' : 'os_compute_api:os-simple-tenant-usage:list', auth, {
    project_id: projectId ?? auth.projectId,
  });
  const { start, end } = window(q, ctx.now());
  const detailed = projectId ? true : boolParam(q.detailed) === true;
  const byProject = new Map<
    string,
    {
      tenant_id: string;
      total_hours: number;
      total_vcpus_usage: number;
      total_memory_mb_usage: number;
      total_local_gb_usage: number;
      server_usages: unknown[];
    }
  >();
  for (const i of ctx.servers.activeBetween(start.toISOString(), end.toISOString(), projectId)) {
    const from = new Date(Math.max(start.getTime(), new Date(i.launched_at ?? i.created_at).getTime()));
    const to = new Date(Math.min(end.getTime(), i.terminated_at ? new Date(i.terminated_at).getTime() : end.getTime()));
    const hours = Math.max(0, (to.getTime() - from.getTime()) / 3600_000);
    const u = byProject.get(i.project_id) ?? {
      tenant_id: i.project_id,
      total_hours: 0,
      total_vcpus_usage: 0,
      total_memory_mb_usage: 0,
      total_local_gb_usage: 0,
      server_usages: [],
    };
    u.total_hours += hours;
    u.total_vcpus_usage += hours * i.flavor.vcpus;
    u.total_memory_mb_usage += hours * i.flavor.ram;
    u.total_local_gb_usage += hours * (i.flavor.disk + i.flavor.ephemeral);
    u.server_usages.push({
      instance_id: i.id,
      name: i.name,
      hours,
      memory_mb: i.flavor.ram,
      local_gb: i.flavor.disk + i.flavor.ephemeral,
      vcpus: i.flavor.vcpus,
      tenant_id: i.project_id,
      flavor: i.flavor.name,
      started_at: usgTime(i.launched_at ?? i.created_at),
      ended_at: usgTime(i.terminated_at),
      state: i.deleted ? 'terminated' : statusOf(i.vm_state, i.task_state) === 'ACTIVE' ? 'active' : i.vm_state,
      uptime: Math.floor(hours * 3600),
    });
    byProject.set(i.project_id, u);
  }
  const docs = [...byProject.values()].map((u) => ({
    ...u,
    start: usgTime(start.toISOString()),
    stop: usgTime(end.toISOString()),
    ...(detailed ? {} : { server_usages: undefined }),
  }));
  if (projectId) return { tenant_usage: docs[0] ?? {} };
  return { tenant_usages: docs };
}
