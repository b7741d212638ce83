import type { IdentityDriver } from './backend.js';
import type { GroupRow, IdentityRepo, UserRow } from './identity.repo.js';

/**
 * Users and groups in the controller's database: the same queries as before backends
 * existed (listings of every domain are narrowed to SQL domains by IdentityBackends).
 * Passwords are checked by auth.service (scrypt, lockout, rehash), so no authenticate().
 */
export class SqlDriver implements IdentityDriver {
  readonly writable = true;
  readonly mapsIds = false;

  constructor(private readonly repo: IdentityRepo) {}

  async getUser(id: string) {
    return this.repo.get<UserRow>('users', id);
  }
  async userByName(domainId: string, name: string) {
    return this.repo.userByName(domainId, name);
  }
  async listUsers(f: { domainId?: string; name?: string }) {
    return this.repo.list<UserRow>('users', { name: f.name, domain_id: f.domainId });
  }
  async getGroup(id: string) {
    return this.repo.get<GroupRow>('groups', id);
  }
  async listGroups(f: { domainId?: string; name?: string }) {
    return this.repo.list<GroupRow>('groups', { name: f.name, domain_id: f.domainId });
  }
  async groupsOfUser(userId: string) {
    return this.repo.groupsOfUser(userId);
  }
  async usersOfGroup(groupId: string) {
    return this.repo.usersOfGroup(groupId);
  }
  async check() {
    return 'the controller database';
  }
}
