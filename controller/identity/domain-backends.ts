import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { LDAP_KEYS, LdapConfigSchema, parseLdapConfig, type LdapConfig } from '../../shared/config/identity-ldap.js';
import { BadRequest, NotFound } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import { BackendsRepo } from './backends.repo.js';
import { DEFAULT_DOMAIN_ID, type IdentityCore } from './core.js';
import type { DomainRow } from './identity.repo.js';

/**
 * Configuring a domain's identity backend (`homestack domain ldap set|unset`, Keystone's
 * domain-specific configuration in the database). A running controller picks a change
 * up within a second (SQLite's data_version), with no restart.
 */
export interface DomainBackendView {
  domain: DomainRow;
  driver: 'sql' | 'ldap';
  config?: LdapConfig;
}

function findDomain(core: IdentityCore, ref: string): DomainRow | undefined {
  return core.repo.get<DomainRow>('domains', ref) ?? core.repo.list<DomainRow>('domains', { name: ref })[0];
}

function domainOf(core: IdentityCore, ref: string): DomainRow {
  const d = findDomain(core, ref);
  if (!d) throw new NotFound(`Could not find domain: ${ref}.`);
  return d;
}

export function listDomainBackends(core: IdentityCore): DomainBackendView[] {
  const repo = new BackendsRepo(core.repo.db, core.repo);
  const configs = new Map(repo.configs().map((c) => [c.domain_id, c]));
  return core.repo.list<DomainRow>('domains').map((domain) => {
    const c = configs.get(domain.id);
    return c ? { domain, driver: 'ldap', config: parseLdapConfig(JSON.parse(c.config)) } : { domain, driver: 'sql' };
  });
}

export function showDomainBackend(core: IdentityCore, ref: string): DomainBackendView {
  const d = domainOf(core, ref);
  return listDomainBackends(core).find((v) => v.domain.id === d.id)!;
}

/** Turns `--key value` strings into the schema's types (booleans true/false, integers). */
export function typedPatch(raw: Record<string, string>): Partial<LdapConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!(LDAP_KEYS as string[]).includes(k)) throw new BadRequest(`unknown ldap key '${k}'`);
    const type = (LdapConfigSchema.properties as Record<string, { type?: unknown }>)[k]?.type;
    if (type === 'boolean') {
      if (!/^(true|false)$/.test(v)) throw new BadRequest(`ldap key '${k}': expected true or false`);
      out[k] = v === 'true';
    } else if (type === 'integer') {
      if (!/^\d+$/.test(v)) throw new BadRequest(`ldap key '${k}': expected a whole number`);
      out[k] = Number(v);
    } else out[k] = v;
  }
  return out as Partial<LdapConfig>;
}

/** Files the configuration names must be readable now; a password file should be private. Returns warnings. */
async function checkFiles(c: LdapConfig): Promise<string[]> {
  const warnings: string[] = [];
  if (c.tls_cacertfile) {
    const pem = await readFile(c.tls_cacertfile, 'utf8').catch((e: Error) => {
      throw new BadRequest(`tls_cacertfile: ${e.message}`);
    });
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new BadRequest(`tls_cacertfile ${c.tls_cacertfile}: no PEM certificate in it`);
  }
  if (c.password_file) {
    await access(c.password_file, constants.R_OK).catch((e: Error) => {
      throw new BadRequest(`password_file: ${e.message}`);
    });
    if ((await stat(c.password_file)).mode & 0o077)
      warnings.push(`password_file ${c.password_file} is readable by others: chmod 600 it`);
  }
  if (c.url.split(',').some((u) => u.startsWith('ldap://')) && !c.use_tls)
    warnings.push('ldap:// without use_tls: passwords cross the network in clear text (use ldaps:// or use_tls = true)');
  return warnings;
}

/**
 * Makes `ref` (a domain name or id) an LDAP domain, or changes its settings (given
 * keys replace the stored ones; the rest stay). `create`: make the domain if missing.
 * Refuses the Default domain (the cloud's admin and service users live there) and a
 * domain that holds SQL users or groups (they would vanish from view).
 */
export async function setLdapDomain(
  core: IdentityCore,
  ref: string,
  patch: Partial<LdapConfig>,
  o: { create?: boolean } = {},
): Promise<{ view: DomainBackendView; created: boolean; warnings: string[] }> {
  const repo = new BackendsRepo(core.repo.db, core.repo);
  let d = findDomain(core, ref);
  if (d?.id === DEFAULT_DOMAIN_ID) throw new BadRequest('the Default domain holds the admin and service users: it stays SQL');
  if (!d && !o.create) throw new NotFound(`Could not find domain: ${ref} (add --create to make it).`);
  if (d) {
    const n = repo.localCounts(d.id);
    if (n.users || n.groups)
      throw new BadRequest(
        `domain ${d.name} holds ${n.users} SQL users and ${n.groups} SQL groups; an LDAP domain shows only the directory's: use another domain`,
      );
  }
  const old = d ? repo.config(d.id) : undefined;
  const config = parseLdapConfig({ ...(old ? (JSON.parse(old.config) as object) : {}), ...patch });
  const warnings = await checkFiles(config);
  const created = !d;
  core.repo.tx(() => {
    if (!d) {
      d = {
        id: newHexId(),
        name: ref,
        description: 'users and groups from LDAP',
        enabled: 1,
        tags: '[]',
        options: '{}',
        extra: '{}',
        created_at: nowIso(),
      };
      core.repo.insert('domains', { ...d });
    }
    repo.setConfig(d.id, 'ldap', JSON.stringify(config), nowIso());
  });
  core.changed();
  return { view: { domain: d!, driver: 'ldap', config }, created, warnings };
}

/**
 * Back to SQL: the configuration goes, and so does everything the directory left
 * (shadow users with their tokens and application credentials, shadow groups, their
 * role assignments, the id mappings). Setting the same directory up again gives its
 * entries the same ids back, but their role assignments must be made again.
 */
export function unsetLdapDomain(core: IdentityCore, ref: string): { domain: DomainRow; removedUsers: number } {
  const repo = new BackendsRepo(core.repo.db, core.repo);
  const d = domainOf(core, ref);
  if (!repo.config(d.id)) throw new BadRequest(`domain ${d.name} has no LDAP configuration`);
  const users = core.repo.tx(() => {
    const ids = repo.purgeDomain(d.id);
    for (const id of ids) core.revoke('user', id);
    repo.deleteConfig(d.id);
    return ids;
  });
  core.changed();
  return { domain: d, removedUsers: users.length };
}
