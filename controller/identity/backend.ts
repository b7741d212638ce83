import { ServiceUnavailable } from '../../shared/errors/index.js';
import type { GroupRow, UserRow } from './identity.repo.js';

/**
 * Where a domain's users and groups come from (Keystone's identity drivers): `sql`
 * (the users and groups tables, read-write) or `ldap` (a directory, read-only). The
 * rest of identity talks to IdentityBackends (backends.service.ts), which picks the
 * driver of a domain, turns a driver's own ids into public ids (id_mapping) and keeps
 * the shadow rows; drivers know nothing of that.
 *
 * Rows carry the driver's own ids (`id`): for SQL they are the public ids, for LDAP the
 * value of the id attribute. Every method is a read and idempotent; "absent" is
 * `undefined` (or a shorter list), never an error; a backend that cannot answer throws
 * BackendUnavailable (503) and changes nothing.
 */
export interface IdentityDriver {
  /** False: users, groups and memberships are read-only (403, as Keystone's LDAP driver). */
  readonly writable: boolean;
  /** True: ids are the backend's own and get public ids through id_mapping (LDAP). */
  readonly mapsIds: boolean;
  getUser(id: string): Promise<UserRow | undefined>;
  userByName(domainId: string, name: string): Promise<UserRow | undefined>;
  /** Users of the domain (SQL: of every SQL domain when domainId is absent), matching `name` when given. */
  listUsers(f: { domainId?: string; name?: string }): Promise<UserRow[]>;
  getGroup(id: string): Promise<GroupRow | undefined>;
  listGroups(f: { domainId?: string; name?: string }): Promise<GroupRow[]>;
  /** The user's groups; [] for an unknown user. */
  groupsOfUser(userId: string): Promise<GroupRow[]>;
  /** The group's members that are users of this backend; [] for an unknown group. */
  usersOfGroup(groupId: string): Promise<UserRow[]>;
  /**
   * Present when the backend proves passwords itself (LDAP: a bind as the user). True
   * when the password is right; false when it is wrong or the user unknown; throws
   * BackendUnavailable when the backend cannot tell. Stores nothing.
   */
  authenticate?(userId: string, password: string): Promise<boolean>;
  /** A one-line health report for `homestack doctor` (reachable, counts); throws when unhealthy. */
  check(): Promise<string>;
}

/** The backend of a domain did not answer (directory down, TLS refused, bad service bind). */
export class BackendUnavailable extends ServiceUnavailable {
  constructor(
    readonly domainName: string,
    readonly reason: string,
  ) {
    super(`The identity backend of domain ${domainName} is unavailable.`, 'IdentityBackendUnavailable');
  }
}
