import { randomBytes } from 'node:crypto';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso, parseIsoMicros } from '../../shared/util/time.js';
import type { AuthContext } from '../http/auth.js';
import type { IdentityCore } from './core.js';
import type { AppCredCreate } from '../../shared/api/identity.js';
import { invalid } from './body.js';
import type { AppCredRow, RoleRow } from './identity.repo.js';

/**
 * Application credentials: a secret (shown once, stored as a scrypt hash) that
 * authenticates as the user on one project with a subset of the user's roles there.
 */
export class AppCreds {
  constructor(private readonly core: IdentityCore) {}

  get(userId: string, id: string): AppCredRow {
    const a = this.core.repo.get<AppCredRow>('app_credentials', id);
    if (!a || a.user_id !== userId) throw new NotFound(`Could not find Application Credential: ${id}.`);
    return a;
  }

  roles(a: AppCredRow): RoleRow[] {
    return (JSON.parse(a.roles) as string[]).map((id) => this.core.role(id)).filter((r): r is RoleRow => !!r);
  }

  async create(ctx: AuthContext, userId: string, o: AppCredCreate): Promise<{ row: AppCredRow; secret: string }> {
    if (!ctx.projectId) throw new BadRequest('Application credentials can only be created with a project-scoped token.');
    if (ctx.applicationCredentialId) {
      const own = this.core.repo.get<AppCredRow>('app_credentials', ctx.applicationCredentialId);
      if (!own?.unrestricted) {
        throw new Forbidden(
          "Using method 'application_credential' is not allowed for managing additional application credentials.",
        );
      }
    }
    const n = o.name;
    // An empty or absent secret is generated (as Keystone does).
    const secret = o.secret || randomBytes(64).toString('base64url');
    let expiresAt: number | null = null;
    const exp = o.expires_at;
    if (exp) {
      expiresAt = parseIsoMicros(exp); // microseconds: Keystone echoes them
      if (Number.isNaN(expiresAt)) throw invalid('expires_at', `'${exp}' is not an ISO 8601 time`);
      if (expiresAt <= Date.now() * 1000) throw invalid('expires_at', 'the expiration time is in the past');
    }
    const have = new Map(ctx.roleIds.map((id, i) => [id, ctx.roles[i]!]));
    let roleIds = [...have.keys()];
    // No roles, or an empty list (keystoneclient sends []), delegates all the token's roles, as Keystone does.
    if (o.roles?.length) {
      roleIds = o.roles.map((ref) => {
        const id = ref.id ?? [...have.entries()].find(([, nm]) => nm === ref.name)?.[0];
        if (!id || !have.has(id))
          throw new BadRequest(
            `The user does not have the role ${ref.id ?? ref.name} on the project, so it cannot be delegated.`,
          );
        return id;
      });
    }
    // Store the subset closed under implication, so tokens match what the user delegated.
    roleIds = this.core
      .expandRoles(roleIds)
      .map((r) => r.id)
      .filter((id) => have.has(id));
    if (this.core.repo.list('app_credentials', { user_id: userId, name: n }).length) {
      throw new Conflict(`Conflict occurred attempting to store application_credential - Duplicate entry found with name ${n}.`);
    }
    const row: AppCredRow = {
      id: newHexId(),
      user_id: userId,
      project_id: ctx.projectId,
      name: n,
      description: o.description ?? null,
      secret_hash: await this.core.hash(secret),
      unrestricted: o.unrestricted ? 1 : 0,
      expires_at: expiresAt,
      roles: JSON.stringify(roleIds),
      created_at: nowIso(),
    };
    try {
      this.core.repo.insert('app_credentials', { ...row });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new Conflict(
          `Conflict occurred attempting to store application_credential - Duplicate entry found with name ${n}.`,
        );
      }
      throw e;
    }
    this.core.changed();
    return { row, secret };
  }

  delete(userId: string, id: string): void {
    this.get(userId, id);
    this.core.repo.delete('app_credentials', id);
    this.core.changed();
  }
}
