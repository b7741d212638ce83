import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, ADMIN_PASSWORD, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

describe('identity tokens', () => {
  it('issues a project-scoped admin token with the expanded roles and the catalog', async () => {
    c = await testCloud();
    const r = await c.login('admin', ADMIN_PASSWORD, 'admin');
    expect(r.status).toBe(201);
    expect(r.token).toMatch(/^[A-Za-z0-9_-]+$/);
    const t = r.body.token;
    expect(t.project).toMatchObject({ id: c.adminProjectId, name: 'admin', domain: { id: 'default', name: 'Default' } });
    expect(t.roles.map((x: any) => x.name).sort()).toEqual(['admin', 'member', 'reader']);
    expect(t.methods).toEqual(['password']);
    expect(t.audit_ids).toHaveLength(1);
    expect(t.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const types = t.catalog.map((s: any) => s.type).sort();
    expect(types).toEqual(['block-storage', 'compute', 'identity', 'image', 'network', 'volumev3']);
    const vol = t.catalog.find((s: any) => s.type === 'volumev3');
    expect(vol.endpoints.find((e: any) => e.interface === 'public').url).toBe(
      `http://cloud.test:8000/volume/v3/${c.adminProjectId}`,
    );
    const ident = t.catalog.find((s: any) => s.type === 'identity');
    expect(ident.endpoints.map((e: any) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
    expect(ident.endpoints[0]).toMatchObject({
      region_id: 'RegionOne',
      region: 'RegionOne',
      url: 'http://cloud.test:8000/identity/v3',
    });
  });

  it('validates, checks and revokes tokens (GET/HEAD/DELETE /v3/auth/tokens)', async () => {
    c = await testCloud();
    const v = await c.req('GET', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': c.adminToken });
    expect(v.status).toBe(200);
    expect(v.headers['x-subject-token']).toBe(c.adminToken);
    expect(v.body.token.user.name).toBe('admin');
    const nc = await c.req('GET', '/identity/v3/auth/tokens?nocatalog', c.adminToken, undefined, {
      'x-subject-token': c.adminToken,
    });
    expect(nc.body.token.catalog).toBeUndefined();
    expect((await c.req('HEAD', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': c.adminToken })).status).toBe(
      200,
    );
    const forged = await c.req('GET', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': 'gAAAAAforged12345' });
    expect(forged.status).toBe(404);
    expect(forged.body.error.code).toBe(404);
    const other = (await c.login('admin', ADMIN_PASSWORD, 'admin')).token;
    expect((await c.req('DELETE', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': other })).status).toBe(204);
    expect((await c.req('GET', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': other })).status).toBe(404);
    const un = await c.req('GET', '/v3/users', other);
    expect(un.status).toBe(401);
    expect(un.headers['www-authenticate']).toBe('Keystone uri="http://cloud.test:8000/identity"');
    // The admin's own token still works.
    expect((await c.req('GET', '/v3/users', c.adminToken)).status).toBe(200);
  });

  it('answers 401 with the same message for a wrong password and an unknown user', async () => {
    c = await testCloud();
    const a = await c.login('admin', 'wrong', 'admin');
    const b = await c.login('nobody', 'wrong', 'admin');
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.body).toEqual(b.body);
    const d = await c.login('admin', 'wrong', 'admin', 'NoSuchDomain');
    expect(d.status).toBe(401);
    expect(d.body).toEqual(a.body);
    expect(a.body.error.message).toBe('The request you have made requires authentication.');
  });

  it('rescopes with the token method, keeping expiry and chaining audit ids', async () => {
    c = await testCloud();
    const unscoped = await c.req('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
        },
        scope: 'unscoped',
      },
    });
    expect(unscoped.status).toBe(201);
    expect(unscoped.body.token.roles).toBeUndefined();
    expect(unscoped.body.token.catalog).toBeUndefined();
    const ut = String(unscoped.headers['x-subject-token']);
    const r = await c.req('POST', '/v3/auth/tokens?nocatalog=1', undefined, {
      auth: { identity: { methods: ['token'], token: { id: ut } }, scope: { project: { id: c.adminProjectId } } },
    });
    expect(r.status).toBe(201);
    expect(r.body.token.methods).toEqual(['password', 'token']);
    expect(r.body.token.audit_ids[1]).toBe(unscoped.body.token.audit_ids[0]);
    expect(r.body.token.expires_at).toBe(unscoped.body.token.expires_at);
    expect(r.body.token.catalog).toBeUndefined();
    const dom = await c.req('POST', '/v3/auth/tokens', undefined, {
      auth: { identity: { methods: ['token'], token: { id: ut } }, scope: { domain: { name: 'Default' } } },
    });
    expect(dom.status).toBe(401); // admin has no role on the domain
  });

  it('refuses expired tokens and keeps old keys valid across one rotation', async () => {
    c = await testCloud();
    const { rotateKeys } = await import('../cli/bootstrap.js');
    const svc = (c.app as any).homestack; // the app exposes auth only
    expect(svc.auth.validator.validate(c.adminToken).userName).toBe('admin');
    rotateKeys(c.config);
    await new Promise((r) => setTimeout(r, 1100)); // the key cache re-reads at most once a second
    expect(svc.auth.validator.validate(c.adminToken).userName).toBe('admin');
    const fresh = (await c.login('admin', ADMIN_PASSWORD, 'admin')).token;
    rotateKeys(c.config);
    rotateKeys(c.config);
    await new Promise((r) => setTimeout(r, 1100));
    expect(() => svc.auth.validator.validate(c.adminToken)).toThrow(/requires authentication/);
    expect(() => svc.auth.validator.validate(fresh)).toThrow(/requires authentication/);
    const newest = (await c.login('admin', ADMIN_PASSWORD, 'admin')).token;
    expect(svc.auth.validator.validate(newest).isAdmin).toBe(true);
  });

  it('issues domain-scoped tokens; their catalog leaves out per-project endpoints', async () => {
    c = await testCloud();
    const admin = (await c.req('GET', '/v3/roles?name=admin', c.adminToken)).body.roles[0];
    const un = await c.req('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: { methods: ['password'], password: { user: { id: c.adminUserId, password: ADMIN_PASSWORD } } },
        scope: 'unscoped',
      },
    });
    const ut = String(un.headers['x-subject-token']);
    expect((await c.req('GET', '/v3/auth/catalog', ut)).status).toBe(403);
    expect((await c.req('PUT', `/v3/domains/default/users/${c.adminUserId}/roles/${admin.id}`, c.adminToken)).status).toBe(204);
    expect(
      (await c.req('GET', `/v3/domains/default/users/${c.adminUserId}/roles`, c.adminToken)).body.roles.map((r: any) => r.name),
    ).toEqual(['admin']);
    const d = await c.req('POST', '/v3/auth/tokens', undefined, {
      auth: { identity: { methods: ['token'], token: { id: ut } }, scope: { domain: { id: 'default' } } },
    });
    expect(d.status).toBe(201);
    expect(d.body.token.domain).toEqual({ id: 'default', name: 'Default' });
    expect(d.body.token.project).toBeUndefined();
    const types = d.body.token.catalog
      .filter((s: any) => s.endpoints.length)
      .map((s: any) => s.type)
      .sort();
    expect(types).toEqual(['compute', 'identity', 'image', 'network']);
    const dt = String(d.headers['x-subject-token']);
    expect((await c.req('GET', '/v3/auth/domains', dt)).body.domains.map((x: any) => x.id)).toEqual(['default']);
    const ctx = (c.app as any).homestack.auth.validator.validate(dt);
    expect(ctx).toMatchObject({ domainId: 'default', domainName: 'Default', projectId: undefined, isAdmin: true });
    expect((await c.req('DELETE', `/v3/domains/default/users/${c.adminUserId}/roles/${admin.id}`, c.adminToken)).status).toBe(
      204,
    );
    expect((await c.req('HEAD', `/v3/domains/default/users/${c.adminUserId}/roles/${admin.id}`, c.adminToken)).status).toBe(404);
    expect(() => (c.app as any).homestack.auth.validator.validate(dt)).toThrow(/requires authentication/);
  });

  it('notices writes by another process (bootstrap changing the admin password)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openDb } = await import('../db/open.js');
    const { migrate } = await import('../db/migrate.js');
    const { bootstrap } = await import('../cli/bootstrap.js');
    const { buildApp } = await import('../app.js');
    const { Value } = await import('typebox/value');
    const { ControllerConfigSchema } = await import('../../shared/config/controller.js');
    const dir = mkdtempSync(join(tmpdir(), 'hs-identity-ext-'));
    const config = Value.Default(ControllerConfigSchema, { data_dir: dir, identity: { scrypt_log_n: 10 } }) as any;
    const db = openDb(join(dir, 'homestack.db'));
    migrate(db);
    await bootstrap(db, config, { adminPassword: 'one', publicUrl: 'http://h:1' });
    const app = await buildApp({ config, db, logger: false });
    try {
      const login = (pw: string) =>
        app.inject({
          method: 'POST',
          url: '/v3/auth/tokens',
          payload: {
            auth: {
              identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: pw } } },
            },
          },
        });
      const tok = String((await login('one')).headers['x-subject-token']);
      const validate = () => (app as any).homestack.auth.validator.validate(tok);
      expect(validate().userName).toBe('admin');
      const other = openDb(join(dir, 'homestack.db')); // the CLI's own connection
      await bootstrap(other, config, { adminPassword: 'two', publicUrl: 'http://h:1' });
      other.close();
      await new Promise((r) => setTimeout(r, 1100));
      expect(validate).toThrow(/requires authentication/);
      expect((await login('one')).statusCode).toBe(401);
      expect((await login('two')).statusCode).toBe(201);
    } finally {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a token past its expiry', async () => {
    c = await testCloud({ identity: { token_ttl_s: 60 } });
    const svc = (c.app as any).homestack;
    const real = Date.now;
    try {
      Date.now = () => real() + 61_000;
      expect(() => svc.auth.validator.validate(c.adminToken)).toThrow(/requires authentication/);
    } finally {
      Date.now = real;
    }
    expect(svc.auth.validator.validate(c.adminToken).userName).toBe('admin');
  });
});
