import { join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import { KeyRepository } from './keys.js';
import { DEFAULT_SCRYPT, hashPassword, HashLimiter, makeDummyHash, verifyPassword, type ScryptParams } from './passwords.js';
import {
  IdentityRepo,
  type AppCredRow,
  type DomainRow,
  type EndpointRow,
  type ProjectRow,
  type RoleRow,
  type ServiceRow,
  type UserRow,
} from './identity.repo.js';
import { TokenCodec, TokenInvalid, type TokenPayload } from './tokens.js';

/** The identity service's state shared by its parts: repo, keys, and the in-memory caches. */
export interface Resolved {
  user: UserRow;
  userDomain: DomainRow;
  project?: ProjectRow;
  projectDomain?: DomainRow;
  domain?: DomainRow;
  /** Effective roles on the scope, implied roles expanded (app credential: its subset). */
  roles: RoleRow[];
  appCred?: AppCredRow;
}

interface RevocationCache {
  audit: Set<string>;
  user: Map<string, number>;
  project: Map<string, number>;
}

export interface CatalogService {
  svc: ServiceRow;
  endpoints: EndpointRow[];
}

export const DEFAULT_DOMAIN_ID = 'default';
export const SERVICE_USER = 'homestack-service';
export const SERVICE_PROJECT = 'service';

export class IdentityCore {
  readonly repo: IdentityRepo;
  readonly keys: KeyRepository;
  readonly codec: TokenCodec;
  readonly scrypt: ScryptParams;
  /** Bumped by every identity write; caches built at an older generation are dropped. */
  private gen = 0;
  private dataVersion = -1;
  private dataVersionCheckedAt = 0;
  private revs: RevocationCache | null = null;
  private roles: { byId: Map<string, RoleRow>; implies: Map<string, string[]> } | null = null;
  private catalog: CatalogService[] | null = null;
  private readonly resolved = new Map<string, Resolved>();
  private dummy: Promise<string> | null = null;

  constructor(
    db: Db,
    readonly config: ControllerConfig,
    opts: { scrypt?: ScryptParams } = {},
  ) {
    this.repo = new IdentityRepo(db);
    this.keys = new KeyRepository(join(config.data_dir, 'fernet-keys'));
    this.codec = new TokenCodec(this.keys);
    const logN = config.identity.scrypt_log_n;
    this.scrypt = opts.scrypt ?? (logN ? { ...DEFAULT_SCRYPT, N: 2 ** logN } : DEFAULT_SCRYPT);
  }

  /** Changes whenever identity data may have changed (see changed()); caches compare it. */
  get generation(): number {
    return this.gen;
  }

  get ttlMs(): number {
    return this.config.identity.token_ttl_s * 1000;
  }

  private readonly hashes = new HashLimiter(2);

  /** A hash of a random password at the current strength, for unknown users. */
  dummyHash(): Promise<string> {
    this.dummy ??= this.hashes.run(() => makeDummyHash(this.scrypt));
    return this.dummy;
  }

  /** scrypt at the configured cost, at most two at a time. */
  hash(secret: string): Promise<string> {
    return this.hashes.run(() => hashPassword(secret, this.scrypt));
  }

  /** Checks a secret against a stored hash; with none, spends the same work on the dummy. */
  async verify(secret: string, stored: string | null): Promise<boolean> {
    const dummy = await this.dummyHash();
    return this.hashes.run(() => verifyPassword(secret, stored, dummy));
  }

  /** Call after any write that may change what a token resolves to. */
  changed(): void {
    this.gen++;
    this.revs = null;
    this.roles = null;
    this.catalog = null;
    this.resolved.clear();
  }

  /**
   * Another process (the bootstrap CLI) may have written the database: SQLite's
   * data_version changes when another connection commits. Checked at most once a second.
   */
  fresh(now = Date.now()): void {
    if (now - this.dataVersionCheckedAt < 1000) return;
    this.dataVersionCheckedAt = now;
    const v = this.repo.st('PRAGMA data_version').pluck().get() as number;
    if (v !== this.dataVersion) {
      if (this.dataVersion !== -1) this.changed();
      this.dataVersion = v;
    }
  }

  // Roles and implications

  private roleGraph() {
    if (!this.roles) {
      const byId = new Map(this.repo.list<RoleRow>('roles').map((r) => [r.id, r]));
      const implies = new Map<string, string[]>();
      for (const i of this.repo.implications())
        implies.set(i.prior_role_id, [...(implies.get(i.prior_role_id) ?? []), i.implied_role_id]);
      this.roles = { byId, implies };
    }
    return this.roles;
  }

  role(id: string): RoleRow | undefined {
    return this.roleGraph().byId.get(id);
  }

  /** The roles and every role they imply, transitively, in a stable order (priors first). */
  expandRoles(ids: Iterable<string>): RoleRow[] {
    const g = this.roleGraph();
    const out = new Map<string, RoleRow>();
    const visit = (id: string) => {
      if (out.has(id)) return;
      const r = g.byId.get(id);
      if (!r) return;
      out.set(id, r);
      for (const i of g.implies.get(id) ?? []) visit(i);
    };
    for (const id of ids) visit(id);
    return [...out.values()];
  }

  impliedBy(id: string): string[] {
    return this.roleGraph().implies.get(id) ?? [];
  }

  /**
   * Effective roles of a user on a project or domain (direct and through groups, expanded);
   * on a project also those inherited (OS-INHERIT) from its domain and its ancestors.
   */
  effectiveRoles(userId: string, target: { type: 'project' | 'domain'; id: string }): RoleRow[] {
    const groups = this.repo.groupIdsOfUser(userId);
    const from: string[] = [];
    if (target.type === 'project') {
      let p = this.repo.get<ProjectRow>('projects', target.id);
      if (p) from.push(`domain:${p.domain_id}`);
      for (let hops = 0; p?.parent_id && hops < 64; hops++) {
        from.push(`project:${p.parent_id}`);
        p = this.repo.get<ProjectRow>('projects', p.parent_id);
      }
    }
    return this.expandRoles(this.repo.roleIdsOn(target.type, target.id, userId, groups, from));
  }

  // Catalog

  catalogServices(): CatalogService[] {
    if (!this.catalog) {
      this.catalog = this.repo
        .list<ServiceRow>('catalog_services')
        .filter((s) => s.enabled)
        .map((svc) => ({ svc, endpoints: this.repo.endpointsOfService(svc.id).filter((e) => e.enabled) }));
    }
    return this.catalog;
  }

  // Revocations

  private revocations(): RevocationCache {
    if (!this.revs) {
      const c: RevocationCache = { audit: new Set(), user: new Map(), project: new Map() };
      for (const r of this.repo.revocations()) {
        if (r.kind === 'audit') c.audit.add(r.value);
        else c[r.kind].set(r.value, r.revoked_at);
      }
      this.revs = c;
    }
    return this.revs;
  }

  isRevoked(p: TokenPayload): boolean {
    const c = this.revocations();
    if (p.auditIds.some((a) => c.audit.has(a))) return true;
    const u = c.user.get(p.userId);
    if (u !== undefined && p.issuedAt <= u) return true;
    if (p.projectId) {
      const pr = c.project.get(p.projectId);
      if (pr !== undefined && p.issuedAt <= pr) return true;
    }
    return false;
  }

  /** Revokes one token (by its audit id), or every token of a user or of a project issued until now. */
  revoke(kind: 'audit' | 'user' | 'project', value: string, tokenExpiresAt?: number): void {
    const now = Date.now();
    this.repo.addRevocation({ kind, value, revoked_at: now, expires_at: tokenExpiresAt ?? now + this.ttlMs });
    this.repo.pruneRevocations(now - 60_000);
    this.changed();
  }

  // Token resolution (validation's lookups, cached per generation)

  /**
   * What a token stands for, from the caches: the user, its scope and effective
   * roles. Throws TokenInvalid when anything it names is gone or disabled, or the
   * user lost every role on the scope (Keystone answers 404 for such tokens).
   */
  resolve(p: TokenPayload, now = Date.now()): Resolved {
    const key = `${p.userId}|${p.projectId ?? ''}|${p.domainId ?? ''}|${p.appCredId ?? ''}`;
    let r = this.resolved.get(key);
    if (!r) {
      r = this.resolveFromDb(p);
      if (this.resolved.size > 20_000) this.resolved.clear();
      this.resolved.set(key, r);
    }
    if (r.appCred && r.appCred.expires_at !== null && r.appCred.expires_at <= now * 1000)
      throw new TokenInvalid('application credential expired');
    return r;
  }

  private resolveFromDb(p: TokenPayload): Resolved {
    const user = this.repo.get<UserRow>('users', p.userId);
    if (!user || !user.enabled) throw new TokenInvalid('user missing or disabled');
    const userDomain = this.repo.get<DomainRow>('domains', user.domain_id);
    if (!userDomain || !userDomain.enabled) throw new TokenInvalid('user domain disabled');
    const out: Resolved = { user, userDomain, roles: [] };
    if (p.projectId) {
      const project = this.repo.get<ProjectRow>('projects', p.projectId);
      if (!project || !project.enabled) throw new TokenInvalid('project missing or disabled');
      const projectDomain = this.repo.get<DomainRow>('domains', project.domain_id);
      if (!projectDomain || !projectDomain.enabled) throw new TokenInvalid('project domain disabled');
      out.project = project;
      out.projectDomain = projectDomain;
      out.roles = this.effectiveRoles(user.id, { type: 'project', id: project.id });
    } else if (p.domainId) {
      const domain = this.repo.get<DomainRow>('domains', p.domainId);
      if (!domain || !domain.enabled) throw new TokenInvalid('domain missing or disabled');
      out.domain = domain;
      out.roles = this.effectiveRoles(user.id, { type: 'domain', id: domain.id });
    }
    if (p.appCredId) {
      const ac = this.repo.get<AppCredRow>('app_credentials', p.appCredId);
      if (!ac || ac.user_id !== user.id) throw new TokenInvalid('application credential missing');
      const allowed = new Set(JSON.parse(ac.roles) as string[]);
      out.roles = out.roles.filter((r) => allowed.has(r.id));
      out.appCred = ac;
    }
    if ((p.projectId || p.domainId) && !out.roles.length) throw new TokenInvalid('no role on the scope');
    return out;
  }
}
