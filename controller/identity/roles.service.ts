import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { IdentityBackends } from './backends.service.js';
import type { IdentityCore } from './core.js';
import type { RoleCreate, RoleUpdate } from '../../shared/api/identity.js';
import { extras, parseJson, type Obj } from './input.js';
import type { AssignmentRow, DomainRow, GroupRow, ProjectRow, RoleRow, UserRow } from './identity.repo.js';
import { notFound, type Resources } from './resources.service.js';

/** Roles, implied roles and role assignments (grants). */
const ROLE_FIELDS = ['name', 'domain_id', 'description', 'options'] as const;
/** As Keystone's [assignment] prohibited_implied_role: nothing may imply admin. */
const PROHIBITED_IMPLIED = ['admin'];

export interface Actor {
  type: 'user' | 'group';
  id: string;
}
export interface Target {
  /** 'system' with id 'all': Keystone's system scope. */
  type: 'project' | 'domain' | 'system';
  id: string;
}
export const SYSTEM: Target = { type: 'system', id: 'all' };

/** One line of GET /v3/role_assignments before rendering. */
export interface EffectiveAssignment {
  a: AssignmentRow;
  role: RoleRow;
  /** For effective lists: the user the group assignment was expanded to. */
  userId?: string;
  /** The prior role an implied role came from. */
  priorRoleId?: string;
  /** For effective lists: the project an OS-INHERIT assignment (`a`) reaches. */
  projectId?: string;
}

export class Roles {
  constructor(
    private readonly core: IdentityCore,
    private readonly res: Resources,
    private readonly backends: IdentityBackends,
  ) {}

  private get repo() {
    return this.core.repo;
  }

  role(id: string): RoleRow {
    const r = this.repo.get<RoleRow>('roles', id);
    if (!r) throw notFound('role', id);
    return r;
  }

  private immutable(r: RoleRow): boolean {
    return parseJson<Obj>(r.options, {}).immutable === true;
  }

  createRole(o: RoleCreate): RoleRow {
    const n = o.name;
    const domainId = o.domain_id ?? null;
    if (domainId && !this.repo.get('domains', domainId))
      throw new BadRequest(`Could not find domain: ${domainId}.`, 'ValidationError');
    if (this.repo.list('roles', { name: n, domain_id: domainId }).length) {
      throw new Conflict(`Conflict occurred attempting to store role - Duplicate entry found with name ${n}.`);
    }
    const row: RoleRow = {
      id: newHexId(),
      name: n,
      domain_id: domainId,
      description: o.description ?? null,
      options: JSON.stringify(o.options ?? {}),
      extra: JSON.stringify(extras(o, ROLE_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('roles', { ...row });
    this.core.changed();
    return row;
  }

  updateRole(id: string, o: RoleUpdate): RoleRow {
    const r = this.role(id);
    const opts = o.options;
    const onlyUnlocking = opts?.immutable === false && Object.keys(o).every((k) => k === 'options');
    if (this.immutable(r) && !onlyUnlocking) throw new Forbidden(`Unable to update immutable role ${id}.`);
    if (o.domain_id !== undefined && o.domain_id !== r.domain_id)
      throw new BadRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    const patch: Record<string, unknown> = {};
    const n = o.name;
    if (n !== undefined && n !== r.name) {
      if (this.repo.list('roles', { name: n, domain_id: r.domain_id }).length) {
        throw new Conflict(`Conflict occurred attempting to store role - Duplicate entry found with name ${n}.`);
      }
      patch.name = n;
    }
    if (o.description !== undefined) patch.description = o.description;
    if (opts) patch.options = JSON.stringify({ ...parseJson<Obj>(r.options, {}), ...opts });
    const ex = extras(o, ROLE_FIELDS);
    if (Object.keys(ex).length) patch.extra = JSON.stringify({ ...parseJson<Obj>(r.extra, {}), ...ex });
    this.repo.update('roles', id, patch);
    this.core.changed();
    return this.role(id);
  }

  deleteRole(id: string): void {
    const r = this.role(id);
    if (this.immutable(r)) throw new Forbidden(`Unable to delete immutable role ${id}.`);
    this.repo.tx(() => this.repo.delete('roles', id)); // assignments and implications cascade
    this.core.changed();
  }

  // Implied roles

  createImplication(priorId: string, impliedId: string): { prior: RoleRow; implied: RoleRow } {
    const prior = this.role(priorId);
    const implied = this.role(impliedId);
    if (PROHIBITED_IMPLIED.includes(implied.name)) throw new Forbidden(`${implied.name} may not be an implied role.`);
    if (priorId === impliedId || this.core.expandRoles([impliedId]).some((r) => r.id === priorId)) {
      throw new Forbidden(`Implying ${implied.name} from ${prior.name} would create a loop.`);
    }
    this.repo.addImplication(priorId, impliedId);
    this.core.changed();
    return { prior, implied };
  }

  checkImplication(priorId: string, impliedId: string): { prior: RoleRow; implied: RoleRow } {
    const prior = this.role(priorId);
    const implied = this.role(impliedId);
    if (!this.core.impliedBy(priorId).includes(impliedId)) throw new NotFound(`${prior.name} does not imply ${implied.name}.`);
    return { prior, implied };
  }

  deleteImplication(priorId: string, impliedId: string): void {
    this.checkImplication(priorId, impliedId);
    this.repo.removeImplication(priorId, impliedId);
    this.core.changed();
  }

  // Grants

  /** The actor as its backend has it now (a directory's user or group is looked up there; 503 when it is down). */
  private async checkActorTarget(actor: Actor, target: Target): Promise<void> {
    if (actor.type === 'user') await this.res.liveUser(actor.id);
    else await this.res.liveGroup(actor.id);
    if (target.type === 'project') this.res.project(target.id);
    else if (target.type === 'domain') this.res.domain(target.id);
  }

  private row(actor: Actor, target: Target, roleId: string, inherited: boolean): AssignmentRow {
    const row: AssignmentRow = {
      actor_type: actor.type,
      actor_id: actor.id,
      target_type: target.type,
      target_id: target.id,
      role_id: roleId,
    };
    return { ...row, inherited: inherited ? 1 : 0 };
  }

  /** `inherited`: OS-INHERIT, the role goes to the projects below the target (not the target). */
  async grant(actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
    await this.checkActorTarget(actor, target);
    this.role(roleId);
    this.repo.grant(this.row(actor, target, roleId, inherited));
    this.core.changed();
  }

  async revoke(actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
    await this.check(actor, target, roleId, inherited);
    this.repo.revoke(this.row(actor, target, roleId, inherited));
    this.core.changed();
  }

  async check(actor: Actor, target: Target, roleId: string, inherited = false): Promise<void> {
    await this.checkActorTarget(actor, target);
    this.role(roleId);
    if (!this.repo.assignments(this.row(actor, target, roleId, inherited)).length) {
      throw new NotFound(
        `Could not find role assignment with role: ${roleId}, ${actor.type}: ${actor.id}, ${target.type}: ${target.id}.`,
      );
    }
  }

  /** Roles granted directly to the actor on the target (GET .../roles). */
  async listGrants(actor: Actor, target: Target, inherited = false): Promise<RoleRow[]> {
    await this.checkActorTarget(actor, target);
    return this.repo
      .assignments({
        actor_type: actor.type,
        actor_id: actor.id,
        target_type: target.type,
        target_id: target.id,
        inherited: inherited ? 1 : 0,
      })
      .map((a) => this.core.role(a.role_id))
      .filter((r): r is RoleRow => !!r);
  }

  /**
   * GET /v3/role_assignments. With `effective`, group assignments become one line per
   * member, OS-INHERIT assignments one line per project they reach (a domain's projects,
   * a project's subtree), implied roles are added and domain-specific roles left out
   * (they only carry their implied roles), as Keystone does.
   */
  async list(f: {
    userId?: string;
    groupId?: string;
    roleId?: string;
    projectId?: string;
    domainId?: string;
    system?: boolean;
    inheritedOnly?: boolean;
    effective: boolean;
  }): Promise<EffectiveAssignment[]> {
    let rows: AssignmentRow[];
    if (f.effective && f.userId) {
      const groups = await this.backends.groupIdsOfUser(f.userId);
      rows = [
        ...this.repo.assignments({ actor_type: 'user', actor_id: f.userId }),
        ...groups.flatMap((g) => this.repo.assignments({ actor_type: 'group', actor_id: g })),
      ];
    } else if (f.userId) rows = this.repo.assignments({ actor_type: 'user', actor_id: f.userId });
    else if (f.groupId) rows = this.repo.assignments({ actor_type: 'group', actor_id: f.groupId });
    else rows = this.repo.assignments();

    let out: EffectiveAssignment[] = [];
    for (const a of rows) {
      const role = this.core.role(a.role_id);
      if (!role) continue;
      const reach = f.effective && a.inherited ? this.inheritedReach(a).map((projectId) => ({ projectId })) : [{}];
      for (const r of reach) {
        if (f.effective && a.actor_type === 'group') {
          const members = f.userId ? [f.userId] : (await this.backends.usersOfGroup(a.actor_id)).map((u) => u.id);
          for (const userId of members) out.push({ a, role, userId, ...r });
        } else out.push({ a, role, ...r });
      }
    }
    out = out.filter((e) => {
      const [type, id] = e.projectId ? ['project', e.projectId] : [e.a.target_type, e.a.target_id];
      if (f.inheritedOnly && !e.a.inherited) return false;
      if (f.projectId) return type === 'project' && id === f.projectId;
      if (f.domainId) return type === 'domain' && id === f.domainId;
      if (f.system) return type === 'system';
      return true;
    });
    if (f.effective) {
      const expanded: EffectiveAssignment[] = [];
      for (const e of out) {
        if (!e.role.domain_id) expanded.push(e);
        for (const r of this.core.expandRoles([e.role.id]).slice(1)) expanded.push({ ...e, role: r, priorRoleId: e.role.id });
      }
      const seen = new Set<string>();
      out = expanded.filter((e) => {
        const target = e.projectId ? `project:${e.projectId}` : `${e.a.target_type}:${e.a.target_id}`;
        const k = `${e.userId ?? `${e.a.actor_type}:${e.a.actor_id}`}|${target}|${e.role.id}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    }
    if (f.roleId) out = out.filter((e) => e.role.id === f.roleId);
    return out;
  }

  /** The projects an OS-INHERIT assignment reaches: every project of the domain, or the project's subtree. */
  private inheritedReach(a: AssignmentRow): string[] {
    const projects = this.repo.list<ProjectRow>('projects');
    if (a.target_type === 'domain') return projects.filter((p) => p.domain_id === a.target_id).map((p) => p.id);
    const below = new Set([a.target_id]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const p of projects)
        if (p.parent_id && below.has(p.parent_id) && !below.has(p.id)) {
          below.add(p.id);
          grew = true;
        }
    }
    below.delete(a.target_id);
    return [...below];
  }

  /** Keystone's role assignment document. */
  render(base: string, e: EffectiveAssignment, names: boolean): Record<string, unknown> {
    const { a } = e;
    const domainRef = (id: string) => {
      const d = this.repo.get<DomainRow>('domains', id);
      return names && d ? { id, name: d.name } : { id };
    };
    const doc: Record<string, unknown> = {};
    const projectRef = (id: string) => {
      const p = this.repo.get<ProjectRow>('projects', id);
      return { project: names && p ? { id: p.id, name: p.name, domain: domainRef(p.domain_id) } : { id } };
    };
    if (e.projectId) doc.scope = projectRef(e.projectId);
    else if (a.target_type === 'project') doc.scope = projectRef(a.target_id);
    else if (a.target_type === 'domain') doc.scope = { domain: domainRef(a.target_id) };
    else doc.scope = { system: { all: true } };
    if (a.inherited && !e.projectId) (doc.scope as Obj)['OS-INHERIT:inherited_to'] = 'projects';
    const actorUser = e.userId ?? (a.actor_type === 'user' ? a.actor_id : undefined);
    if (actorUser) {
      const u = this.repo.get<UserRow>('users', actorUser);
      doc.user = names && u ? { id: u.id, name: u.name, domain: domainRef(u.domain_id) } : { id: actorUser };
    } else {
      const g = this.repo.get<GroupRow>('groups', a.actor_id);
      doc.group = names && g ? { id: g.id, name: g.name, domain: domainRef(g.domain_id) } : { id: a.actor_id };
    }
    doc.role = names
      ? { id: e.role.id, name: e.role.name, ...(e.role.domain_id ? { domain: domainRef(e.role.domain_id) } : {}) }
      : { id: e.role.id };
    const rid = e.priorRoleId ?? e.role.id;
    const path =
      a.target_type === 'system'
        ? `system/${a.actor_type}s/${a.actor_id}/roles/${rid}`
        : a.inherited
          ? `OS-INHERIT/${a.target_type}s/${a.target_id}/${a.actor_type}s/${a.actor_id}/roles/${rid}/inherited_to_projects`
          : `${a.target_type}s/${a.target_id}/${a.actor_type}s/${a.actor_id}/roles/${rid}`;
    const links: Record<string, string> = { assignment: `${base}/${path}` };
    if (e.userId && a.actor_type === 'group') links.membership = `${base}/groups/${a.actor_id}/users/${e.userId}`;
    if (e.priorRoleId) links.prior_role = `${base}/roles/${e.priorRoleId}`;
    doc.links = links;
    return doc;
  }
}
