import { BadRequest, Conflict, Forbidden, NotFound, Unauthorized } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { IdentityBackends } from './backends.service.js';
import { DEFAULT_DOMAIN_ID, type IdentityCore } from './core.js';
import type {
  DomainCreate,
  DomainUpdate,
  GroupCreate,
  GroupUpdate,
  PasswordChange,
  ProjectCreate,
  ProjectUpdate,
  UserCreate,
  UserUpdate,
} from '../../shared/api/identity.js';
import { invalid } from './body.js';
import { extras } from './input.js';
import type { DomainRow, GroupRow, ProjectRow, UserRow } from './identity.repo.js';

/** Domains, projects, users and groups: the logic behind their routes. */
export const notFound = (kind: string, id: string) => new NotFound(`Could not find ${kind}: ${id}.`);

const dup = (kind: string, n: string, where?: string) =>
  new Conflict(
    `Conflict occurred attempting to store ${kind} - Duplicate entry found with name ${n}${where ? ` at domain ID ${where}` : ''}.`,
  );

const DOMAIN_FIELDS = ['name', 'description', 'enabled', 'tags', 'options'] as const;
const PROJECT_FIELDS = ['name', 'description', 'enabled', 'tags', 'options', 'domain_id', 'parent_id', 'is_domain'] as const;
const USER_FIELDS = ['name', 'domain_id', 'password', 'enabled', 'default_project_id', 'options', 'federated'] as const;
const GROUP_FIELDS = ['name', 'domain_id', 'description'] as const;

const json = (v: unknown) => JSON.stringify(v);

export class Resources {
  constructor(
    private readonly core: IdentityCore,
    private readonly backends: IdentityBackends,
  ) {}

  private get repo() {
    return this.core.repo;
  }

  domain(id: string): DomainRow {
    const d = this.repo.get<DomainRow>('domains', id);
    if (!d) throw notFound('domain', id);
    return d;
  }
  project(id: string): ProjectRow {
    const p = this.repo.get<ProjectRow>('projects', id);
    if (!p) throw notFound('project', id);
    return p;
  }
  user(id: string): UserRow {
    const u = this.repo.get<UserRow>('users', id);
    if (!u) throw notFound('user', id);
    return u;
  }
  group(id: string): GroupRow {
    const g = this.repo.get<GroupRow>('groups', id);
    if (!g) throw notFound('group', id);
    return g;
  }

  /** A user as its backend has it now (a directory user is read from the directory; 503 when it is down). */
  async liveUser(id: string): Promise<UserRow> {
    const u = await this.backends.getUser(id);
    if (!u) throw notFound('user', id);
    return u;
  }
  async liveGroup(id: string): Promise<GroupRow> {
    const g = await this.backends.getGroup(id);
    if (!g) throw notFound('group', id);
    return g;
  }

  /** A domain id from a body field: must name an existing domain (400 otherwise, as Keystone). */
  /** A project's domain: unknown → 400 (Keystone's ValidationError); for users and groups 404 (`notFound`). */
  private domainIdFrom(o: { domain_id?: string | null }, fallback = DEFAULT_DOMAIN_ID, notFound = false): string {
    const id = o.domain_id ?? fallback;
    if (this.repo.get('domains', id)) return id;
    if (notFound) throw new NotFound(`Could not find domain: ${id}.`);
    throw new BadRequest(`Could not find domain: ${id}.`, 'ValidationError');
  }

  // Domains

  createDomain(o: DomainCreate): DomainRow {
    const n = o.name;
    if (this.repo.list('domains', { name: n }).length) throw dup('domain', n);
    const row: DomainRow = {
      id: o.explicit_domain_id ?? newHexId(),
      name: n,
      description: o.description ?? '',
      enabled: o.enabled === false ? 0 : 1,
      tags: json(o.tags ?? []),
      options: json(o.options ?? {}),
      extra: json(extras(o, [...DOMAIN_FIELDS, 'explicit_domain_id'])),
      created_at: nowIso(),
    };
    this.repo.insert('domains', { ...row });
    this.core.changed();
    return row;
  }

  updateDomain(id: string, o: DomainUpdate): DomainRow {
    const d = this.domain(id);
    const patch: Record<string, unknown> = {};
    const n = o.name;
    if (n !== undefined && n !== d.name) {
      if (this.repo.list('domains', { name: n }).length) throw dup('domain', n);
      patch.name = n;
    }
    if (o.description !== undefined) patch.description = o.description ?? '';
    const en = o.enabled;
    if (en !== undefined) patch.enabled = en ? 1 : 0;
    if (o.tags) patch.tags = json(o.tags);
    const opts = o.options;
    if (opts) patch.options = json({ ...JSON.parse(d.options), ...opts });
    const ex = extras(o, DOMAIN_FIELDS);
    if (Object.keys(ex).length) patch.extra = json({ ...JSON.parse(d.extra), ...ex });
    this.repo.tx(() => {
      this.repo.update('domains', id, patch);
      if (en === false && d.enabled) {
        for (const u of this.repo.list<UserRow>('users', { domain_id: id })) this.core.revoke('user', u.id);
        for (const p of this.repo.list<ProjectRow>('projects', { domain_id: id })) this.core.revoke('project', p.id);
      }
    });
    this.core.changed();
    return this.domain(id);
  }

  deleteDomain(id: string): void {
    const d = this.domain(id);
    if (d.enabled) throw new Forbidden('Cannot delete a domain that is enabled, please disable it first.');
    if (id === DEFAULT_DOMAIN_ID) throw new Forbidden('The Default domain cannot be deleted.');
    this.repo.tx(() => {
      for (const u of this.repo.list<UserRow>('users', { domain_id: id })) this.deleteUserRows(u.id);
      for (const g of this.repo.list<GroupRow>('groups', { domain_id: id })) this.deleteGroupRows(g.id);
      const projects = this.repo.list<ProjectRow>('projects', { domain_id: id });
      this.repo.st('UPDATE projects SET parent_id = NULL WHERE domain_id = ?').run(id);
      for (const p of projects) this.deleteProjectRows(p.id);
      this.repo.deleteAssignmentsOnTarget('domain', id);
      this.repo.st('DELETE FROM roles WHERE domain_id = ?').run(id);
      this.repo.delete('domains', id);
    });
    this.core.changed();
  }

  // Projects

  createProject(o: ProjectCreate): ProjectRow {
    const n = o.name;
    if (o.is_domain) throw new BadRequest('Projects acting as domains are not supported; create a domain instead.');
    let parentId = o.parent_id ?? null;
    let domainId: string;
    if (parentId && !this.repo.get('domains', parentId)) {
      const parent = this.repo.get<ProjectRow>('projects', parentId);
      if (!parent) throw new BadRequest(`Could not find project: ${parentId}.`, 'ValidationError');
      domainId = this.domainIdFrom(o, parent.domain_id);
      if (domainId !== parent.domain_id) throw invalid('parent_id', 'the parent project is in another domain');
    } else {
      domainId = this.domainIdFrom(o, parentId ?? DEFAULT_DOMAIN_ID);
      if (parentId && parentId !== domainId) throw invalid('parent_id', 'the parent domain is not the project domain');
      parentId = null;
    }
    if (this.repo.list('projects', { domain_id: domainId, name: n }).length) throw dup('project', n, domainId);
    const row: ProjectRow = {
      id: newHexId(),
      domain_id: domainId,
      parent_id: parentId,
      name: n,
      description: o.description ?? '',
      enabled: o.enabled === false ? 0 : 1,
      tags: json(o.tags ?? []),
      options: json(o.options ?? {}),
      extra: json(extras(o, PROJECT_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('projects', { ...row });
    this.core.changed();
    return row;
  }

  updateProject(id: string, o: ProjectUpdate): ProjectRow {
    const p = this.project(id);
    if (o.domain_id !== undefined && o.domain_id !== p.domain_id)
      throw new BadRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    if (o.parent_id !== undefined && (o.parent_id ?? p.domain_id) !== (p.parent_id ?? p.domain_id)) {
      throw new BadRequest('Update of `parent_id` is not allowed.', 'ValidationError');
    }
    if (o.is_domain === true) throw new BadRequest('Update of `is_domain` is not allowed.', 'ValidationError');
    const patch: Record<string, unknown> = {};
    const n = o.name;
    if (n !== undefined && n !== p.name) {
      if (this.repo.list('projects', { domain_id: p.domain_id, name: n }).length) throw dup('project', n, p.domain_id);
      patch.name = n;
    }
    if (o.description !== undefined) patch.description = o.description ?? '';
    const en = o.enabled;
    if (en !== undefined) patch.enabled = en ? 1 : 0;
    if (o.tags) patch.tags = json(o.tags);
    if (o.options) patch.options = json({ ...JSON.parse(p.options), ...o.options });
    const ex = extras(o, PROJECT_FIELDS);
    if (Object.keys(ex).length) patch.extra = json({ ...JSON.parse(p.extra), ...ex });
    this.repo.tx(() => {
      this.repo.update('projects', id, patch);
      if (en === false && p.enabled) this.core.revoke('project', id);
    });
    this.core.changed();
    return this.project(id);
  }

  deleteProject(id: string): void {
    this.project(id);
    if (this.repo.list('projects', { parent_id: id }).length) {
      throw new Forbidden(`Cannot delete the project ${id} since it is not a leaf in the hierarchy.`);
    }
    this.repo.tx(() => this.deleteProjectRows(id));
    this.core.changed();
  }

  private deleteProjectRows(id: string): void {
    this.core.revoke('project', id);
    this.repo.deleteAssignmentsOnTarget('project', id);
    this.repo.st('UPDATE users SET default_project_id = NULL WHERE default_project_id = ?').run(id);
    this.repo.delete('projects', id);
  }

  // Users

  async createUser(o: UserCreate): Promise<UserRow> {
    const n = o.name;
    const domainId = this.domainIdFrom(o, DEFAULT_DOMAIN_ID, true);
    this.backends.assertWritable(domainId);
    const password = o.password;
    const dp = o.default_project_id ?? null;
    if (dp && !this.repo.get('projects', dp)) throw new BadRequest(`Could not find project: ${dp}.`, 'ValidationError');
    if (this.repo.userByName(domainId, n)) throw dup('user', n, domainId);
    const hash = password ? await this.core.hash(password) : null;
    if (this.repo.userByName(domainId, n)) throw dup('user', n, domainId); // created while we hashed
    const row: UserRow = {
      id: newHexId(),
      domain_id: domainId,
      name: n,
      enabled: o.enabled === false ? 0 : 1,
      password_hash: hash,
      default_project_id: dp,
      options: json(o.options ?? {}),
      extra: json(extras(o, USER_FIELDS)),
      failed_auth_count: 0,
      failed_auth_at: null,
      created_at: nowIso(),
    };
    this.repo.insert('users', { ...row });
    this.core.changed();
    return row;
  }

  async updateUser(id: string, o: UserUpdate): Promise<UserRow> {
    const u = this.user(id);
    this.backends.assertWritable(u.domain_id);
    if (o.domain_id !== undefined && o.domain_id !== u.domain_id)
      throw new BadRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    const patch: Record<string, unknown> = {};
    const n = o.name;
    if (n !== undefined && n !== u.name) {
      if (this.repo.userByName(u.domain_id, n)) throw dup('user', n, u.domain_id);
      patch.name = n;
    }
    const en = o.enabled;
    if (en !== undefined) patch.enabled = en ? 1 : 0;
    const dp = o.default_project_id;
    if (dp && !this.repo.get('projects', dp)) throw new BadRequest(`Could not find project: ${dp}.`, 'ValidationError');
    if (dp !== undefined) patch.default_project_id = dp;
    const password = o.password;
    if (password !== undefined) {
      patch.password_hash = password === null ? null : await this.core.hash(password);
      patch.failed_auth_count = 0;
      patch.failed_auth_at = null;
    }
    if (o.options) patch.options = json({ ...JSON.parse(u.options), ...o.options });
    const ex = extras(o, USER_FIELDS);
    if (Object.keys(ex).length) patch.extra = json({ ...JSON.parse(u.extra), ...ex });
    this.repo.tx(() => {
      this.repo.update('users', id, patch);
      if (password !== undefined || (en === false && u.enabled)) this.core.revoke('user', id);
    });
    this.core.changed();
    return this.user(id);
  }

  /** POST /v3/users/{id}/password: the user proves the old password. */
  async changePassword(id: string, o: PasswordChange): Promise<void> {
    const u = this.user(id);
    this.backends.assertWritable(u.domain_id);
    const { original_password: original, password } = o;
    if (!(await this.core.verify(original, u.password_hash))) {
      throw new Unauthorized('The request you have made requires authentication.');
    }
    const hash = await this.core.hash(password);
    this.repo.tx(() => {
      this.repo.update('users', id, { password_hash: hash, failed_auth_count: 0, failed_auth_at: null });
      this.core.revoke('user', id);
    });
    this.core.changed();
  }

  deleteUser(id: string): void {
    this.backends.assertWritable(this.user(id).domain_id);
    this.repo.tx(() => this.deleteUserRows(id));
    this.core.changed();
  }

  private deleteUserRows(id: string): void {
    this.core.revoke('user', id);
    this.repo.deleteAssignmentsOfActor('user', id);
    this.repo.delete('users', id);
  }

  // Groups

  createGroup(o: GroupCreate): GroupRow {
    const n = o.name;
    const domainId = this.domainIdFrom(o, DEFAULT_DOMAIN_ID, true);
    this.backends.assertWritable(domainId);
    if (this.repo.list('groups', { domain_id: domainId, name: n }).length) throw dup('group', n, domainId);
    const row: GroupRow = {
      id: newHexId(),
      domain_id: domainId,
      name: n,
      description: o.description ?? '',
      extra: json(extras(o, GROUP_FIELDS)),
      created_at: nowIso(),
    };
    this.repo.insert('groups', { ...row });
    this.core.changed();
    return row;
  }

  updateGroup(id: string, o: GroupUpdate): GroupRow {
    const g = this.group(id);
    this.backends.assertWritable(g.domain_id);
    if (o.domain_id !== undefined && o.domain_id !== g.domain_id)
      throw new BadRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    const patch: Record<string, unknown> = {};
    const n = o.name;
    if (n !== undefined && n !== g.name) {
      if (this.repo.list('groups', { domain_id: g.domain_id, name: n }).length) throw dup('group', n, g.domain_id);
      patch.name = n;
    }
    if (o.description !== undefined) patch.description = o.description ?? '';
    const ex = extras(o, GROUP_FIELDS);
    if (Object.keys(ex).length) patch.extra = json({ ...JSON.parse(g.extra), ...ex });
    this.repo.update('groups', id, patch);
    this.core.changed();
    return this.group(id);
  }

  deleteGroup(id: string): void {
    this.backends.assertWritable(this.group(id).domain_id);
    this.repo.tx(() => this.deleteGroupRows(id));
    this.core.changed();
  }

  private deleteGroupRows(id: string): void {
    this.repo.deleteAssignmentsOfActor('group', id);
    this.repo.delete('groups', id);
  }

  /** Memberships are written only between SQL users and groups (403 otherwise, as Keystone). */
  private writableMembership(groupId: string, userId: string): void {
    const g = this.group(groupId);
    const u = this.user(userId);
    const dir = this.backends.isDirectory(g.domain_id);
    if (dir !== this.backends.isDirectory(u.domain_id) || (dir && g.domain_id !== u.domain_id)) {
      throw new Forbidden(
        `Group membership across backend boundaries is not allowed. Group in question is ${groupId}, user is ${userId}.`,
      );
    }
    this.backends.assertWritable(g.domain_id);
  }

  addMember(groupId: string, userId: string): void {
    this.writableMembership(groupId, userId);
    this.repo.addMember(groupId, userId);
    this.core.changed();
  }

  removeMember(groupId: string, userId: string): void {
    this.writableMembership(groupId, userId);
    if (!this.repo.isMember(groupId, userId)) throw new NotFound(`User ${userId} is not a member of group ${groupId}.`);
    this.repo.removeMember(groupId, userId);
    this.core.changed();
  }

  async checkMember(groupId: string, userId: string): Promise<void> {
    const g = await this.liveGroup(groupId);
    const u = await this.liveUser(userId);
    if (!(await this.backends.isMember(g, u))) throw new NotFound(`User ${userId} is not a member of group ${groupId}.`);
  }

  /**
   * Projects where the user has a role (directly or through a group), for /users/{id}/projects:
   * also the projects of a domain, and below a project, where a role is inherited (OS-INHERIT).
   */
  projectsOfUser(userId: string): ProjectRow[] {
    const groups = this.repo.groupIdsOfUser(userId);
    const ids = new Set(this.repo.targetsOf('project', userId, groups));
    const domains = new Set(this.repo.targetsOf('domain', userId, groups, 1));
    const above = new Set(this.repo.targetsOf('project', userId, groups, 1));
    const all = this.repo.list<ProjectRow>('projects');
    const byId = new Map(all.map((p) => [p.id, p]));
    const inherits = (p: ProjectRow): boolean => {
      if (domains.has(p.domain_id)) return true;
      for (let q = p.parent_id, hops = 0; q && hops < 64; q = byId.get(q)?.parent_id ?? null, hops++)
        if (above.has(q)) return true;
      return false;
    };
    return all.filter((p) => ids.has(p.id) || inherits(p));
  }

  domainsOfUser(userId: string): DomainRow[] {
    const ids = new Set(this.repo.targetsOf('domain', userId, this.repo.groupIdsOfUser(userId)));
    return this.repo.list<DomainRow>('domains').filter((d) => ids.has(d.id));
  }
}
