import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/open.js';

/** SQL only (house style 3.1): rows in, rows out. JSON columns stay strings here. */
export interface DomainRow {
  id: string;
  name: string;
  description: string;
  enabled: number;
  tags: string;
  options: string;
  extra: string;
  created_at: string;
}
export interface ProjectRow {
  id: string;
  domain_id: string;
  parent_id: string | null;
  name: string;
  description: string;
  enabled: number;
  tags: string;
  options: string;
  extra: string;
  created_at: string;
}
export interface UserRow {
  id: string;
  domain_id: string;
  name: string;
  enabled: number;
  password_hash: string | null;
  default_project_id: string | null;
  options: string;
  extra: string;
  failed_auth_count: number;
  failed_auth_at: number | null;
  created_at: string;
}
export interface GroupRow {
  id: string;
  domain_id: string;
  name: string;
  description: string;
  extra: string;
  created_at: string;
}
export interface RoleRow {
  id: string;
  name: string;
  domain_id: string | null;
  description: string | null;
  options: string;
  extra: string;
  created_at: string;
}
export interface AssignmentRow {
  actor_type: 'user' | 'group';
  actor_id: string;
  /** 'system' with target_id 'all': a role on the system (Keystone's system scope). */
  target_type: 'project' | 'domain' | 'system';
  target_id: string;
  role_id: string;
  /** OS-INHERIT: 1 = given to the projects below the target, not to the target; absent = 0. */
  inherited?: 0 | 1;
}
export interface RegionRow {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: string;
  created_at: string;
}
export interface ServiceRow {
  id: string;
  type: string;
  name: string;
  description: string;
  enabled: number;
  extra: string;
  created_at: string;
}
export interface EndpointRow {
  id: string;
  service_id: string;
  interface: string;
  region_id: string | null;
  url: string;
  enabled: number;
  extra: string;
  created_at: string;
}
export interface AppCredRow {
  id: string;
  user_id: string;
  project_id: string;
  name: string;
  description: string | null;
  secret_hash: string;
  unrestricted: number;
  /** Epoch microseconds (Keystone echoes what was sent); null: never. */
  expires_at: number | null;
  roles: string;
  created_at: string;
}
export interface CredentialRow {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
  extra: string;
  created_at: string;
}
export interface PolicyRow {
  id: string;
  type: string;
  blob: string;
  extra: string;
  created_at: string;
}
export interface EndpointGroupRow {
  id: string;
  name: string;
  description: string | null;
  filters: string;
  extra: string;
  created_at: string;
}
export interface RevocationRow {
  kind: 'audit' | 'user' | 'project';
  value: string;
  revoked_at: number;
  expires_at: number;
}

export type Table =
  | 'domains'
  | 'projects'
  | 'users'
  | 'groups'
  | 'roles'
  | 'catalog_regions'
  | 'catalog_services'
  | 'catalog_endpoints'
  | 'app_credentials'
  | 'credentials'
  | 'policies'
  | 'endpoint_groups';
type Filter = Record<string, string | number | null | undefined>;

const COLUMNS: Record<Table, readonly string[]> = {
  domains: ['id', 'name', 'description', 'enabled', 'tags', 'options', 'extra', 'created_at'],
  projects: ['id', 'domain_id', 'parent_id', 'name', 'description', 'enabled', 'tags', 'options', 'extra', 'created_at'],
  users: [
    'id',
    'domain_id',
    'name',
    'enabled',
    'password_hash',
    'default_project_id',
    'options',
    'extra',
    'failed_auth_count',
    'failed_auth_at',
    'created_at',
  ],
  groups: ['id', 'domain_id', 'name', 'description', 'extra', 'created_at'],
  roles: ['id', 'name', 'domain_id', 'description', 'options', 'extra', 'created_at'],
  catalog_regions: ['id', 'description', 'parent_region_id', 'extra', 'created_at'],
  catalog_services: ['id', 'type', 'name', 'description', 'enabled', 'extra', 'created_at'],
  catalog_endpoints: ['id', 'service_id', 'interface', 'region_id', 'url', 'enabled', 'extra', 'created_at'],
  app_credentials: [
    'id',
    'user_id',
    'project_id',
    'name',
    'description',
    'secret_hash',
    'unrestricted',
    'expires_at',
    'roles',
    'created_at',
  ],
  credentials: ['id', 'user_id', 'project_id', 'type', 'blob', 'extra', 'created_at'],
  policies: ['id', 'type', 'blob', 'extra', 'created_at'],
  endpoint_groups: ['id', 'name', 'description', 'filters', 'extra', 'created_at'],
};

export class IdentityRepo {
  private readonly stmts = new Map<string, Statement>();

  constructor(readonly db: Db) {}

  /** Prepared once per SQL text (lazily, so building the app needs no schema yet). */
  st(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get<T>(table: Table, id: string): T | undefined {
    return this.st(`SELECT * FROM ${table} WHERE id = ?`).get(id) as T | undefined;
  }

  /** Rows matching every non-undefined filter (null matches IS NULL), ordered by name/id. */
  list<T>(table: Table, filter: Filter = {}): T[] {
    const cols = COLUMNS[table];
    const where: string[] = [];
    const args: Array<string | number> = [];
    for (const [k, v] of Object.entries(filter)) {
      if (v === undefined) continue;
      if (!cols.includes(k)) throw new Error(`unknown column ${table}.${k}`);
      if (v === null) where.push(`${k} IS NULL`);
      else {
        where.push(`${k} = ?`);
        args.push(v);
      }
    }
    const order = cols.includes('name') ? 'name, id' : 'id';
    return this.st(`SELECT * FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`).all(
      ...args,
    ) as T[];
  }

  insert(table: Table, row: Record<string, unknown>): void {
    const keys = Object.keys(row);
    this.st(`INSERT INTO ${table} (${keys.join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`).run(
      ...keys.map((k) => row[k]),
    );
  }

  update(table: Table, id: string, patch: Record<string, unknown>): void {
    const keys = Object.keys(patch);
    if (!keys.length) return;
    for (const k of keys) if (!COLUMNS[table].includes(k)) throw new Error(`unknown column ${table}.${k}`);
    this.st(`UPDATE ${table} SET ${keys.map((k) => `${k} = ?`).join(', ')} WHERE id = ?`).run(...keys.map((k) => patch[k]), id);
  }

  delete(table: Table, id: string): void {
    this.st(`DELETE FROM ${table} WHERE id = ?`).run(id);
  }

  // Users and groups

  userByName(domainId: string, name: string): UserRow | undefined {
    return this.st('SELECT * FROM users WHERE domain_id = ? AND name = ?').get(domainId, name) as UserRow | undefined;
  }
  groupIdsOfUser(userId: string): string[] {
    return this.st('SELECT group_id FROM group_members WHERE user_id = ?').pluck().all(userId) as string[];
  }
  usersOfGroup(groupId: string): UserRow[] {
    return this.st('SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = ? ORDER BY u.name').all(
      groupId,
    ) as UserRow[];
  }
  groupsOfUser(userId: string): GroupRow[] {
    return this.st('SELECT g.* FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name').all(
      userId,
    ) as GroupRow[];
  }
  isMember(groupId: string, userId: string): boolean {
    return !!this.st('SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?').get(groupId, userId);
  }
  addMember(groupId: string, userId: string): void {
    this.st('INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)').run(groupId, userId);
  }
  removeMember(groupId: string, userId: string): void {
    this.st('DELETE FROM group_members WHERE group_id = ? AND user_id = ?').run(groupId, userId);
  }

  // Roles and assignments

  roleByName(name: string): RoleRow | undefined {
    return this.st('SELECT * FROM roles WHERE name = ? AND domain_id IS NULL').get(name) as RoleRow | undefined;
  }
  implications(): Array<{ prior_role_id: string; implied_role_id: string }> {
    return this.st(
      'SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id',
    ).all() as Array<{ prior_role_id: string; implied_role_id: string }>;
  }
  addImplication(prior: string, implied: string): void {
    this.st('INSERT OR IGNORE INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)').run(prior, implied);
  }
  removeImplication(prior: string, implied: string): number {
    return this.st('DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?').run(prior, implied).changes;
  }

  assignments(f: Partial<AssignmentRow> = {}): AssignmentRow[] {
    const where: string[] = [];
    const args: string[] = [];
    for (const k of ['actor_type', 'actor_id', 'target_type', 'target_id', 'role_id'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    if (f.inherited !== undefined) where.push(`inherited = ${f.inherited ? 1 : 0}`);
    return this.st(
      `SELECT * FROM role_assignments${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY actor_type DESC, actor_id, target_type DESC, target_id, role_id`,
    ).all(...args) as AssignmentRow[];
  }
  /**
   * Role ids given on a target to the user directly or through any of the groups, plus
   * those inherited from `inheritFrom` ("domain:<id>", "project:<id>": the project's
   * domain and ancestors, OS-INHERIT).
   */
  roleIdsOn(
    targetType: 'project' | 'domain' | 'system',
    targetId: string,
    userId: string,
    groupIds: string[],
    inheritFrom: string[] = [],
  ): string[] {
    return this.st(
      `SELECT DISTINCT role_id FROM role_assignments WHERE (
         (target_type = ? AND target_id = ? AND inherited = 0) OR
         (inherited = 1 AND target_type || ':' || target_id IN (SELECT value FROM json_each(?)))) AND (
         (actor_type = 'user' AND actor_id = ?) OR (actor_type = 'group' AND actor_id IN (SELECT value FROM json_each(?))))`,
    )
      .pluck()
      .all(targetType, targetId, JSON.stringify(inheritFrom), userId, JSON.stringify(groupIds)) as string[];
  }
  /** Targets of a type on which the user (directly or through groups) has some role; `inherited` 1: OS-INHERIT ones. */
  targetsOf(targetType: 'project' | 'domain', userId: string, groupIds: string[], inherited: 0 | 1 = 0): string[] {
    return this.st(
      `SELECT DISTINCT target_id FROM role_assignments WHERE target_type = ? AND inherited = ? AND (
         (actor_type = 'user' AND actor_id = ?) OR (actor_type = 'group' AND actor_id IN (SELECT value FROM json_each(?))))`,
    )
      .pluck()
      .all(targetType, inherited, userId, JSON.stringify(groupIds)) as string[];
  }
  grant(a: AssignmentRow): void {
    this.st(
      'INSERT OR IGNORE INTO role_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(a.actor_type, a.actor_id, a.target_type, a.target_id, a.role_id, a.inherited ?? 0);
  }
  revoke(a: AssignmentRow): number {
    return this.st(
      'DELETE FROM role_assignments WHERE actor_type = ? AND actor_id = ? AND target_type = ? AND target_id = ? AND role_id = ? AND inherited = ?',
    ).run(a.actor_type, a.actor_id, a.target_type, a.target_id, a.role_id, a.inherited ?? 0).changes;
  }
  deleteAssignmentsOfActor(type: 'user' | 'group', id: string): void {
    this.st('DELETE FROM role_assignments WHERE actor_type = ? AND actor_id = ?').run(type, id);
  }
  deleteAssignmentsOnTarget(type: 'project' | 'domain', id: string): void {
    this.st('DELETE FROM role_assignments WHERE target_type = ? AND target_id = ?').run(type, id);
  }

  // Catalog

  endpointsOfService(serviceId: string): EndpointRow[] {
    return this.st('SELECT * FROM catalog_endpoints WHERE service_id = ? ORDER BY interface, id').all(serviceId) as EndpointRow[];
  }

  // Revocations

  revocations(): RevocationRow[] {
    return this.st('SELECT * FROM token_revocations').all() as RevocationRow[];
  }
  addRevocation(r: RevocationRow): void {
    this.st(
      `INSERT INTO token_revocations (kind, value, revoked_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (kind, value) DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = MAX(expires_at, excluded.expires_at)`,
    ).run(r.kind, r.value, r.revoked_at, r.expires_at);
  }
  pruneRevocations(now: number): number {
    return this.st('DELETE FROM token_revocations WHERE expires_at < ?').run(now).changes;
  }
}
