import { parseLdapConfig } from '../../shared/config/identity-ldap.js';
import type { IdentityDriver } from './backend.js';
import type { IdentityRepo } from './identity.repo.js';
import { LdapDriver } from './ldap.driver.js';
import { SqlDriver } from './sql.driver.js';

export interface DriverContext {
  domainId: string;
  domainName: string;
  repo: IdentityRepo;
}

/** The drivers, keyed by the config string (house style 3.7 rule 5). */
export const IDENTITY_DRIVERS = {
  sql: (_config: unknown, ctx: DriverContext) => new SqlDriver(ctx.repo),
  ldap: (config: unknown, ctx: DriverContext) => new LdapDriver(parseLdapConfig(config), ctx),
} satisfies Record<string, (config: unknown, ctx: DriverContext) => IdentityDriver>;

export type DriverName = keyof typeof IDENTITY_DRIVERS;
export const isDriverName = (s: string): s is DriverName => Object.hasOwn(IDENTITY_DRIVERS, s);
