import type { FastifyBaseLogger } from 'fastify';
import { BadRequest, Forbidden, Unauthorized } from '../../shared/errors/index.js';
import { keystoneTime } from '../../shared/util/time.js';
import type { AuthContext } from '../http/auth.js';
import type { IdentityBackends } from './backends.service.js';
import type { IdentityCore, Resolved } from './core.js';
import { AuthRequest } from '../../shared/api/identity.js';
import { invalid, member } from './body.js';
import { needsRehash } from './passwords.js';
import type { AppCredRow, DomainRow, ProjectRow, UserRow } from './identity.repo.js';
import { newAuditId, normalizeMethods, TokenInvalid, type AuthMethod, type TokenPayload } from './tokens.js';

/**
 * POST /v3/auth/tokens: the password, token and application_credential methods, and
 * the project, domain or no scope. Also validation of tokens (in-process, no DB
 * read beyond the cached revocation list) for the auth hook of every service.
 */
const AUTH_FAILED = 'The request you have made requires authentication.';

export interface Issued {
  token: string;
  payload: TokenPayload;
  resolved: Resolved;
}

type ScopeReq = { project: ProjectRow } | { domain: DomainRow } | null | undefined;

type Identity = AuthRequest['identity'];
type IdName = { id?: string; name?: string };
type UserRef = IdName & { domain?: IdName };

export class Authenticator {
  constructor(
    private readonly core: IdentityCore,
    private readonly backends: IdentityBackends,
    private readonly log: FastifyBaseLogger,
  ) {}

  // Validation

  /** Decrypts and checks a token; throws TokenInvalid (expired, revoked, forged, stale scope). */
  check(token: string, now = Date.now()): { payload: TokenPayload; resolved: Resolved } {
    const payload = this.core.codec.decode(token);
    if (payload.expiresAt <= now) throw new TokenInvalid('expired');
    this.core.fresh(now);
    if (this.core.isRevoked(payload)) throw new TokenInvalid('revoked');
    const resolved = this.core.resolve(payload, now);
    // A directory user's snapshot older than its domain's cache_ttl_s is re-read in the background.
    this.backends.touch(resolved.user, now);
    return { payload, resolved };
  }

  /** The TokenValidator of every service's auth hook. */
  validate(token: string): AuthContext {
    try {
      const { payload, resolved } = this.check(token);
      return this.context(token, payload, resolved);
    } catch (e) {
      if (e instanceof TokenInvalid) throw new Unauthorized(AUTH_FAILED);
      throw e;
    }
  }

  context(token: string, p: TokenPayload, r: Resolved): AuthContext {
    const roles = r.roles.map((x) => x.name);
    return {
      token,
      userId: r.user.id,
      userName: r.user.name,
      userDomainId: r.userDomain.id,
      userDomainName: r.userDomain.name,
      projectId: r.project?.id,
      projectName: r.project?.name,
      projectDomainId: r.projectDomain?.id,
      domainId: r.domain?.id,
      domainName: r.domain?.name,
      roles,
      roleIds: r.roles.map((x) => x.id),
      isAdmin: roles.includes('admin'),
      methods: p.methods,
      auditIds: p.auditIds,
      issuedAt: new Date(p.issuedAt),
      expiresAt: new Date(p.expiresAt),
      applicationCredentialId: p.appCredId,
    };
  }

  // Issue

  /** Mints a token for an already authenticated user and scope (the facade's service token). */
  mint(p: Omit<TokenPayload, 'issuedAt' | 'expiresAt' | 'auditIds'> & { expiresAt?: number; parentAudit?: string }): Issued {
    const now = Date.now();
    const payload: TokenPayload = {
      userId: p.userId,
      methods: normalizeMethods(p.methods),
      projectId: p.projectId,
      domainId: p.domainId,
      appCredId: p.appCredId,
      issuedAt: now,
      expiresAt: Math.min(p.expiresAt ?? Infinity, now + this.core.ttlMs),
      auditIds: p.parentAudit ? [newAuditId(), p.parentAudit] : [newAuditId()],
    };
    let resolved: Resolved;
    try {
      resolved = this.core.resolve(payload, now);
    } catch (e) {
      if (e instanceof TokenInvalid) throw new Unauthorized(scopeMessage(e.message, payload));
      throw e;
    }
    return { token: this.core.codec.encode(payload), payload, resolved };
  }

  async authenticate(body: unknown): Promise<Issued> {
    this.core.fresh();
    const auth = member(AuthRequest, body, 'auth');
    idOrName(auth);
    const identity = auth.identity;
    const methods = identity.methods;
    if (!methods.length) throw invalid('methods', "'methods' must be a non-empty list of strings");
    // The scope is looked up only once the credentials are proven (no hints to strangers).
    const scope = () => this.scopeOf(auth.scope);
    if (methods.includes('application_credential')) return this.byAppCred(identity.application_credential, scope);
    if (methods.includes('token')) return this.byToken(identity.token, scope);
    if (methods.includes('password')) return this.byPassword(identity.password, scope);
    throw new Unauthorized('Attempted to authenticate with an unsupported method.');
  }

  private domainRef(ref: IdName | undefined, field: string): DomainRow {
    if (!ref || (ref.id === undefined && ref.name === undefined)) throw invalid(field, 'expected an object with id or name');
    const d =
      ref.id !== undefined
        ? this.core.repo.get<DomainRow>('domains', ref.id)
        : this.core.repo.list<DomainRow>('domains', { name: ref.name })[0];
    if (!d) throw new Unauthorized(`Could not find domain: ${ref.id ?? ref.name}.`);
    if (!d.enabled) throw new Unauthorized(`Domain ${d.id} is disabled.`);
    return d;
  }

  private scopeOf(s: AuthRequest['scope']): ScopeReq {
    if (s === undefined) return undefined;
    if (s === 'unscoped') return null;
    if (typeof s !== 'object') throw invalid('scope', 'expected an object');
    if (s.project) {
      const p = s.project;
      let project: ProjectRow | undefined;
      if (p.id !== undefined) project = this.core.repo.get<ProjectRow>('projects', p.id);
      else {
        const d = this.domainRef(p.domain, 'scope.project.domain');
        project = this.core.repo.list<ProjectRow>('projects', { domain_id: d.id, name: p.name })[0];
      }
      if (!project) throw new Unauthorized(`Could not find project: ${p.id ?? p.name}.`);
      if (!project.enabled) throw new Unauthorized(`Project ${project.id} is disabled.`);
      return { project };
    }
    if (s.domain) return { domain: this.domainRef(s.domain, 'scope.domain') };
    if ('system' in s) throw new Unauthorized('System-scoped tokens are not supported.');
    if ('OS-TRUST:trust' in s) throw new Unauthorized('Trusts are not supported.');
    throw invalid('scope', 'expected project or domain');
  }

  /** The user named by a request: SQL users from the database, directory users from the directory (503 when it is down). */
  private async userRef(u: UserRef | undefined, field: string): Promise<UserRow | undefined> {
    if (!u) throw invalid(field, 'expected an object with id, or name and domain');
    if (u.id !== undefined) {
      const local = this.core.repo.get<UserRow>('users', u.id);
      return local && !this.backends.isDirectory(local.domain_id) ? local : this.backends.getUser(u.id);
    }
    if (u.name === undefined) throw invalid(field, 'expected an object with id, or name and domain');
    const d = this.domainRef(u.domain, `${field}.domain`);
    return this.backends.isDirectory(d.id) ? this.backends.userByName(d.id, u.name) : this.core.repo.userByName(d.id, u.name);
  }

  private async byPassword(pw: Identity['password'], scope: () => ScopeReq): Promise<Issued> {
    if (!pw?.user) throw invalid('password.user', "'user' is a required property");
    const password = pw.user.password;
    if (password === undefined) throw invalid('password.user.password', "'password' is a required property");
    // An unknown or disabled domain is answered like an unknown user: same message, same work.
    let user: UserRow | undefined;
    try {
      user = await this.userRef(pw.user, 'password.user');
    } catch (e) {
      if (!(e instanceof Unauthorized)) throw e;
    }
    if (user && this.backends.isDirectory(user.domain_id)) return this.byDirectoryPassword(user, password, scope);
    const cfg = this.core.config.identity;
    const locked =
      !!user &&
      cfg.lockout_failures > 0 &&
      user.failed_auth_count >= cfg.lockout_failures &&
      user.failed_auth_at !== null &&
      Date.now() - user.failed_auth_at < cfg.lockout_s * 1000;
    // Always spend one scrypt, on the user's hash or on the dummy.
    const ok = await this.core.verify(password, user?.password_hash ?? null);
    if (!user || !ok || locked) {
      if (user && !locked && cfg.lockout_failures > 0) {
        this.core.repo
          .st('UPDATE users SET failed_auth_count = failed_auth_count + 1, failed_auth_at = ? WHERE id = ?')
          .run(Date.now(), user.id);
      }
      this.log.info({ user: user?.id ?? null, locked }, 'password authentication failed');
      throw new Unauthorized(AUTH_FAILED);
    }
    // scrypt ran on the thread pool: the password may have changed or the user been
    // disabled meanwhile (and its tokens revoked); judge by the row as it is now.
    const current = this.core.repo.get<UserRow>('users', user.id);
    if (!current || current.password_hash !== user.password_hash) throw new Unauthorized(AUTH_FAILED);
    user = current;
    if (user.failed_auth_count)
      this.core.repo.st('UPDATE users SET failed_auth_count = 0, failed_auth_at = NULL WHERE id = ?').run(user.id);
    this.checkUserEnabled(user);
    const issued = this.issueFor(user, ['password'], scope());
    if (needsRehash(user.password_hash, this.core.scrypt)) {
      // The configured cost changed: upgrade the stored hash now that we know the
      // password, in the background (only if the password was not changed meanwhile).
      const { id, password_hash: old } = user;
      this.core
        .hash(password)
        .then((h) => this.core.repo.st('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?').run(h, id, old))
        .catch((err: unknown) => this.log.warn({ err, user: id }, 'password rehash failed'));
    }
    return issued;
  }

  /**
   * A directory user proves the password by binding as itself (nothing is stored;
   * no lockout here: the directory's own policy applies). Success re-reads the user and
   * its groups, so the token's roles follow the directory's membership now.
   */
  private async byDirectoryPassword(user: UserRow, password: string, scope: () => ScopeReq): Promise<Issued> {
    const fresh = await this.backends.authenticate(user, password);
    if (!fresh) {
      this.log.info({ user: user.id, directory: true }, 'password authentication failed');
      throw new Unauthorized(AUTH_FAILED);
    }
    this.checkUserEnabled(fresh);
    return this.issueFor(fresh, ['password'], scope());
  }

  private async byToken(t: Identity['token'], scopeOf: () => ScopeReq): Promise<Issued> {
    if (!t) throw invalid('token.id', "'id' is a required property");
    let prev: { payload: TokenPayload; resolved: Resolved };
    try {
      prev = this.check(t.id);
    } catch (e) {
      if (e instanceof TokenInvalid) throw new Unauthorized(AUTH_FAILED);
      throw e;
    }
    if (prev.payload.appCredId) throw new Forbidden('A token created with an application credential cannot be rescoped.');
    const methods = [...new Set<AuthMethod>(['token', ...prev.payload.methods])];
    let scope = scopeOf();
    if (scope === undefined) {
      // No scope asked: keep the token's own scope (Keystone's token rescoping).
      scope = prev.resolved.project
        ? { project: prev.resolved.project }
        : prev.resolved.domain
          ? { domain: prev.resolved.domain }
          : null;
    }
    return this.issueFor(prev.resolved.user, methods, scope, prev.payload.expiresAt, prev.payload.auditIds[0]);
  }

  private async byAppCred(a: Identity['application_credential'], scopeOf: () => ScopeReq): Promise<Issued> {
    if (a?.secret === undefined) throw invalid('application_credential.secret', "'secret' is a required property");
    let ac: AppCredRow | undefined;
    if (a.id !== undefined) ac = this.core.repo.get<AppCredRow>('app_credentials', a.id);
    else if (a.name !== undefined) {
      const user = await this.userRef(a.user, 'application_credential.user');
      ac = user ? this.core.repo.list<AppCredRow>('app_credentials', { user_id: user.id, name: a.name })[0] : undefined;
    } else throw invalid('application_credential', 'expected id, or name and user');
    const ok = await this.core.verify(a.secret, ac?.secret_hash ?? null);
    if (!ac || !ok) throw new Unauthorized(AUTH_FAILED);
    if (ac.expires_at !== null && ac.expires_at <= Date.now() * 1000)
      throw new Unauthorized('The application credential has expired.');
    const scope = scopeOf();
    if (scope && !('project' in scope && scope.project.id === ac.project_id)) {
      throw new Unauthorized('An application credential is bound to its project; the requested scope differs.');
    }
    let user = this.core.repo.get<UserRow>('users', ac.user_id)!;
    if (this.backends.isDirectory(user.domain_id)) {
      // The directory decides whether its user still exists and is enabled.
      const fresh = await this.backends.refresh(user.id);
      if (!fresh) throw new Unauthorized(AUTH_FAILED);
      user = fresh;
    }
    this.checkUserEnabled(user);
    const project = this.core.repo.get<ProjectRow>('projects', ac.project_id)!;
    return this.issueFor(
      user,
      ['application_credential'],
      { project },
      ac.expires_at === null ? undefined : Math.floor(ac.expires_at / 1000),
      undefined,
      ac.id,
    );
  }

  private checkUserEnabled(user: UserRow): void {
    if (!user.enabled) throw new Unauthorized(`The account is disabled for user: ${user.id}.`);
    const d = this.core.repo.get<DomainRow>('domains', user.domain_id);
    if (!d?.enabled) throw new Unauthorized(`The account is disabled for user: ${user.id}.`);
  }

  private issueFor(
    user: UserRow,
    methods: AuthMethod[],
    scope: ScopeReq,
    expiresAt?: number,
    parentAudit?: string,
    appCredId?: string,
  ): Issued {
    if (scope === undefined) {
      // Keystone scopes to the default project when the user has a role there.
      const dp = user.default_project_id ? this.core.repo.get<ProjectRow>('projects', user.default_project_id) : undefined;
      scope =
        dp && dp.enabled && this.core.effectiveRoles(user.id, { type: 'project', id: dp.id }).length ? { project: dp } : null;
    }
    return this.mint({
      userId: user.id,
      methods,
      projectId: scope && 'project' in scope ? scope.project.id : undefined,
      domainId: scope && 'domain' in scope ? scope.domain.id : undefined,
      appCredId,
      expiresAt,
      parentAudit,
    });
  }

  // The token document (api notes 1.0.9, 1.3)

  tokenBody(p: TokenPayload, r: Resolved, o: { catalog: boolean }): Record<string, unknown> {
    const t: Record<string, unknown> = {
      methods: p.methods,
      user: {
        domain: { id: r.userDomain.id, name: r.userDomain.name },
        id: r.user.id,
        name: r.user.name,
        password_expires_at: null,
      },
      audit_ids: p.auditIds,
      expires_at: keystoneTime(new Date(p.expiresAt)),
      issued_at: keystoneTime(new Date(p.issuedAt)),
    };
    if (r.project) {
      t.project = { domain: { id: r.projectDomain!.id, name: r.projectDomain!.name }, id: r.project.id, name: r.project.name };
      t.is_domain = false;
    } else if (r.domain) {
      t.domain = { id: r.domain.id, name: r.domain.name };
    }
    if (r.project || r.domain) {
      t.roles = r.roles.map((x) => ({ id: x.id, name: x.name }));
      if (o.catalog) t.catalog = this.catalog(r.project?.id);
    }
    if (r.appCred) t.application_credential = { id: r.appCred.id, name: r.appCred.name, restricted: !r.appCred.unrestricted };
    return t;
  }

  /** The catalog with $(project_id)s substituted; templated endpoints dropped without a project. */
  catalog(projectId: string | undefined): unknown[] {
    return this.core.catalogServices().map(({ svc, endpoints }) => ({
      endpoints: endpoints
        .filter((e) => projectId || !TEMPLATE.test(e.url))
        .map((e) => ({
          id: e.id,
          interface: e.interface,
          region_id: e.region_id,
          url: projectId ? e.url.replace(TEMPLATES, projectId) : e.url,
          region: e.region_id,
        })),
      id: svc.id,
      type: svc.type,
      name: svc.name,
    }));
  }
}

const TEMPLATE = /[$%]\((?:project_id|tenant_id)\)s/;
const TEMPLATES = /[$%]\((?:project_id|tenant_id)\)s/g;

function scopeMessage(reason: string, p: TokenPayload): string {
  if (reason === 'no role on the scope') {
    return p.projectId
      ? `User ${p.userId} has no access to project ${p.projectId}.`
      : `User ${p.userId} has no access to domain ${p.domainId}.`;
  }
  return AUTH_FAILED;
}

/**
 * What keystone/auth/schema.py checks beyond the schema, in its words: a user, project
 * or domain named by id or by name.
 */
function idOrName(auth: AuthRequest): void {
  const need = (o: { id?: string; name?: string } | undefined, field: string) => {
    if (o && o.id === undefined && o.name === undefined)
      throw new BadRequest(`Invalid input for field ${field}: id or name must be present.`, 'ValidationError');
  };
  const user = auth.identity.password?.user;
  need(user, 'identity/password/user');
  need(user?.domain, 'identity/password/user/domain');
  if (auth.scope && typeof auth.scope === 'object') {
    need(auth.scope.project, 'scope/project');
    need(auth.scope.project?.domain, 'scope/project/domain');
    need(auth.scope.domain, 'scope/domain');
  }
}
