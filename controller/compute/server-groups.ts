import { ServerGroupCreate } from '../../shared/api/compute.js';
import { BadRequest, Forbidden, NotFound } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { boolParam, can, must, type ComputeCtx } from './context.js';
import { quotaLimit } from './quotas.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { validate } from './validate.js';

interface Group {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  rules: string;
  created_at: string;
}

const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

function members(ctx: ComputeCtx, id: string): string[] {
  return (
    ctx.db
      .prepare(
        `SELECT m.instance_id FROM server_group_members m JOIN instances i ON i.id = m.instance_id AND i.deleted = 0 WHERE m.group_id = ? ORDER BY i.seq`,
      )
      .all(id) as Array<{ instance_id: string }>
  ).map((r) => r.instance_id);
}

/** The os-server-groups document: `policies` list before 2.64, `policy` + `rules` from it. */
export function groupView(ctx: ComputeCtx, g: Group, v: Microversion): Record<string, unknown> {
  const base = { id: g.id, name: g.name, members: members(ctx, g.id), project_id: g.project_id, user_id: g.user_id };
  if (mvAtLeast(v, '2.64')) return { ...base, policy: g.policy, rules: JSON.parse(g.rules) };
  return { ...base, policies: [g.policy], metadata: {} };
}

export function getGroup(ctx: ComputeCtx, auth: AuthContext, id: string): Group {
  const g = ctx.db.prepare('SELECT * FROM server_groups WHERE id = ?').get(id) as Group | undefined;
  if (!g || (g.project_id !== auth.projectId && !auth.isAdmin))
    throw new NotFound(`Instance group ${id} could not be found.`, 'InstanceGroupNotFound');
  must(ctx, 'os_compute_api:os-server-groups:show', auth, { project_id: g.project_id });
  return g;
}

export function listGroups(ctx: ComputeCtx, auth: AuthContext, q: Record<string, string | undefined>): Group[] {
  must(ctx, 'os_compute_api:os-server-groups:index', auth, { project_id: auth.projectId });
  const all = boolParam(q.all_projects) === true && can(ctx, 'os_compute_api:os-server-groups:index:all_projects', auth);
  const rows = (
    all
      ? ctx.db.prepare('SELECT * FROM server_groups ORDER BY created_at').all()
      : ctx.db.prepare('SELECT * FROM server_groups WHERE project_id = ? ORDER BY created_at').all(auth.projectId ?? '')
  ) as Group[];
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
  const have = (ctx.db.prepare('SELECT COUNT(*) AS n FROM server_groups WHERE project_id = ?').get(projectId) as { n: number }).n;
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
  ctx.db
    .prepare('INSERT INTO server_groups (id, name, project_id, user_id, policy, rules, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(g.id, g.name, g.project_id, g.user_id, g.policy, g.rules, g.created_at);
  return g;
}

export function deleteGroup(ctx: ComputeCtx, auth: AuthContext, id: string): void {
  const g = getGroup(ctx, auth, id);
  must(ctx, 'os_compute_api:os-server-groups:delete', auth, { project_id: g.project_id });
  ctx.db.prepare('DELETE FROM server_groups WHERE id = ?').run(id);
}
