import type { Db } from '../db/open.js';
import type { GroupRow, IdentityRepo, UserRow } from './identity.repo.js';

/**
 * SQL only (house style 3.1): the per-domain backend configurations, Keystone's
 * id_mapping, and the shadow rows of directory users and groups (tables in
 * controller/db/migrations/013_identity_backends.sql).
 */
export interface DomainConfigRow {
  domain_id: string;
  driver: string;
  config: string;
  updated_at: string;
}
export interface MappingRow {
  public_id: string;
  domain_id: string;
  local_id: string;
  entity_type: 'user' | 'group';
}

/** What a shadow upsert changed. */
export interface ShadowChange {
  created: boolean;
  changed: boolean;
  /** The row was enabled and is not any more (its tokens must go). */
  disabled: boolean;
}

export class BackendsRepo {
  constructor(
    readonly db: Db,
    private readonly r: IdentityRepo,
  ) {}

  private st(sql: string) {
    return this.r.st(sql);
  }

  configs(): DomainConfigRow[] {
    return this.st('SELECT * FROM identity_domain_configs ORDER BY domain_id').all() as DomainConfigRow[];
  }
  config(domainId: string): DomainConfigRow | undefined {
    return this.st('SELECT * FROM identity_domain_configs WHERE domain_id = ?').get(domainId) as DomainConfigRow | undefined;
  }
  setConfig(domainId: string, driver: string, config: string, now: string): void {
    this.st(
      `INSERT INTO identity_domain_configs (domain_id, driver, config, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (domain_id) DO UPDATE SET driver = excluded.driver, config = excluded.config, updated_at = excluded.updated_at`,
    ).run(domainId, driver, config, now);
  }
  deleteConfig(domainId: string): number {
    return this.st('DELETE FROM identity_domain_configs WHERE domain_id = ?').run(domainId).changes;
  }

  // id_mapping

  mapping(publicId: string): MappingRow | undefined {
    return this.st('SELECT * FROM id_mapping WHERE public_id = ?').get(publicId) as MappingRow | undefined;
  }
  addMapping(m: MappingRow): void {
    this.st('INSERT OR IGNORE INTO id_mapping (public_id, domain_id, local_id, entity_type) VALUES (?, ?, ?, ?)').run(
      m.public_id,
      m.domain_id,
      m.local_id,
      m.entity_type,
    );
  }
  mappingsOf(domainId: string, type?: 'user' | 'group'): MappingRow[] {
    return (
      type
        ? this.st('SELECT * FROM id_mapping WHERE domain_id = ? AND entity_type = ?').all(domainId, type)
        : this.st('SELECT * FROM id_mapping WHERE domain_id = ?').all(domainId)
    ) as MappingRow[];
  }

  /** Users and groups of a domain that are not shadows of directory entries (SQL's own). */
  localCounts(domainId: string): { users: number; groups: number } {
    const n = (table: 'users' | 'groups') =>
      this.st(
        `SELECT COUNT(*) FROM ${table} WHERE domain_id = ? AND id NOT IN (SELECT public_id FROM id_mapping WHERE domain_id = ?)`,
      )
        .pluck()
        .get(domainId, domainId) as number;
    return { users: n('users'), groups: n('groups') };
  }

  // Shadows

  /**
   * Inserts or refreshes the shadow of a directory user. A stale shadow holding the same
   * name in the domain (the directory renamed or reused it) is renamed to its own id so
   * that UNIQUE (domain_id, name) holds.
   */
  upsertShadowUser(u: Pick<UserRow, 'id' | 'domain_id' | 'name' | 'enabled' | 'extra'>, now: string): ShadowChange {
    const old = this.r.get<UserRow>('users', u.id);
    if (old && old.name === u.name && old.enabled === u.enabled && old.extra === u.extra) {
      return { created: false, changed: false, disabled: false };
    }
    this.st('UPDATE users SET name = id WHERE domain_id = ? AND name = ? AND id <> ?').run(u.domain_id, u.name, u.id);
    this.st(
      `INSERT INTO users (id, domain_id, name, enabled, password_hash, default_project_id, options, extra, created_at)
       VALUES (?, ?, ?, ?, NULL, NULL, '{}', ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled, extra = excluded.extra`,
    ).run(u.id, u.domain_id, u.name, u.enabled, u.extra, now);
    return { created: !old, changed: true, disabled: !!old?.enabled && !u.enabled };
  }

  upsertShadowGroup(g: Pick<GroupRow, 'id' | 'domain_id' | 'name' | 'description'>, now: string): ShadowChange {
    const old = this.r.get<GroupRow>('groups', g.id);
    if (old && old.name === g.name && old.description === g.description) {
      return { created: false, changed: false, disabled: false };
    }
    this.st('UPDATE groups SET name = id WHERE domain_id = ? AND name = ? AND id <> ?').run(g.domain_id, g.name, g.id);
    this.st(
      `INSERT INTO groups (id, domain_id, name, description, extra, created_at) VALUES (?, ?, ?, ?, '{}', ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description`,
    ).run(g.id, g.domain_id, g.name, g.description, now);
    return { created: !old, changed: true, disabled: false };
  }

  /** Sets a shadow user's directory groups (as last read); true when they changed. */
  replaceMemberships(userId: string, groupIds: string[]): boolean {
    const before = new Set(this.r.groupIdsOfUser(userId));
    if (before.size === groupIds.length && groupIds.every((g) => before.has(g))) return false;
    this.st('DELETE FROM group_members WHERE user_id = ?').run(userId);
    for (const g of groupIds) this.r.addMember(g, userId);
    return true;
  }

  disableShadowUser(id: string): boolean {
    return this.st('UPDATE users SET enabled = 0 WHERE id = ? AND enabled = 1').run(id).changes > 0;
  }

  /**
   * Everything a directory left behind in a domain: shadow users (their application
   * credentials and memberships cascade) and groups, their role assignments, and the
   * id mappings. Returns the user ids removed (their tokens must be revoked).
   */
  purgeDomain(domainId: string): string[] {
    const maps = this.mappingsOf(domainId);
    for (const m of maps) {
      this.r.deleteAssignmentsOfActor(m.entity_type, m.public_id);
      this.r.delete(m.entity_type === 'user' ? 'users' : 'groups', m.public_id);
    }
    this.st('DELETE FROM id_mapping WHERE domain_id = ?').run(domainId);
    return maps.filter((m) => m.entity_type === 'user').map((m) => m.public_id);
  }
}
