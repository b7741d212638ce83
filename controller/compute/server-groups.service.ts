import { ServerGroupCreate } from '../../shared/api/compute.js';
import { BadRequest, Forbidden, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { boolParam, can, must, type ComputeCtx } from './context.js';
import { quotaLimit } from './quotas.service.js';
import type { ServerGroup } from './server-groups.repo.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { validate } from '../http/validate.js';

type Group = ServerGroup;

const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

/** The os-server-groups document: `policies` list before 2.64, `policy` + `rules` from it. */
export function groupView(ctx: ComputeCtx, g: Group, v: Microversion): Record<string, unknown> {
  // project_id and user_id from 2.13
  const base = {
    id: g.id,
    name: g.name,
    members: ctx.groups.liveMembers(g.id),
    ...(mvAtLeast(v, '2.13') ? { project_id: g.project_id, user_id: g.user_id } : {}),
  };
  if (mvAtLeast(v, '2.64')) return { ...base, policy: g.policy, rules: JSON.parse(g.rules) };
  return { ...base, policies: [g.policy], metadata: {} };
}

export function getGroup(ctx: ComputeCtx, auth: AuthContext, id: string): Group {
  const g = ctx.groups.get(id);
  if (!g || (g.project_id !== auth.projectId && !auth.isAdmin))
    throw new NotFound(`Instance group ${id} could not be found.`, 'InstanceGroupNotFound');
  must(ctx, 'os_compute_api:os-server-groups:show', auth, { project_id: g.project_id });
  return g;
}

export function listGroups(ctx: ComputeCtx, auth: AuthContext, q: Record<string, string | undefined>): Group[] {
  must(ctx, 'os_compute_api:os-server-groups:index', auth, { project_id: auth.projectId });
  const all = boolParam(q.all_projects) === true && can(ctx, 'os_compute_api:os-server-groups:index:all_projects', auth);
  const rows = ctx.groups.list(all ? null : (auth.projectId ?? ''));
  const offset = q.offset ? Number(q.offset) : 0;
  const limit = q.limit ? Number(q.limit) : undefined;
  return rows.slice(offset, limit !== undefined ? offset + limit : undefined);
}

export function createGroup(ctx: ComputeCtx, auth: AuthContext, body: unknown, v: Microversion): Group {
  const projectId = auth.projectId;
  if (!projectId) throw new Forbidden('A project-scoped token is required.');
  must(ctx, 'os_compute_api:os-server-groups:create', auth, { project_id: projectId });
  const sg = validate(ServerGroupCreate, body).server_group;
  let policy: string;
  if (mvAtLeast(v, '2.64')) {
    if (!sg.policy || !POLICIES.includes(sg.policy))
      throw new BadRequest(
        `Invalid input for field/attribute policy. Value: ${sg.policy}. must be one of ${POLICIES.join(', ')}`,
      );
    policy = sg.policy;
  } else {
    if (!sg.policies) throw new BadRequest("Invalid input for field/attribute server_group. 'policies' is a required property");
    policy = sg.policies[0]!;
    if (policy.startsWith('soft-') && !mvAtLeast(v, '2.15')) {
      throw new BadRequest(
        `Invalid input for field/attribute 0. Value: ${policy}. '${policy}' is not one of ['anti-affinity', 'affinity']`,
      );
    }
  }
  const limit = quotaLimit(ctx, projectId, 'server_groups');
  const have = ctx.groups.count(projectId);
  if (limit >= 0 && have >= limit) throw new Forbidden('Quota exceeded, too many server groups.', 'QuotaError');
  const g: Group = {
    id: newUuid(),
    name: sg.name,
    project_id: projectId,
    user_id: auth.userId,
    policy,
    rules: JSON.stringify(sg.rules ?? {}),
    created_at: ctx.now().toISOString(),
  };
  ctx.groups.insert(g);
  return g;
}

export function deleteGroup(ctx: ComputeCtx, auth: AuthContext, id: string): void {
  const g = getGroup(ctx, auth, id);
  must(ctx, 'os_compute_api:os-server-groups:delete', auth, { project_id: g.project_id });
  ctx.groups.delete(id);
}
