import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

/**
 * Identity bodies against shared/api/identity.ts through the shared validation path:
 * what Keystone accepts passes, what it refuses is a 400 with Keystone's ValidationError
 * wording (keystone/common/validation/validators.py over jsonschema's messages).
 */
let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

const NOT_AN_OBJECT =
  'Expecting to find valid JSON object in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

describe('identity request schemas', () => {
  /** POSTs or PATCHes `body` and expects Keystone's 400 with exactly `message`. */
  const refused = async (method: string, url: string, body: unknown, message: string, token = c.adminToken) => {
    const r = await c.req(method, url, token, body);
    expect({ url, status: r.status, body: r.body }).toEqual({
      url,
      status: 400,
      body: { error: { code: 400, title: 'Bad Request', message } },
    });
  };

  it('domains and projects: Keystone names, tags, options and nullable fields', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const d = await c.req('POST', '/v3/domains', t, {
      domain: { name: 'tv-dom', description: null, options: { immutable: null } },
    });
    expect(d.status).toBe(201);
    expect(d.body.domain).toMatchObject({ name: 'tv-dom', description: '' });
    const did = d.body.domain.id;

    await refused('POST', '/v3/domains', { domain: {} }, "'name' is a required property");
    await refused('POST', '/v3/domains', {}, "'name' is a required property");
    await refused(
      'POST',
      '/v3/domains',
      { domain: { name: 'x'.repeat(65) } },
      `Invalid input for field 'name': '${'x'.repeat(65)}' is too long`,
    );
    await refused(
      'POST',
      '/v3/domains',
      { domain: { name: '   ' } },
      "Invalid input for field 'name': '   ' does not match '[\\\\S]+'",
    );
    await refused('POST', '/v3/domains', { domain: { name: 7 } }, "Invalid input for field 'name': 7 is not of type 'string'");
    await refused('PATCH', `/v3/domains/${did}`, { domain: {} }, '{} does not have enough properties');
    await refused(
      'PATCH',
      `/v3/domains/${did}`,
      { domain: { options: { colour: 'blue' } } },
      "Invalid input for field 'options': Additional properties are not allowed ('colour' was unexpected)",
    );
    await refused('POST', '/v3/domains', [{ name: 'a' }], NOT_AN_OBJECT);
    await refused('POST', '/v3/domains', { domain: null }, "None is not of type 'object'");

    const p = await c.req('POST', '/v3/projects', t, {
      project: { name: 'tv-proj', domain_id: did, tags: ['a', 'b'], colour: 'red' },
    });
    expect(p.status).toBe(201);
    expect(p.body.project).toMatchObject({ tags: ['a', 'b'], colour: 'red' }); // an extra attribute, as Keystone keeps it
    const pid = p.body.project.id;
    await refused(
      'PATCH',
      `/v3/projects/${pid}`,
      { project: { tags: ['a,b'] } },
      "Invalid input for field 'tags/0': 'a,b' does not match '^[^,/]*$'",
    );
    await refused(
      'PATCH',
      `/v3/projects/${pid}`,
      { project: { tags: ['a', 'a'] } },
      "Invalid input for field 'tags': ['a', 'a'] has non-unique elements",
    );
    await refused(
      'PATCH',
      `/v3/projects/${pid}`,
      { project: { tags: Array.from({ length: 81 }, (_, i) => `t${i}`) } },
      `Invalid input for field 'tags': [${Array.from({ length: 81 }, (_, i) => `'t${i}'`).join(', ')}] is too long`,
    );
    await refused(
      'PATCH',
      `/v3/projects/${pid}`,
      { project: { description: 5 } },
      "Invalid input for field 'description': 5 is not of type 'string', 'null'",
    );
    await refused(
      'PATCH',
      `/v3/projects/${pid}`,
      { project: { enabled: 'true' } },
      "Invalid input for field 'enabled': 'true' is not of type 'boolean'",
    );
    await refused(
      'POST',
      '/v3/projects',
      { project: { name: 'p', domain_id: 'a b' } },
      "Invalid input for field 'domain_id': 'a b' does not match '^[a-zA-Z0-9-]+$'",
    );
    const up = await c.req('PATCH', `/v3/projects/${pid}`, t, { project: { description: null, enabled: false } });
    expect(up.status).toBe(200);
    expect(up.body.project).toMatchObject({ description: '', enabled: false });
  });

  it('users, groups, password change and roles', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const u = await c.req('POST', '/v3/users', t, {
      user: { name: 'tv-user', password: null, email: 'a@b.c', options: { ignore_password_expiry: true } },
    });
    expect(u.status).toBe(201);
    expect(u.body.user).toMatchObject({ email: 'a@b.c', options: { ignore_password_expiry: true } });
    const uid = u.body.user.id;
    await refused(
      'POST',
      '/v3/users',
      { user: { name: 'u', enabled: 'yes' } },
      "Invalid input for field 'enabled': 'yes' is not of type 'boolean'",
    );
    await refused(
      'POST',
      '/v3/users',
      { user: { name: 'u', password: 12 } },
      "Invalid input for field 'password': 12 is not of type 'string', 'null'",
    );
    await refused(
      'POST',
      '/v3/users',
      { user: { name: 'u', options: { lock_password: 'no' } } },
      "Invalid input for field 'options/lock_password': 'no' is not of type 'boolean', 'null'",
    );
    await refused('PATCH', `/v3/users/${uid}`, { user: {} }, '{} does not have enough properties');
    // The user changes its own password (an unscoped token of its own).
    expect((await c.req('POST', '/v3/users', t, { user: { name: 'tv-self', password: 'old' } })).status).toBe(201);
    const self = await c.login('tv-self', 'old');
    const selfUrl = `/v3/users/${self.body.token.user.id}/password`;
    await refused('POST', selfUrl, { user: { password: 'n' } }, "'original_password' is a required property", self.token);
    await refused(
      'POST',
      selfUrl,
      { user: { password: 'n', original_password: 'old', otp: 1 } },
      "Additional properties are not allowed ('otp' was unexpected)",
      self.token,
    );
    expect((await c.req('POST', selfUrl, self.token, { user: { password: 'new', original_password: 'old' } })).status).toBe(204);

    const g = await c.req('POST', '/v3/groups', t, { group: { name: 'tv-grp', description: null } });
    expect(g.status).toBe(201);
    await refused('POST', '/v3/groups', { group: { description: 'd' } }, "'name' is a required property");
    await refused(
      'PATCH',
      `/v3/groups/${g.body.group.id}`,
      { group: { name: '' } },
      "Invalid input for field 'name': '' is too short",
    );

    const r = await c.req('POST', '/v3/roles', t, { role: { name: 'tv-role', description: null, options: {} } });
    expect(r.status).toBe(201);
    await refused(
      'PATCH',
      `/v3/roles/${r.body.role.id}`,
      { role: { options: { immutable: 'x' } } },
      "Invalid input for field 'options/immutable': 'x' is not of type 'boolean', 'null'",
    );
    await refused(
      'POST',
      '/v3/roles',
      { role: { name: 'r', domain_id: 5 } },
      "Invalid input for field 'domain_id': 5 is not of type 'string', 'null'",
    );
  });

  it('regions, services and endpoints', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const reg = await c.req('POST', '/v3/regions', t, { region: { id: 'tv-region', description: null } });
    expect(reg.status).toBe(201);
    await refused('PATCH', '/v3/regions/tv-region', { region: {} }, '{} does not have enough properties');
    await refused(
      'POST',
      '/v3/regions',
      { region: { parent_region_id: 3 } },
      "Invalid input for field 'parent_region_id': 3 is not of type 'string', 'null'",
    );

    const s = await c.req('POST', '/v3/services', t, { service: { type: 'tv-type' } });
    expect(s.status).toBe(201);
    expect(s.body.service).toMatchObject({ type: 'tv-type', enabled: true });
    await refused('POST', '/v3/services', { service: { name: 'n' } }, "'type' is a required property");
    await refused('POST', '/v3/services', { service: { type: '' } }, "Invalid input for field 'type': '' is too short");
    await refused(
      'PATCH',
      `/v3/services/${s.body.service.id}`,
      { service: { enabled: 1 } },
      "Invalid input for field 'enabled': 1 is not of type 'boolean'",
    );

    const sid = s.body.service.id;
    const e = await c.req('POST', '/v3/endpoints', t, {
      endpoint: { service_id: sid, interface: 'internal', url: 'http://h:1/v', region_id: null },
    });
    expect(e.status).toBe(201);
    expect(e.body.endpoint).toMatchObject({ interface: 'internal', region_id: null });
    await refused(
      'POST',
      '/v3/endpoints',
      { endpoint: { service_id: sid, interface: 'private', url: 'http://h/' } },
      "Invalid input for field 'interface': 'private' is not one of ['admin', 'internal', 'public']",
    );
    await refused(
      'POST',
      '/v3/endpoints',
      { endpoint: { service_id: sid, interface: 'public' } },
      "'url' is a required property",
    );
    await refused(
      'PATCH',
      `/v3/endpoints/${e.body.endpoint.id}`,
      { endpoint: { url: 'nope' } },
      "Invalid input for field 'url': 'nope' does not match '^[a-zA-Z0-9+.-]+:.+'",
    );
    const long = `http://h/${'a'.repeat(217)}`; // 226 characters: Keystone's url is at most 225
    await refused(
      'PATCH',
      `/v3/endpoints/${e.body.endpoint.id}`,
      { endpoint: { url: long } },
      `Invalid input for field 'url': '${long}' is too long`,
    );
  });

  it('application credentials: roles by id or name, an empty list delegates every role', async () => {
    c = await testCloud();
    const base = `/v3/users/${c.adminUserId}/application_credentials`;
    await refused(
      'POST',
      base,
      { application_credential: { name: 'a', roles: [{ id: 'x', name: 'y' }] } },
      "Invalid input for field 'roles/0': {'id': 'x', 'name': 'y'} has too many properties",
    );
    await refused(
      'POST',
      base,
      { application_credential: { name: 'a', roles: [{}] } },
      "Invalid input for field 'roles/0': {} does not have enough properties",
    );
    await refused(
      'POST',
      base,
      { application_credential: { name: 'a', unrestricted: 'no' } },
      "Invalid input for field 'unrestricted': 'no' is not of type 'boolean'",
    );
    await refused('POST', base, { application_credential: { secret: 's' } }, "'name' is a required property");
    const all = await c.req('POST', base, c.adminToken, { application_credential: { name: 'tv-all', roles: [], secret: null } });
    expect(all.status).toBe(201);
    expect(all.body.application_credential.roles.map((r: any) => r.name).sort()).toEqual(['admin', 'member', 'reader']);
    const one = await c.req('POST', base, c.adminToken, {
      application_credential: { name: 'tv-one', roles: [{ name: 'reader' }] },
    });
    expect(one.status).toBe(201);
    expect(one.body.application_credential.roles.map((r: any) => r.name)).toEqual(['reader']);
  });

  it('the auth request: Keystone token_issue schema and its id-or-name checks', async () => {
    c = await testCloud();
    const auth = async (body: unknown, message: string) => {
      const r = await c.req('POST', '/v3/auth/tokens', undefined, body);
      expect({ status: r.status, body: r.body }).toEqual({
        status: 400,
        body: { error: { code: 400, title: 'Bad Request', message } },
      });
    };
    await auth({ auth: {} }, "'identity' is a required property");
    await auth(
      { auth: { identity: { methods: 'password' } } },
      "Invalid input for field 'identity/methods': 'password' is not of type 'array'",
    );
    await auth(
      { auth: { identity: { methods: ['token'], token: {} } } },
      "Invalid input for field 'identity/token': 'id' is a required property",
    );
    await auth(
      { auth: { identity: { methods: ['password'], password: { user: { password: 'p' } } } } },
      'Invalid input for field identity/password/user: id or name must be present.',
    );
    await auth(
      { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', password: 'p', domain: {} } } } } },
      'Invalid input for field identity/password/user/domain: id or name must be present.',
    );
    const pw = { methods: ['password'], password: { user: { id: c.adminUserId, password: 'p' } } };
    await auth(
      { auth: { identity: pw, scope: { project: {} } } },
      'Invalid input for field scope/project: id or name must be present.',
    );
    await auth(
      { auth: { identity: pw, scope: { project: { name: 'admin', domain: {} } } } },
      'Invalid input for field scope/project/domain: id or name must be present.',
    );
    await auth(
      { auth: { identity: pw, scope: { domain: {} } } },
      'Invalid input for field scope/domain: id or name must be present.',
    );
    await auth({ auth: { identity: pw, scope: 5 } }, "Invalid input for field 'scope': 5 is not of type 'object', 'string'");
    // Well-formed: the credentials decide (401), and the unscoped and project-scoped forms work.
    expect((await c.req('POST', '/v3/auth/tokens', undefined, { auth: { identity: pw } })).status).toBe(401);
    expect((await c.login('admin', 'secret-admin')).status).toBe(201);
  });
});
