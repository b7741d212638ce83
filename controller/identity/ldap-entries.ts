import type { LdapConfig } from '../../shared/config/identity-ldap.js';
import type { GroupRow, UserRow } from './identity.repo.js';

/**
 * Pure helpers of the LDAP driver: filters (RFC 4515 escaping), the first RDN of a DN
 * (RFC 4514), and directory entries turned into user and group rows the way Keystone's
 * LDAP driver reads them (ids from the id attribute, Keystone's enabled rules).
 */
export type EntryValue = string | string[] | Buffer | Buffer[];
export type Entry = { dn: string } & Record<string, EntryValue>;

/** A value made safe inside an LDAP filter (RFC 4515: \ * ( ) NUL). */
export function esc(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** An admin-written filter, parenthesised if it is not already ('' stays ''). */
export function wrapFilter(f: string): string {
  const t = f.trim();
  if (!t) return '';
  return t.startsWith('(') ? t : `(${t})`;
}

/** (&(objectClass=oc)<extra><conds...>) */
export function andFilter(objectClass: string, extra: string, ...conds: string[]): string {
  return `(&(objectClass=${objectClass})${wrapFilter(extra)}${conds.join('')})`;
}

/** (|(attr=v1)(attr=v2)...), each value escaped. */
export function anyOf(attr: string, values: readonly string[]): string {
  return values.length === 1 ? `(${attr}=${esc(values[0]!)})` : `(|${values.map((v) => `(${attr}=${esc(v)})`).join('')})`;
}

/** The attribute and value of a DN's first RDN (uid=alice,ou=Users,… → ['uid', 'alice']), unescaped. */
export function firstRdn(dn: string): [string, string] | undefined {
  const eq = dn.indexOf('=');
  if (eq <= 0) return undefined;
  const attr = dn.slice(0, eq).trim();
  let value = '';
  for (let i = eq + 1; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === ',' || c === '+') break;
    if (c === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        // Hex pairs may spell a UTF-8 sequence: collect them and decode together.
        const bytes: number[] = [];
        while (dn[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
          bytes.push(Number.parseInt(dn.slice(i + 1, i + 3), 16));
          i += 3;
        }
        i--;
        value += Buffer.from(bytes).toString('utf8');
      } else {
        value += dn[i + 1];
        i++;
      }
      continue;
    }
    value += c;
  }
  return [attr, value.trim()];
}

/** Every value of an attribute (names compared case-insensitively, as LDAP does). */
export function values(e: Entry, name: string): string[] {
  const lower = name.toLowerCase();
  const key = Object.keys(e).find((k) => k.toLowerCase() === lower);
  if (!key || key === 'dn') return lower === 'dn' ? [e.dn] : [];
  const v = e[key]!;
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

const first = (e: Entry, name: string) => values(e, name)[0];

/** The entry's id: the RDN value when the RDN is the id attribute (as Keystone), else the attribute's first value. */
export function entryId(e: Entry, idAttr: string): string | undefined {
  const rdn = firstRdn(e.dn);
  if (rdn && rdn[0].toLowerCase() === idAttr.toLowerCase()) return rdn[1];
  return first(e, idAttr);
}

/** Keystone's reading of the enabled attribute: a bit mask, an inverted flag, or a boolean. */
export function isEnabled(c: LdapConfig, raw: string | undefined): boolean {
  const v = raw ?? c.user_enabled_default;
  if (c.user_enabled_mask) {
    const n = Number.parseInt(v, 10);
    return Number.isNaN(n) ? true : (n & c.user_enabled_mask) !== c.user_enabled_mask;
  }
  const b = !['false', '0', 'no', 'off', ''].includes(v.trim().toLowerCase());
  return c.user_enabled_invert ? !b : b;
}

export const userAttributes = (c: LdapConfig) => [
  c.user_id_attribute,
  c.user_name_attribute,
  c.user_mail_attribute,
  c.user_description_attribute,
  c.user_enabled_attribute,
];
export const groupAttributes = (c: LdapConfig) => [
  c.group_id_attribute,
  c.group_name_attribute,
  c.group_desc_attribute,
  c.group_member_attribute,
];

/** A directory user as a users row (the id is the directory's own; IdentityBackends maps it). */
export function userRow(c: LdapConfig, domainId: string, e: Entry): UserRow | undefined {
  const id = entryId(e, c.user_id_attribute);
  const name = first(e, c.user_name_attribute);
  if (!id || !name) return undefined;
  const extra: Record<string, string> = {};
  const mail = first(e, c.user_mail_attribute);
  if (mail) extra.email = mail;
  const desc = first(e, c.user_description_attribute);
  if (desc) extra.description = desc;
  return {
    id,
    domain_id: domainId,
    name,
    enabled: isEnabled(c, first(e, c.user_enabled_attribute)) ? 1 : 0,
    password_hash: null,
    default_project_id: null,
    options: '{}',
    extra: JSON.stringify(extra),
    failed_auth_count: 0,
    failed_auth_at: null,
    created_at: '',
  };
}

export function groupRow(c: LdapConfig, domainId: string, e: Entry): GroupRow | undefined {
  const id = entryId(e, c.group_id_attribute);
  const name = first(e, c.group_name_attribute);
  if (!id || !name) return undefined;
  return { id, domain_id: domainId, name, description: first(e, c.group_desc_attribute) ?? '', extra: '{}', created_at: '' };
}
