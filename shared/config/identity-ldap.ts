import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * One domain's LDAP identity backend (Keystone's [ldap] options, same names and
 * defaults, so Keystone's documentation for OpenLDAP, FreeIPA and Active Directory
 * applies). Stored per domain in the database by `homestack domain ldap set`; secrets
 * stay in files (`password_file`), never in the database or on a command line.
 */
const Str = (def: string, description: string) => Type.String({ default: def, description });
const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const Int = (def: number, min: number, description: string) => Type.Integer({ default: def, minimum: min, description });

export const LdapConfigSchema = Type.Object(
  {
    url: Type.String({
      pattern: '^ldaps?://[^\\s,]+(,ldaps?://[^\\s,]+)*$',
      description: 'ldap://host[:port] or ldaps://host[:port]; several, comma-separated, are tried in order',
    }),
    user: Str('', 'DN to bind as for searches (empty: anonymous)'),
    password_file: Str('', 'file holding the password of `user` (mode 0600; read at each connection)'),
    suffix: Str('cn=example,cn=com', 'default base of user_tree_dn and group_tree_dn'),
    query_scope: Type.Union([Type.Literal('one'), Type.Literal('sub')], {
      default: 'one',
      description: 'one: entries directly under the tree DNs; sub: the whole subtree',
    }),
    page_size: Int(0, 0, 'search page size (0: no paging)'),
    user_tree_dn: Str('', 'where users are (default ou=Users,<suffix>)'),
    user_filter: Str('', 'an extra LDAP filter users must match, e.g. (memberOf=cn=openstack,ou=Groups,dc=example,dc=org)'),
    user_objectclass: Str('inetOrgPerson', 'object class of users'),
    user_id_attribute: Str('cn', 'attribute holding the user id (its value is the local id behind the public id)'),
    user_name_attribute: Str('sn', 'attribute holding the user name (what people sign in with)'),
    user_mail_attribute: Str('mail', 'attribute shown as the user email'),
    user_description_attribute: Str('description', 'attribute shown as the user description'),
    user_enabled_attribute: Str('enabled', 'attribute saying whether the user is enabled'),
    user_enabled_invert: Bool(false, 'the enabled attribute says "disabled" (FreeIPA nsAccountLock)'),
    user_enabled_mask: Int(0, 0, 'bit of an integer enabled attribute that means disabled (AD userAccountControl: 2)'),
    user_enabled_default: Str('True', 'enabled value assumed when the attribute is absent (AD: 512)'),
    group_tree_dn: Str('', 'where groups are (default ou=UserGroups,<suffix>)'),
    group_filter: Str('', 'an extra LDAP filter groups must match'),
    group_objectclass: Str('groupOfNames', 'object class of groups'),
    group_id_attribute: Str('cn', 'attribute holding the group id'),
    group_name_attribute: Str('ou', 'attribute holding the group name'),
    group_member_attribute: Str('member', 'attribute of a group listing its members'),
    group_members_are_ids: Bool(false, 'members are user ids (posixGroup memberUid), not DNs'),
    group_desc_attribute: Str('description', 'attribute shown as the group description'),
    use_tls: Bool(false, 'StartTLS on an ldap:// URL (refused with ldaps://)'),
    tls_cacertfile: Str('', "CA certificate(s) (PEM) that the directory's certificate must chain to (default: the system CAs)"),
    connection_timeout: Int(5, 1, 'seconds to connect (and TLS) before the directory counts as unavailable'),
    timeout: Int(10, 1, 'seconds an LDAP operation may take'),
    cache_ttl_s: Int(60, 0, "seconds a user's directory entry and groups are trusted by token validation before a re-read"),
  },
  { additionalProperties: false },
);
export type LdapConfig = Static<typeof LdapConfigSchema>;

/** The keys `homestack domain ldap set` accepts, in schema order. */
export const LDAP_KEYS = Object.keys(LdapConfigSchema.properties) as Array<keyof LdapConfig>;

/** Cross-field rules the schema cannot say. Returns the problems (empty: fine). */
export function ldapConfigProblems(c: LdapConfig): string[] {
  const out: string[] = [];
  if (c.use_tls && c.url.split(',').some((u) => u.startsWith('ldaps://')))
    out.push('use_tls (StartTLS) cannot be combined with an ldaps:// URL');
  if (c.user && !c.password_file) out.push('user (a bind DN) needs password_file');
  return out;
}

/** Defaults applied and checked; throws an Error naming the first bad key. */
export function parseLdapConfig(raw: unknown): LdapConfig {
  const c = Value.Default(LdapConfigSchema, structuredClone(raw ?? {})) as unknown;
  if (!Value.Check(LdapConfigSchema, c)) {
    const e = [...Value.Errors(LdapConfigSchema, c)][0];
    const key = e ? String((e as { instancePath?: string }).instancePath ?? '').replace(/^\//, '') : '';
    throw new Error(`ldap config${key ? ` key '${key}'` : ''}: ${e?.message ?? 'invalid'}`);
  }
  const problems = ldapConfigProblems(c);
  if (problems.length) throw new Error(`ldap config: ${problems.join('; ')}`);
  return c;
}

/** user_tree_dn / group_tree_dn with Keystone's defaults under `suffix`. */
export const userTreeDn = (c: LdapConfig) => c.user_tree_dn || `ou=Users,${c.suffix}`;
export const groupTreeDn = (c: LdapConfig) => c.group_tree_dn || `ou=UserGroups,${c.suffix}`;
