import { readFile } from 'node:fs/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Client, InvalidCredentialsError, NoSuchObjectError, type Entry as LdapEntry } from 'ldapts';
import { groupTreeDn, userTreeDn, type LdapConfig } from '../../shared/config/identity-ldap.js';
import { BackendUnavailable, type IdentityDriver } from './backend.js';
import type { GroupRow, UserRow } from './identity.repo.js';
import {
  andFilter,
  anyOf,
  entryId,
  esc,
  firstRdn,
  groupAttributes,
  groupRow,
  userAttributes,
  userRow,
  values,
  type Entry,
} from './ldap-entries.js';

/**
 * A domain's users and groups read from an LDAP directory (Keystone's read-only `ldap`
 * identity driver, with its option names). Every call opens its own connection (LDAPS,
 * or StartTLS when `use_tls`), binds as the configured service user, does its searches
 * and unbinds: no connection outlives a request, so nothing stale or half-upgraded is
 * ever reused, and a reconnect can never silently fall back to a plain or unbound
 * socket (the socket factories below refuse a second connection). Passwords are checked
 * by binding as the user on a fresh connection and are never stored. Never touches the
 * database (house style 3.7 rule 3).
 */
type Search = (base: string, filter: string, attributes: string[], scope?: 'base' | 'one' | 'sub') => Promise<Entry[]>;

const BATCH = 50;

/** Connection-level failures: the directory is unreachable or refused TLS. */
class ConnectFailed extends Error {}

export class LdapDriver implements IdentityDriver {
  readonly writable = false;
  readonly mapsIds = true;

  constructor(
    private readonly c: LdapConfig,
    private readonly ctx: { domainId: string; domainName: string },
  ) {}

  // Connections

  private async tlsOptions(host: string): Promise<ConnectionOptions> {
    const ca = this.c.tls_cacertfile ? await readFile(this.c.tls_cacertfile, 'utf8') : undefined;
    return { ca, host, servername: isIP(host) ? undefined : host, minVersion: 'TLSv1.2', rejectUnauthorized: true };
  }

  /**
   * Runs `fn` on a connection bound as `bind` (default: the service user), trying each
   * URL in turn until one connects. Throws BackendUnavailable when none does, or when
   * the service bind is refused; an InvalidCredentialsError of a user bind propagates.
   */
  private async session<T>(fn: (search: Search) => Promise<T>, bind?: { dn: string; password: string }): Promise<T> {
    const urls = this.c.url.split(',');
    let last: unknown;
    for (const url of urls) {
      const sockets: Socket[] = [];
      const deadline = setTimeout(
        () => {
          for (const s of sockets) s.destroy(new Error('LDAP session deadline passed'));
        },
        (this.c.connection_timeout + 3 * this.c.timeout) * 1000,
      );
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      let tls: ConnectionOptions | undefined;
      try {
        tls = url.startsWith('ldaps://') || this.c.use_tls ? await this.tlsOptions(host) : undefined;
      } catch (e) {
        clearTimeout(deadline);
        throw new BackendUnavailable(this.ctx.domainName, `tls_cacertfile: ${(e as Error).message}`);
      }
      let plainUsed = false;
      let secureUsed = false;
      const client = new Client({
        url,
        connectTimeout: this.c.connection_timeout * 1000,
        timeout: this.c.timeout * 1000,
        // Only for ldaps://: ldapts opens a TLS socket from the start whenever tlsOptions is
        // set, so StartTLS (which gets `tls` below) on an ldap:// URL must not pass it here.
        tlsOptions: url.startsWith('ldaps://') ? tls : undefined,
        // One connection per session, never a silent reconnect (which would be unbound,
        // and after StartTLS in clear text).
        createConnection: ((port: number, h: string) => {
          if (plainUsed) throw new Error('refusing to reconnect within an LDAP session');
          plainUsed = true;
          const s = netConnect(port, h);
          sockets.push(s);
          return s;
        }) as typeof netConnect,
        createSecureConnection: ((...args: unknown[]) => {
          if (secureUsed) throw new Error('refusing to reconnect within an LDAP session');
          secureUsed = true;
          const s = (tlsConnect as (...a: unknown[]) => TLSSocket)(...args);
          sockets.push(s);
          return s;
        }) as typeof tlsConnect,
      });
      try {
        try {
          if (this.c.use_tls) await client.startTLS(tls);
          if (bind) await client.bind(bind.dn, bind.password);
          else if (this.c.user) await client.bind(this.c.user, (await readFile(this.c.password_file, 'utf8')).trim());
        } catch (e) {
          if (bind && e instanceof InvalidCredentialsError) throw e;
          if (!bind && e instanceof InvalidCredentialsError)
            throw new BackendUnavailable(this.ctx.domainName, 'service bind refused');
          throw new ConnectFailed((e as Error).message);
        }
        return await fn(this.searcher(client));
      } catch (e) {
        if (e instanceof ConnectFailed) {
          last = e;
          continue;
        }
        if (e instanceof BackendUnavailable || e instanceof InvalidCredentialsError) throw e;
        throw new BackendUnavailable(this.ctx.domainName, `${url}: ${(e as Error).message}`);
      } finally {
        clearTimeout(deadline);
        await client.unbind().catch(() => {});
        for (const s of sockets) s.destroy();
      }
    }
    throw new BackendUnavailable(this.ctx.domainName, `${this.c.url}: ${(last as Error)?.message ?? 'no URL answered'}`);
  }

  private searcher(client: Client): Search {
    return async (base, filter, attributes, scope = this.c.query_scope) => {
      try {
        const r = await client.search(base, {
          scope,
          filter,
          attributes,
          derefAliases: 'never',
          timeLimit: this.c.timeout,
          paged: this.c.page_size ? { pageSize: this.c.page_size } : false,
        });
        return r.searchEntries as LdapEntry[] as Entry[];
      } catch (e) {
        // A base that does not exist holds nothing (Keystone answers an empty list too).
        if (e instanceof NoSuchObjectError) return [];
        throw e;
      }
    };
  }

  // Users

  private async userEntries(search: Search, cond: string): Promise<Array<{ row: UserRow; dn: string }>> {
    const c = this.c;
    const entries = await search(userTreeDn(c), andFilter(c.user_objectclass, c.user_filter, cond), userAttributes(c));
    return entries.flatMap((e) => {
      const row = userRow(c, this.ctx.domainId, e);
      return row ? [{ row, dn: e.dn }] : [];
    });
  }

  private async userById(search: Search, id: string) {
    return (await this.userEntries(search, anyOf(this.c.user_id_attribute, [id])))[0];
  }

  async getUser(id: string) {
    return this.session(async (s) => (await this.userById(s, id))?.row);
  }

  async userByName(_domainId: string, name: string) {
    return this.session(async (s) => {
      const found = await this.userEntries(s, anyOf(this.c.user_name_attribute, [name]));
      return found.length === 1 ? found[0]!.row : undefined; // ambiguous names match nobody
    });
  }

  async listUsers(f: { name?: string }) {
    return this.session(async (s) => {
      const cond = f.name !== undefined ? anyOf(this.c.user_name_attribute, [f.name]) : '';
      return (await this.userEntries(s, cond)).map((u) => u.row).sort(byName);
    });
  }

  async authenticate(userId: string, password: string): Promise<boolean> {
    // An empty password would be an unauthenticated bind, which many servers accept.
    if (!password) return false;
    const user = await this.session((s) => this.userById(s, userId));
    if (!user) return false;
    try {
      return await this.session(async () => true, { dn: user.dn, password });
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return false;
      throw e;
    }
  }

  // Groups

  private async groupEntries(search: Search, cond: string): Promise<Array<{ row: GroupRow; members: string[] }>> {
    const c = this.c;
    const entries = await search(groupTreeDn(c), andFilter(c.group_objectclass, c.group_filter, cond), groupAttributes(c));
    return entries.flatMap((e) => {
      const row = groupRow(c, this.ctx.domainId, e);
      return row ? [{ row, members: values(e, c.group_member_attribute) }] : [];
    });
  }

  async getGroup(id: string) {
    return this.session(async (s) => (await this.groupEntries(s, anyOf(this.c.group_id_attribute, [id])))[0]?.row);
  }

  async listGroups(f: { name?: string }) {
    return this.session(async (s) => {
      const cond = f.name !== undefined ? anyOf(this.c.group_name_attribute, [f.name]) : '';
      return (await this.groupEntries(s, cond)).map((g) => g.row).sort(byName);
    });
  }

  async groupsOfUser(userId: string) {
    return this.session(async (s) => {
      const user = await this.userById(s, userId);
      if (!user) return [];
      const member = this.c.group_members_are_ids ? user.row.id : user.dn;
      return (await this.groupEntries(s, `(${this.c.group_member_attribute}=${esc(member)})`)).map((g) => g.row).sort(byName);
    });
  }

  async usersOfGroup(groupId: string) {
    return this.session(async (s) => {
      const group = (await this.groupEntries(s, anyOf(this.c.group_id_attribute, [groupId])))[0];
      if (!group) return [];
      const ids = new Set<string>();
      for (const m of group.members) {
        const id = this.c.group_members_are_ids ? m : await this.dnToId(s, m);
        if (id) ids.add(id);
      }
      const out: UserRow[] = [];
      const all = [...ids];
      for (let i = 0; i < all.length; i += BATCH) {
        // Members outside the user tree or filter are not users of this domain (ignored, as Keystone).
        out.push(...(await this.userEntries(s, anyOf(this.c.user_id_attribute, all.slice(i, i + BATCH)))).map((u) => u.row));
      }
      return out.sort(byName);
    });
  }

  /** A member DN's user id: its RDN value when that is the id attribute, else read from the entry. */
  private async dnToId(search: Search, dn: string): Promise<string | undefined> {
    const rdn = firstRdn(dn);
    if (rdn && rdn[0].toLowerCase() === this.c.user_id_attribute.toLowerCase()) return rdn[1];
    const [e] = await search(dn, '(objectClass=*)', [this.c.user_id_attribute], 'base');
    return e ? entryId(e, this.c.user_id_attribute) : undefined;
  }

  async check(): Promise<string> {
    const t0 = Date.now();
    const [users, groups] = await this.session(async (s) => {
      const c = this.c;
      const u = await s(userTreeDn(c), andFilter(c.user_objectclass, c.user_filter), ['1.1']);
      const g = await s(groupTreeDn(c), andFilter(c.group_objectclass, c.group_filter), ['1.1']);
      return [u.length, g.length];
    });
    const tls = this.c.url.startsWith('ldaps://') ? 'LDAPS' : this.c.use_tls ? 'StartTLS' : 'no TLS';
    const ca = this.c.tls_cacertfile ? `, CA ${this.c.tls_cacertfile}` : '';
    const who = this.c.user ? `bound as ${this.c.user}` : 'anonymous';
    return `${this.c.url} (${tls}${ca}), ${who}: ${users} users, ${groups} groups in ${Date.now() - t0} ms`;
  }
}

const byName = <T extends { name: string; id: string }>(a: T, b: T) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
