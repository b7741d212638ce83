import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { buildApp } from '../app.js';
import { bootstrap } from '../cli/bootstrap.js';
import { openContext } from '../cli/context.js';
import { ldapDoctorChecks } from '../cli/domain-commands.js';
import { migrate } from '../db/migrate.js';
import { openDb, type Db } from '../db/open.js';
import { parseLdapConfig } from '../../shared/config/identity-ldap.js';
import { BackendUnavailable } from './backend.js';
import { LdapDriver } from './ldap.driver.js';

/**
 * A domain whose users and groups come from a real OpenLDAP (Debian's slapd, started
 * here in a temp dir on 127.0.0.1, StartTLS with a throwaway CA): configured with the
 * built CLI (`homestack domain ldap set`, a separate process on the same database, so
 * the running controller must pick it up with no restart), then the Keystone v3 API
 * over HTTP: users and groups listed from the directory, the real `openstack` client
 * signing in as a directory user, group-based and direct role assignments, writes
 * refused with Keystone's 403, a wrong password 401, and slapd stopped: 503 for the
 * LDAP domain while the SQL domain keeps working.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist/controller/cli/main.js');
const SLAPD = '/usr/sbin/slapd';
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : !existsSync(SLAPD) || !existsSync('/usr/sbin/slappasswd')
      ? 'no slapd (apt-get install slapd)'
      : !existsSync('/usr/bin/openstack')
        ? 'no openstack client (apt-get install python3-openstackclient)'
        : !existsSync(CLI)
          ? 'no build (npm run build)'
          : '';
if (why) console.log(`LDAP identity system test: skipped: ${why}`);

const run = `l${randomBytes(3).toString('hex')}`;
const DOMAIN = `ldap-${run}`;
const BASE = 'dc=example,dc=org';
const ADMIN_PASSWORD = 'secret-admin';
const ALICE_PASSWORD = `alice-${run}`;
const BOB_PASSWORD = `bob-${run}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe', timeout: 30_000 }).toString();

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const free = await new Promise<boolean>((res) => {
      const s = createServer()
        .once('error', () => res(false))
        .listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (free) return port;
  }
}

async function waitForPort(port: number, proc: ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`slapd exited with ${proc.exitCode}`);
    const up = await new Promise<boolean>((res) => {
      const s = createConnection(port, '127.0.0.1')
        .once('connect', () => {
          s.destroy();
          res(true);
        })
        .once('error', () => res(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`slapd did not listen on ${port} within ${ms} ms`);
}

/** A CA and a server certificate for 127.0.0.1 (ECDSA P-256), as a directory's own PKI would give. */
function makePki(dir: string): void {
  const f = (n: string) => join(dir, n);
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  sh('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-subj',
    `/CN=ldap test CA ${run}`,
    '-days',
    '1',
    '-out',
    f('ca.pem'),
  ]);
  // Another CA, which a rogue directory's certificate would chain to.
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('other-ca.key')]);
  sh('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    f('other-ca.key'),
    '-subj',
    `/CN=other CA ${run}`,
    '-days',
    '1',
    '-out',
    f('other-ca.pem'),
  ]);
  sh('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('server.key')]);
  sh('openssl', ['req', '-new', '-key', f('server.key'), '-subj', '/CN=127.0.0.1', '-out', f('server.csr')]);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sh('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.pem'),
  ]);
}

function slapdConf(dir: string): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile ${dir}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile ${dir}/ca.pem
TLSCertificateFile ${dir}/server.pem
TLSCertificateKeyFile ${dir}/server.key
database mdb
maxsize 16777216
suffix "${BASE}"
rootdn "cn=admin,${BASE}"
rootpw ${sh('/usr/sbin/slappasswd', ['-s', 'not-used']).trim()}
directory ${dir}/db
access to attrs=userPassword by dn.exact="cn=reader,${BASE}" none by anonymous auth by * none
access to * by dn.exact="cn=reader,${BASE}" read by * none
`;
}

function ldif(readerPassword: string): string {
  const hash = (p: string) => sh('/usr/sbin/slappasswd', ['-s', p]).trim();
  return `dn: ${BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=reader,${BASE}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: ${hash(readerPassword)}

dn: ou=People,${BASE}
objectClass: organizationalUnit
ou: People

dn: ou=Groups,${BASE}
objectClass: organizationalUnit
ou: Groups

dn: uid=alice,ou=People,${BASE}
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
description: developer
userPassword: ${hash(ALICE_PASSWORD)}

dn: uid=bob,ou=People,${BASE}
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.org
userPassword: ${hash(BOB_PASSWORD)}

dn: cn=developers,ou=Groups,${BASE}
objectClass: groupOfNames
cn: developers
description: people who write code
member: uid=alice,ou=People,${BASE}

dn: cn=operators,ou=Groups,${BASE}
objectClass: groupOfNames
cn: operators
member: uid=bob,ou=People,${BASE}
member: uid=alice,ou=People,${BASE}
`;
}

describe.skipIf(Boolean(why))('LDAP identity backend against a real slapd', () => {
  let dir = '';
  let slapd: ChildProcess | undefined;
  let ldapPort = 0;
  let ldapsPort = 0;
  let app: FastifyInstance;
  let db: Db;
  let url = '';
  let ctlToml = '';
  let adminToken = '';
  let domainId = '';
  const users: Record<string, string> = {};
  const groups: Record<string, string> = {};
  let project = '';

  const api = async (method: string, path: string, token?: string, body?: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { 'x-auth-token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null, token: r.headers.get('x-subject-token') ?? '' };
  };
  const login = (name: string, password: string, project?: string) =>
    api('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: { methods: ['password'], password: { user: { name, domain: { name: DOMAIN }, password } } },
        ...(project ? { scope: { project: { name: project, domain: { name: 'Default' } } } } : {}),
      },
    });
  const doctor = async () => {
    const ctx = openContext(['--config', ctlToml]);
    try {
      return await ldapDoctorChecks(ctx);
    } finally {
      ctx.close();
    }
  };
  const cli = (...args: string[]) => sh(process.execPath, [CLI, ...args, '--config', ctlToml]);

  const startSlapd = async () => {
    const urls = `ldap://127.0.0.1:${ldapPort}/ ldaps://127.0.0.1:${ldapsPort}/`;
    slapd = spawn(SLAPD, ['-d', '0', '-f', join(dir, 'slapd.conf'), '-h', urls], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    slapd.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    await Promise.all([waitForPort(ldapPort, slapd, 15_000), waitForPort(ldapsPort, slapd, 15_000)]).catch((e: Error) => {
      throw new Error(`${e.message}: ${err}`);
    });
  };
  const stopSlapd = async () => {
    const p = slapd;
    slapd = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((res) => {
      p.once('exit', () => res());
      p.kill('SIGTERM');
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `hs-${run}-`));
    mkdirSync(join(dir, 'db'));
    makePki(dir);
    writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir));
    const readerPassword = randomBytes(12).toString('hex');
    writeFileSync(join(dir, 'reader.password'), `${readerPassword}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'data.ldif'), ldif(readerPassword));
    sh('/usr/sbin/slapadd', ['-f', join(dir, 'slapd.conf'), '-l', join(dir, 'data.ldif')]);
    ldapPort = await freePort();
    do ldapsPort = await freePort();
    while (ldapsPort === ldapPort);
    await startSlapd();

    const data = join(dir, 'controller');
    mkdirSync(data);
    ctlToml = join(dir, 'controller.toml');
    writeFileSync(ctlToml, `data_dir = "${data}"\n[identity]\nscrypt_log_n = 10\n`);
    const config = Value.Default(ControllerConfigSchema, {
      data_dir: data,
      identity: { scrypt_log_n: 10 },
    }) as ControllerConfig;
    db = openDb(join(data, 'homestack.db'));
    migrate(db);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await bootstrap(db, config, { adminPassword: ADMIN_PASSWORD, publicUrl: url });
    app = await buildApp({ config: { ...config, public_url: url }, db, logger: false });
    await app.listen({ host: '127.0.0.1', port });
    const admin = await api('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    });
    expect(admin.status).toBe(201);
    adminToken = admin.token;
  }, 120_000);

  afterAll(async () => {
    await stopSlapd();
    await app?.close();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('homestack domain ldap set creates the domain; check binds with StartTLS and the CA; the running API uses it', async () => {
    const out = cli(
      'domain',
      'ldap',
      'set',
      DOMAIN,
      '--create',
      '--url',
      `ldap://127.0.0.1:${ldapPort}`,
      '--use-tls',
      'true',
      '--tls-cacertfile',
      join(dir, 'ca.pem'),
      '--user',
      `cn=reader,${BASE}`,
      '--password-file',
      join(dir, 'reader.password'),
      '--suffix',
      BASE,
      '--user-tree-dn',
      `ou=People,${BASE}`,
      '--group-tree-dn',
      `ou=Groups,${BASE}`,
      '--user-id-attribute',
      'uid',
      '--user-name-attribute',
      'uid',
      '--group-id-attribute',
      'cn',
      '--group-name-attribute',
      'cn',
    );
    expect(out).toMatch(new RegExp(`^created domain ${DOMAIN} \\([0-9a-f]{32}\\)`));
    expect(out).not.toMatch(/warning/);
    expect(cli('domain', 'ldap', 'check', DOMAIN)).toMatch(
      /\(StartTLS, CA .*ca\.pem\), bound as cn=reader,dc=example,dc=org: 2 users, 2 groups/,
    );
    const list = JSON.parse(cli('domain', 'list', '--json')) as Array<{ name: string; backend: string; id: string }>;
    expect(list.find((d) => d.name === 'Default')?.backend).toBe('sql');
    const mine = list.find((d) => d.name === DOMAIN)!;
    expect(mine.backend).toBe('ldap');
    domainId = mine.id;
    expect(await doctor()).toEqual([
      expect.objectContaining({
        name: `ldap domain ${DOMAIN}`,
        status: 'ok',
        detail: expect.stringMatching(/: 2 users, 2 groups/),
      }),
    ]);
    const r = await api('GET', `/v3/domains?name=${DOMAIN}`, adminToken);
    expect(r.body.domains.map((d: { id: string }) => d.id)).toEqual([domainId]);
  });

  it('lists users and groups from the directory with public ids, and group members', async () => {
    const u = await api('GET', `/v3/users?domain_id=${domainId}`, adminToken);
    expect(u.status).toBe(200);
    expect(u.body.users.map((x: { name: string }) => x.name)).toEqual(['alice', 'bob']);
    for (const x of u.body.users) {
      expect(x.id).toMatch(/^[0-9a-f]{64}$/); // Keystone's sha256 public id, not the directory's uid
      expect(x.domain_id).toBe(domainId);
      expect(x.enabled).toBe(true);
      users[x.name] = x.id;
    }
    expect(u.body.users[0].email).toBe('alice@example.org');
    const one = await api('GET', `/v3/users/${users.alice}`, adminToken);
    expect(one.body.user).toMatchObject({ id: users.alice, name: 'alice', domain_id: domainId, description: 'developer' });
    const byName = await api('GET', `/v3/users?domain_id=${domainId}&name=bob`, adminToken);
    expect(byName.body.users.map((x: { id: string }) => x.id)).toEqual([users.bob]);

    const g = await api('GET', `/v3/groups?domain_id=${domainId}`, adminToken);
    expect(g.status).toBe(200);
    expect(g.body.groups.map((x: { name: string }) => x.name)).toEqual(['developers', 'operators']);
    for (const x of g.body.groups) groups[x.name] = x.id;
    expect(g.body.groups[0].description).toBe('people who write code');
    const members = await api('GET', `/v3/groups/${groups.operators}/users`, adminToken);
    expect(members.body.users.map((x: { name: string }) => x.name)).toEqual(['alice', 'bob']);
    const ofAlice = await api('GET', `/v3/users/${users.alice}/groups`, adminToken);
    expect(ofAlice.body.groups.map((x: { name: string }) => x.name)).toEqual(['developers', 'operators']);
    expect((await api('HEAD', `/v3/groups/${groups.developers}/users/${users.alice}`, adminToken)).status).toBe(204);
    expect((await api('HEAD', `/v3/groups/${groups.developers}/users/${users.bob}`, adminToken)).status).toBe(404);
    // The SQL domain is untouched: its users are the bootstrap's, none from the directory.
    const sql = await api('GET', '/v3/users?domain_id=default', adminToken);
    expect(sql.body.users.map((x: { name: string }) => x.name)).toContain('admin');
    expect(sql.body.users.map((x: { name: string }) => x.name)).not.toContain('alice');
  });

  it('a directory password signs in (bind as the user); a wrong one or an unknown user is 401', async () => {
    const ok = await login('alice', ALICE_PASSWORD);
    expect(ok.status).toBe(201);
    expect(ok.token).not.toBe('');
    expect(ok.body.token.user).toMatchObject({ id: users.alice, name: 'alice', domain: { id: domainId, name: DOMAIN } });
    const check = await fetch(`${url}/v3/auth/tokens`, { headers: { 'x-auth-token': adminToken, 'x-subject-token': ok.token } });
    expect(check.status).toBe(200);

    const wrong = await login('alice', BOB_PASSWORD);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe(401);
    expect(wrong.token).toBe('');
    expect((await login('alice', '')).status).toBe(401); // never an unauthenticated bind
    expect((await login('mallory', ALICE_PASSWORD)).status).toBe(401);
  });

  it('roles assigned in Homestack to a directory group and to a directory user scope their tokens', async () => {
    const roles = (await api('GET', '/v3/roles', adminToken)).body.roles as Array<{ id: string; name: string }>;
    const member = roles.find((r) => r.name === 'member')!.id;
    const reader = roles.find((r) => r.name === 'reader')!.id;
    const p = await api('POST', '/v3/projects', adminToken, { project: { name: `proj-${run}`, domain_id: 'default' } });
    expect(p.status).toBe(201);
    project = p.body.project.id as string;
    expect((await login('alice', ALICE_PASSWORD, `proj-${run}`)).status).toBe(401); // no role yet
    expect((await api('PUT', `/v3/projects/${project}/groups/${groups.developers}/roles/${member}`, adminToken)).status).toBe(
      204,
    );
    expect((await api('PUT', `/v3/projects/${project}/users/${users.bob}/roles/${reader}`, adminToken)).status).toBe(204);

    const alice = await login('alice', ALICE_PASSWORD, `proj-${run}`);
    expect(alice.status).toBe(201);
    expect(alice.body.token.project.id).toBe(project);
    expect(alice.body.token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
    const bob = await login('bob', BOB_PASSWORD, `proj-${run}`);
    expect(bob.status).toBe(201);
    expect(bob.body.token.roles.map((r: { name: string }) => r.name)).toEqual(['reader']);
    // The token works against the API: alice reads her own project.
    expect((await api('GET', `/v3/projects/${project}`, alice.token)).status).toBe(200);
    const eff = await api('GET', `/v3/role_assignments?effective&user.id=${users.alice}`, adminToken);
    expect(eff.status).toBe(200);
    expect(eff.body.role_assignments.some((a: any) => a.role.id === member && a.scope.project.id === project)).toBe(true);
  });

  it('the openstack client signs in as a directory user', async () => {
    // Asynchronous: the API answering it runs in this process.
    const out = await new Promise<string>((res, rej) => {
      const p = spawn('openstack', ['token', 'issue', '-f', 'json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          OS_AUTH_URL: `${url}/v3`,
          OS_IDENTITY_API_VERSION: '3',
          OS_USERNAME: 'alice',
          OS_USER_DOMAIN_NAME: DOMAIN,
          OS_PASSWORD: ALICE_PASSWORD,
          OS_PROJECT_NAME: `proj-${run}`,
          OS_PROJECT_DOMAIN_NAME: 'Default',
        },
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      p.on('error', rej);
      p.on('close', (code) => (code === 0 ? res(stdout) : rej(new Error(`openstack token issue: exit ${code}: ${stderr}`))));
    });
    const t = JSON.parse(out) as { id: string; user_id: string; project_id: string };
    expect(t.user_id).toBe(users.alice);
    expect(t.project_id).toBe(project);
    expect(t.id.length).toBeGreaterThan(20);
  }, 90_000);

  it("TLS: LDAPS and StartTLS with the directory's CA bind; a certificate that does not chain to the configured CA is refused", async () => {
    const driver = (o: Record<string, unknown>) =>
      new LdapDriver(
        parseLdapConfig({
          user: `cn=reader,${BASE}`,
          password_file: join(dir, 'reader.password'),
          suffix: BASE,
          user_tree_dn: `ou=People,${BASE}`,
          group_tree_dn: `ou=Groups,${BASE}`,
          connection_timeout: 3,
          ...o,
        }),
        { domainId: 'tls', domainName: 'tls' },
      );
    const ldaps = `ldaps://127.0.0.1:${ldapsPort}`;
    const starttls = `ldap://127.0.0.1:${ldapPort}`;
    expect(await driver({ url: ldaps, tls_cacertfile: join(dir, 'ca.pem') }).check()).toMatch(
      /\(LDAPS, CA .*: 2 users, 2 groups/,
    );
    for (const o of [
      { url: ldaps, tls_cacertfile: join(dir, 'other-ca.pem') },
      { url: starttls, use_tls: true, tls_cacertfile: join(dir, 'other-ca.pem') },
      { url: ldaps }, // the system CAs do not know the directory's
    ]) {
      const e = await driver(o)
        .check()
        .then(
          () => undefined,
          (x: unknown) => x,
        );
      expect(e, JSON.stringify(o)).toBeInstanceOf(BackendUnavailable);
      expect((e as BackendUnavailable).reason).toMatch(/certificate/i);
    }
  });

  it("writes to the directory domain are refused with Keystone's 403", async () => {
    const ro = 'LDAP does not support write operations';
    const expectRo = (r: { status: number; body: any }) => {
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 403, message: ro });
    };
    expectRo(await api('POST', '/v3/users', adminToken, { user: { name: 'carol', domain_id: domainId, password: 'x' } }));
    expectRo(await api('PATCH', `/v3/users/${users.bob}`, adminToken, { user: { email: 'b@x.org' } }));
    expectRo(await api('DELETE', `/v3/users/${users.bob}`, adminToken));
    expectRo(await api('POST', '/v3/groups', adminToken, { group: { name: 'new', domain_id: domainId } }));
    expectRo(await api('PATCH', `/v3/groups/${groups.operators}`, adminToken, { group: { description: 'x' } }));
    expectRo(await api('DELETE', `/v3/groups/${groups.operators}`, adminToken));
    expectRo(await api('PUT', `/v3/groups/${groups.developers}/users/${users.bob}`, adminToken));
    expectRo(await api('DELETE', `/v3/groups/${groups.developers}/users/${users.alice}`, adminToken));
    const alice = await login('alice', ALICE_PASSWORD);
    expectRo(
      await api('POST', `/v3/users/${users.alice}/password`, alice.token, {
        user: { original_password: ALICE_PASSWORD, password: 'new-password' },
      }),
    );
    // Nothing changed in the directory: bob is still there, alice still a developer, her password still works.
    expect((await api('GET', `/v3/users/${users.bob}`, adminToken)).status).toBe(200);
    expect((await api('HEAD', `/v3/groups/${groups.developers}/users/${users.alice}`, adminToken)).status).toBe(204);
    expect((await login('alice', ALICE_PASSWORD)).status).toBe(201);
  });

  it('the directory gone: 503 for the LDAP domain, the SQL domain keeps working; back again: answers again', async () => {
    await stopSlapd();
    const u = await api('GET', `/v3/users?domain_id=${domainId}`, adminToken);
    expect(u.status).toBe(503);
    expect(u.body.error.code).toBe(503);
    expect((await login('alice', ALICE_PASSWORD)).status).toBe(503);
    expect((await api('GET', '/v3/users?domain_id=default', adminToken)).status).toBe(200);
    expect(await doctor()).toEqual([expect.objectContaining({ name: `ldap domain ${DOMAIN}`, status: 'fail' })]);
    const admin = await api('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
        },
      },
    });
    expect(admin.status).toBe(201);
    await startSlapd();
    expect((await login('alice', ALICE_PASSWORD)).status).toBe(201);
  });
});
