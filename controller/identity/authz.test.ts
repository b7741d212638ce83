import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

/** A project with a member user; returns ids and the user's token. */
async function member(c: TestCloud, role = 'member') {
  const t = c.adminToken;
  const p = (await c.req('POST', '/v3/projects', t, { project: { name: 'mp' } })).body.project;
  const u = (await c.req('POST', '/v3/users', t, { user: { name: 'mu', password: 'pw', default_project_id: p.id } })).body.user;
  const r = (await c.req('GET', `/v3/roles?name=${role}`, t)).body.roles[0];
  await c.req('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`, t);
  const login = await c.login('mu', 'pw', 'mp');
  return { p, u, token: login.token, body: login.body };
}

describe('identity authorization and revocation', () => {
  it('keeps members to their own things', async () => {
    c = await testCloud();
    const m = await member(c);
    expect(m.body.token.roles.map((r: any) => r.name)).toEqual(['member', 'reader']);
    const users = await c.req('GET', '/v3/users', m.token);
    expect(users.status).toBe(403);
    expect(users.body.error.message).toBe('You are not authorized to perform the requested action: identity:list_users.');
    expect((await c.req('POST', '/v3/projects', m.token, { project: { name: 'x' } })).status).toBe(403);
    expect((await c.req('GET', `/v3/users/${m.u.id}`, m.token)).status).toBe(200);
    expect((await c.req('GET', `/v3/users/${c.adminUserId}`, m.token)).status).toBe(403);
    expect((await c.req('GET', `/v3/projects/${m.p.id}`, m.token)).status).toBe(200);
    expect((await c.req('GET', `/v3/projects/${c.adminProjectId}`, m.token)).status).toBe(403);
    expect((await c.req('GET', `/v3/users/${m.u.id}/projects`, m.token)).body.projects.map((x: any) => x.name)).toEqual(['mp']);
    expect((await c.req('GET', '/v3/auth/projects', m.token)).body.projects.map((x: any) => x.name)).toEqual(['mp']);
    expect((await c.req('GET', '/v3/auth/domains', m.token)).body.domains).toEqual([]);
    // Members may validate their own tokens, not others'.
    expect((await c.req('GET', '/v3/auth/tokens', m.token, undefined, { 'x-subject-token': m.token })).status).toBe(200);
    expect((await c.req('GET', '/v3/auth/tokens', m.token, undefined, { 'x-subject-token': c.adminToken })).status).toBe(403);
    // Without a scope, the default project is used.
    const unscopedReq = await c.req('POST', '/v3/auth/tokens', undefined, {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'mu', domain: { id: 'default' }, password: 'pw' } } },
      },
    });
    expect(unscopedReq.body.token.project.id).toBe(m.p.id);
  });

  it('revokes every token of a user on disable and password change, and of a project on disable', async () => {
    c = await testCloud();
    const m = await member(c);
    const v = (tok: string) =>
      c.req('GET', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': tok }).then((r) => r.status);
    expect(await v(m.token)).toBe(200);
    await c.req('PATCH', `/v3/users/${m.u.id}`, c.adminToken, { user: { enabled: false } });
    expect((await c.login('mu', 'pw', 'mp')).status).toBe(401);
    await c.req('PATCH', `/v3/users/${m.u.id}`, c.adminToken, { user: { enabled: true } });
    expect(await v(m.token)).toBe(404); // re-enabling does not revive old tokens
    await new Promise((r) => setTimeout(r, 5));
    const t2 = (await c.login('mu', 'pw', 'mp')).token;
    expect(await v(t2)).toBe(200);

    // Own password change: wrong original → 401; then old tokens and password stop working.
    expect(
      (await c.req('POST', `/v3/users/${m.u.id}/password`, t2, { user: { original_password: 'bad', password: 'pw2' } })).status,
    ).toBe(401);
    expect(
      (await c.req('POST', `/v3/users/${m.u.id}/password`, t2, { user: { original_password: 'pw', password: 'pw2' } })).status,
    ).toBe(204);
    expect(await v(t2)).toBe(404);
    expect((await c.login('mu', 'pw', 'mp')).status).toBe(401);
    await new Promise((r) => setTimeout(r, 5));
    const t3 = (await c.login('mu', 'pw2', 'mp')).token;
    expect(await v(t3)).toBe(200);
    // Not policy-enforced (as Keystone): someone else's password needs its original; a wrong one is 401.
    expect(
      (await c.req('POST', `/v3/users/${c.adminUserId}/password`, t3, { user: { original_password: 'x', password: 'y' } }))
        .status,
    ).toBe(401);

    await c.req('PATCH', `/v3/projects/${m.p.id}`, c.adminToken, { project: { enabled: false } });
    expect(await v(t3)).toBe(404);
    expect((await c.login('mu', 'pw2', 'mp')).status).toBe(401);
    await c.req('PATCH', `/v3/projects/${m.p.id}`, c.adminToken, { project: { enabled: true } });
    expect(await v(t3)).toBe(404);
    await c.req('DELETE', `/v3/users/${m.u.id}`, c.adminToken);
    expect((await c.login('mu', 'pw2', 'mp')).status).toBe(401);
  });

  it('issues application credentials: secret once, hashed, role subset, expiry, restricted', async () => {
    c = await testCloud();
    const m = await member(c);
    const url = `/v3/users/${m.u.id}/application_credentials`;
    const r = await c.req('POST', url, m.token, {
      application_credential: { name: 'ac1', unrestricted: false, roles: [{ name: 'reader' }] },
    });
    expect(r.status).toBe(201);
    const ac = r.body.application_credential;
    expect(ac).toMatchObject({
      name: 'ac1',
      project_id: m.p.id,
      unrestricted: false,
      expires_at: null,
      roles: [{ name: 'reader' }],
    });
    expect(ac.secret.length).toBeGreaterThan(40);
    const stored = c.db.prepare('SELECT secret_hash FROM app_credentials WHERE id = ?').get(ac.id) as { secret_hash: string };
    expect(stored.secret_hash).toMatch(/^scrypt\$/);
    expect(stored.secret_hash).not.toContain(ac.secret);
    expect((await c.req('GET', `${url}/${ac.id}`, m.token)).body.application_credential.secret).toBeUndefined();
    expect(
      (await c.req('POST', url, m.token, { application_credential: { name: 'ac2', roles: [{ name: 'admin' }] } })).status,
    ).toBe(400);
    expect((await c.req('POST', url, m.token, { application_credential: { name: 'ac1' } })).status).toBe(409);
    expect(
      (await c.req('POST', url, m.token, { application_credential: { name: 'ac3', expires_at: '2001-01-01T00:00:00' } })).status,
    ).toBe(400);

    const auth = (secret: string) =>
      c.req('POST', '/v3/auth/tokens', undefined, {
        auth: { identity: { methods: ['application_credential'], application_credential: { id: ac.id, secret } } },
      });
    expect((await auth('wrong')).status).toBe(401);
    const tok = await auth(ac.secret);
    expect(tok.status).toBe(201);
    expect(tok.body.token).toMatchObject({
      methods: ['application_credential'],
      project: { id: m.p.id },
      application_credential: { id: ac.id, name: 'ac1', restricted: true },
    });
    expect(tok.body.token.roles.map((x: any) => x.name)).toEqual(['reader']);
    const act = String(tok.headers['x-subject-token']);
    // A restricted credential cannot make more credentials, nor be rescoped.
    expect((await c.req('POST', url, act, { application_credential: { name: 'ac4' } })).status).toBe(403);
    expect(
      (await c.req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: act } } } }))
        .status,
    ).toBe(403);
    // Deleting the credential invalidates its tokens.
    expect((await c.req('DELETE', `${url}/${ac.id}`, m.token)).status).toBe(204);
    expect((await c.req('GET', '/v3/auth/tokens', c.adminToken, undefined, { 'x-subject-token': act })).status).toBe(404);
    expect((await auth(ac.secret)).status).toBe(401);
  });

  it('locks a user out after too many failures when configured', async () => {
    c = await testCloud({ identity: { lockout_failures: 2, lockout_s: 60 } });
    await member(c);
    expect((await c.login('mu', 'x', 'mp')).status).toBe(401);
    expect((await c.login('mu', 'x', 'mp')).status).toBe(401);
    const locked = await c.login('mu', 'pw', 'mp');
    expect(locked.status).toBe(401);
    expect(locked.body.error.message).toBe('The request you have made requires authentication.');
  });

  it('upgrades a password hash made with other scrypt parameters at the next login', async () => {
    c = await testCloud();
    const m = await member(c);
    const { hashPassword } = await import('./passwords.js');
    c.db
      .prepare('UPDATE users SET password_hash = ? WHERE id = ?')
      .run(await hashPassword('pw', { N: 2 ** 11, r: 8, p: 1 }), m.u.id);
    expect((await c.login('mu', 'pw', 'mp')).status).toBe(201);
    await new Promise((r) => setTimeout(r, 200)); // the rehash runs in the background
    const h = c.db.prepare('SELECT password_hash FROM users WHERE id = ?').pluck().get(m.u.id) as string;
    expect(h.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect((await c.login('mu', 'pw', 'mp')).status).toBe(201);
  });

  it('gives other services a facade and a validator', async () => {
    c = await testCloud();
    const { auth, deps } = (c.app as any).homestack;
    const f = deps.facades.identity;
    const tok = f.serviceToken();
    const ctx = auth.validator.validate(tok);
    expect(ctx).toMatchObject({ userName: 'homestack-service', projectName: 'service', isAdmin: true });
    expect(f.projectExists(c.adminProjectId)).toBe(true);
    expect(f.projectName(c.adminProjectId)).toBe('admin');
    expect(f.projectExists('nope')).toBe(false);
    expect(() =>
      auth.policy.enforce('compute:servers:create', { ...ctx, roles: ['reader'], isAdmin: false }, { project_id: ctx.projectId }),
    ).toThrow(/compute:servers:create/);
  });
});
