import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Forbidden } from '../../shared/errors/index.js';
import { nowIso } from '../../shared/util/time.js';
import { BackendUnavailable, type IdentityDriver } from './backend.js';
import { IDENTITY_DRIVERS, isDriverName } from './drivers.js';
import { BackendsRepo } from './backends.repo.js';
import type { IdentityCore } from './core.js';
import type { DomainRow, GroupRow, UserRow } from './identity.repo.js';
import { SqlDriver } from './sql.driver.js';

/** Keystone's message for any write to a read-only (LDAP) domain, with its 403. */
export const READ_ONLY = 'LDAP does not support write operations';

/** Keystone's sha256 public id generator: sha256 over domain_id, entity_type, local_id (sorted key order). */
export function publicId(domainId: string, type: 'user' | 'group', localId: string): string {
  return createHash('sha256').update(domainId).update(type).update(localId).digest('hex');
}

interface DomainBackend {
  driver: IdentityDriver;
  key: string;
  ttlMs: number;
}

type Located = { domainId: string; driver: IdentityDriver; localId: string } | 'sql' | undefined;

/**
 * The identity manager (Keystone's identity Manager): picks each domain's driver (SQL
 * unless `identity_domain_configs` says otherwise), turns directory ids into stable
 * public ids (id_mapping), and keeps the shadow rows of directory users and groups
 * (`users`, `groups`, and each signed-in user's directory groups in `group_members`)
 * that token validation resolves from without waiting on the network. Reads of a
 * directory domain go to the directory (503 when it does not answer); reads of SQL
 * domains are the SQL driver's, as before backends existed.
 */
export class IdentityBackends {
  readonly repo: BackendsRepo;
  private readonly sql: SqlDriver;
  private gen = -1;
  private domains = new Map<string, DomainBackend>();
  /** When each directory user's snapshot was last read (ms), for cache_ttl_s. */
  private readonly lastRead = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly core: IdentityCore,
    private readonly log: FastifyBaseLogger,
  ) {
    this.repo = new BackendsRepo(core.repo.db, core.repo);
    this.sql = new SqlDriver(core.repo);
  }

  /** Re-reads the configurations after any identity change (ours or another process's). */
  private sync(): Map<string, DomainBackend> {
    if (this.gen === this.core.generation) return this.domains;
    this.gen = this.core.generation;
    const next = new Map<string, DomainBackend>();
    for (const row of this.repo.configs()) {
      const d = this.core.repo.get<DomainRow>('domains', row.domain_id);
      const key = `${row.driver}|${d?.name}|${row.config}`;
      const old = this.domains.get(row.domain_id);
      if (old?.key === key) {
        next.set(row.domain_id, old);
        continue;
      }
      const name = d?.name ?? row.domain_id;
      try {
        if (!isDriverName(row.driver)) throw new Error(`unknown identity driver '${row.driver}'`);
        const config = JSON.parse(row.config) as { cache_ttl_s?: number };
        const driver = IDENTITY_DRIVERS[row.driver](config, { domainId: row.domain_id, domainName: name, repo: this.core.repo });
        next.set(row.domain_id, { driver, key, ttlMs: (config.cache_ttl_s ?? 60) * 1000 });
      } catch (e) {
        // A configuration the code cannot use: the domain answers 503 until it is fixed.
        this.log.error({ err: e, domain: row.domain_id }, 'identity backend configuration unusable');
        next.set(row.domain_id, { driver: new BrokenDriver(name, (e as Error).message), key, ttlMs: 60_000 });
      }
    }
    this.domains = next;
    return next;
  }

  driverOf(domainId: string): IdentityDriver {
    return this.sync().get(domainId)?.driver ?? this.sql;
  }

  /** True when the domain's users and groups come from a directory (ids mapped, read-only). */
  isDirectory(domainId: string): boolean {
    return this.driverOf(domainId).mapsIds;
  }

  /** 403 for writes to users, groups or memberships of a read-only domain (Keystone's LDAP driver). */
  assertWritable(domainId: string): void {
    if (!this.driverOf(domainId).writable) throw new Forbidden(READ_ONLY);
  }

  private async call<T>(domainId: string, fn: (d: IdentityDriver) => Promise<T>): Promise<T> {
    try {
      return await fn(this.driverOf(domainId));
    } catch (e) {
      if (e instanceof BackendUnavailable) this.log.warn({ domain: domainId, reason: e.reason }, 'identity backend unavailable');
      throw e;
    }
  }

  private locate(id: string, type: 'user' | 'group'): Located {
    const m = this.repo.mapping(id);
    if (!m || m.entity_type !== type) return 'sql';
    const driver = this.driverOf(m.domain_id);
    return driver.mapsIds ? { domainId: m.domain_id, driver, localId: m.local_id } : undefined;
  }

  // Shadows

  private adoptUsers(domainId: string, rows: UserRow[]): UserRow[] {
    const now = nowIso();
    let changed = false;
    const out = this.core.repo.tx(() =>
      rows.map((r) => {
        const id = publicId(domainId, 'user', r.id);
        this.repo.addMapping({ public_id: id, domain_id: domainId, local_id: r.id, entity_type: 'user' });
        const c = this.repo.upsertShadowUser({ ...r, id }, now);
        if (c.disabled) this.core.revoke('user', id);
        changed ||= c.changed;
        return { ...r, id, domain_id: domainId };
      }),
    );
    if (changed) this.core.changed();
    return out;
  }

  private adoptGroups(domainId: string, rows: GroupRow[]): GroupRow[] {
    const now = nowIso();
    let changed = false;
    const out = this.core.repo.tx(() =>
      rows.map((r) => {
        const id = publicId(domainId, 'group', r.id);
        this.repo.addMapping({ public_id: id, domain_id: domainId, local_id: r.id, entity_type: 'group' });
        changed ||= this.repo.upsertShadowGroup({ ...r, id }, now).changed;
        return { ...r, id, domain_id: domainId };
      }),
    );
    if (changed) this.core.changed();
    return out;
  }

  /** The directory no longer has this user: its shadow is disabled and its tokens revoked. */
  private vanished(userId: string): void {
    if (this.repo.disableShadowUser(userId)) {
      this.core.revoke('user', userId);
      this.log.info({ user: userId }, 'directory user gone: shadow disabled, tokens revoked');
    }
  }

  private recordMemberships(userId: string, groupIds: string[]): void {
    if (this.core.repo.tx(() => this.repo.replaceMemberships(userId, groupIds))) this.core.changed();
  }

  // Users

  async getUser(id: string): Promise<UserRow | undefined> {
    const loc = this.locate(id, 'user');
    if (loc === undefined) return undefined;
    if (loc === 'sql') {
      const u = await this.sql.getUser(id);
      return u && !this.isDirectory(u.domain_id) ? u : undefined;
    }
    const row = await this.call(loc.domainId, (d) => d.getUser(loc.localId));
    if (!row) {
      this.vanished(id);
      return undefined;
    }
    return this.adoptUsers(loc.domainId, [row])[0];
  }

  async userByName(domainId: string, name: string): Promise<UserRow | undefined> {
    if (!this.isDirectory(domainId)) return this.sql.userByName(domainId, name);
    const row = await this.call(domainId, (d) => d.userByName(domainId, name));
    return row && this.adoptUsers(domainId, [row])[0];
  }

  /** Without a domain: the users of every SQL domain (a directory is listed by naming its domain). */
  async listUsers(f: { domainId?: string; name?: string; enabled?: number }): Promise<UserRow[]> {
    let rows: UserRow[];
    if (f.domainId !== undefined && this.isDirectory(f.domainId)) {
      const domainId = f.domainId;
      rows = this.adoptUsers(domainId, await this.call(domainId, (d) => d.listUsers({ domainId, name: f.name })));
    } else {
      rows = await this.sql.listUsers(f);
      if (f.domainId === undefined) rows = rows.filter((u) => !this.isDirectory(u.domain_id));
    }
    return f.enabled === undefined ? rows : rows.filter((u) => u.enabled === f.enabled);
  }

  // Groups

  async getGroup(id: string): Promise<GroupRow | undefined> {
    const loc = this.locate(id, 'group');
    if (loc === undefined) return undefined;
    if (loc === 'sql') {
      const g = await this.sql.getGroup(id);
      return g && !this.isDirectory(g.domain_id) ? g : undefined;
    }
    const row = await this.call(loc.domainId, (d) => d.getGroup(loc.localId));
    return row && this.adoptGroups(loc.domainId, [row])[0];
  }

  async listGroups(f: { domainId?: string; name?: string }): Promise<GroupRow[]> {
    if (f.domainId !== undefined && this.isDirectory(f.domainId)) {
      const domainId = f.domainId;
      return this.adoptGroups(domainId, await this.call(domainId, (d) => d.listGroups({ domainId, name: f.name })));
    }
    const rows = await this.sql.listGroups(f);
    return f.domainId === undefined ? rows.filter((g) => !this.isDirectory(g.domain_id)) : rows;
  }

  async groupsOfUser(userId: string): Promise<GroupRow[]> {
    const loc = this.locate(userId, 'user');
    if (loc === undefined) return [];
    if (loc === 'sql') return this.sql.groupsOfUser(userId);
    const groups = this.adoptGroups(loc.domainId, await this.call(loc.domainId, (d) => d.groupsOfUser(loc.localId)));
    this.recordMemberships(
      userId,
      groups.map((g) => g.id),
    );
    return groups;
  }

  async usersOfGroup(groupId: string): Promise<UserRow[]> {
    const loc = this.locate(groupId, 'group');
    if (loc === undefined) return [];
    if (loc === 'sql') return this.sql.usersOfGroup(groupId);
    return this.adoptUsers(loc.domainId, await this.call(loc.domainId, (d) => d.usersOfGroup(loc.localId)));
  }

  /** Group ids of a user: SQL memberships, or the directory's (read now). */
  async groupIdsOfUser(userId: string): Promise<string[]> {
    if (this.locate(userId, 'user') === 'sql') return this.core.repo.groupIdsOfUser(userId);
    return (await this.groupsOfUser(userId)).map((g) => g.id);
  }

  /** Whether the user is in the group; 403 when they live in different backends (Keystone's CrossBackendNotAllowed). */
  async isMember(group: GroupRow, user: UserRow): Promise<boolean> {
    const gd = this.isDirectory(group.domain_id);
    if (gd !== this.isDirectory(user.domain_id) || (gd && group.domain_id !== user.domain_id)) {
      throw new Forbidden(
        `Group membership across backend boundaries is not allowed. Group in question is ${group.id}, user is ${user.id}.`,
      );
    }
    if (!gd) return this.core.repo.isMember(group.id, user.id);
    return (await this.groupIdsOfUser(user.id)).includes(group.id);
  }

  // Passwords and the snapshot token validation reads

  /**
   * Checks a directory user's password by binding as the user; on success re-reads the
   * user and its groups (the snapshot tokens resolve from) and returns the fresh row.
   * Undefined: wrong password, or the user is gone. Throws BackendUnavailable.
   */
  async authenticate(user: UserRow, password: string): Promise<UserRow | undefined> {
    const loc = this.locate(user.id, 'user');
    if (!loc || loc === 'sql' || !loc.driver.authenticate) return undefined;
    const auth = loc.driver.authenticate.bind(loc.driver);
    if (!(await this.call(loc.domainId, () => auth(loc.localId, password)))) return undefined;
    return this.refresh(user.id);
  }

  /** Re-reads a directory user and its groups into the shadow rows. Undefined when the user is gone. */
  async refresh(userId: string): Promise<UserRow | undefined> {
    const loc = this.locate(userId, 'user');
    if (loc === 'sql') return this.core.repo.get<UserRow>('users', userId);
    if (!loc) return undefined;
    const [row, groups] = await this.call(loc.domainId, async (d) => [
      await d.getUser(loc.localId),
      await d.groupsOfUser(loc.localId),
    ]);
    this.lastRead.set(userId, Date.now());
    if (!row) {
      this.vanished(userId);
      return undefined;
    }
    const [user] = this.adoptUsers(loc.domainId, [row]);
    this.recordMemberships(
      userId,
      this.adoptGroups(loc.domainId, groups).map((g) => g.id),
    );
    return user;
  }

  /**
   * Token validation's hook (never waits): when a directory user's snapshot is older
   * than its domain's cache_ttl_s, re-read it in the background. A user disabled or
   * gone in the directory then has its tokens revoked; changed groups change the roles
   * the next validation resolves. While the directory is down, tokens keep validating
   * on the snapshot and a retry waits 30 s.
   */
  touch(user: UserRow, now = Date.now()): void {
    const b = this.sync().get(user.domain_id);
    if (!b?.driver.mapsIds) return;
    const last = this.lastRead.get(user.id) ?? 0;
    if (now - last < b.ttlMs || this.inflight.has(user.id)) return;
    const p = this.refresh(user.id)
      .catch((err: unknown) => {
        this.lastRead.set(user.id, Date.now() - Math.max(0, b.ttlMs - 30_000));
        this.log.warn({ err, user: user.id }, 'directory user refresh failed; tokens keep the last snapshot');
      })
      .finally(() => this.inflight.delete(user.id));
    this.inflight.set(user.id, p);
  }

  /** Waits for background refreshes (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all(this.inflight.values());
  }
}

/** Stands in for a domain whose configuration cannot be used: every read is a 503. */
class BrokenDriver implements IdentityDriver {
  readonly writable = false;
  readonly mapsIds = true;
  constructor(
    private readonly domainName: string,
    private readonly why: string,
  ) {}
  private fail(): never {
    throw new BackendUnavailable(this.domainName, `configuration unusable: ${this.why}`);
  }
  getUser = async () => this.fail();
  userByName = async () => this.fail();
  listUsers = async () => this.fail();
  getGroup = async () => this.fail();
  listGroups = async () => this.fail();
  groupsOfUser = async () => this.fail();
  usersOfGroup = async () => this.fail();
  authenticate = async () => this.fail();
  check = async () => this.fail();
}
