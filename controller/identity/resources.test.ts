import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

describe('identity resources', () => {
  it('creates, finds, updates and deletes domains, projects, users and groups', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const d = await c.req('POST', '/v3/domains', t, { domain: { name: 'trun-dom', enabled: true, options: {} } });
    expect(d.status).toBe(201);
    expect(d.body.domain).toMatchObject({ name: 'trun-dom', enabled: true, tags: [], options: {} });
    expect(d.body.domain.links.self).toBe(`http://cloud.test:8000/v3/domains/${d.body.domain.id}`);
    const did = d.body.domain.id;
    const p = await c.req('POST', '/identity/v3/projects', t, {
      project: { name: 'trun-proj', domain_id: did, description: 'd', enabled: true, options: {}, tags: [] },
    });
    expect(p.status).toBe(201);
    expect(p.body.project).toMatchObject({ domain_id: did, parent_id: did, is_domain: false, description: 'd' });
    expect(p.body.project.links.self).toMatch(/^http:\/\/cloud\.test:8000\/identity\/v3\/projects\//);
    const pid = p.body.project.id;
    // Find by name: GET by name is a 404 with Keystone's message, then ?name= matches exactly.
    const byName = await c.req('GET', '/v3/projects/trun-proj', t);
    expect(byName.status).toBe(404);
    expect(byName.body).toEqual({ error: { code: 404, message: 'Could not find project: trun-proj.', title: 'Not Found' } });
    const list = await c.req('GET', '/v3/projects?name=trun-proj', t);
    expect(list.body.projects.map((x: any) => x.id)).toEqual([pid]);
    expect(list.body.links).toEqual({ self: 'http://cloud.test:8000/v3/projects?name=trun-proj', previous: null, next: null });
    expect((await c.req('GET', '/v3/projects?name=trun', t)).body.projects).toEqual([]);

    const u = await c.req('POST', '/v3/users', t, {
      user: {
        name: 'trun-user',
        domain_id: did,
        password: 'pw1',
        default_project_id: pid,
        email: 'x@y.z',
        enabled: true,
        options: {},
      },
    });
    expect(u.status).toBe(201);
    expect(u.body.user).toMatchObject({
      name: 'trun-user',
      domain_id: did,
      default_project_id: pid,
      email: 'x@y.z',
      password_expires_at: null,
    });
    expect(u.body.user.password).toBeUndefined();
    const uid = u.body.user.id;
    const dupe = await c.req('POST', '/v3/users', t, { user: { name: 'trun-user', domain_id: did } });
    expect(dupe.status).toBe(409);
    expect((await c.req('POST', '/v3/users', t, { user: { name: 'trun-user' } })).status).toBe(201); // another domain

    const g = await c.req('POST', '/v3/groups', t, { group: { name: 'trun-grp', domain_id: did } });
    expect(g.status).toBe(201);
    const gid = g.body.group.id;
    expect((await c.req('PUT', `/v3/groups/${gid}/users/${uid}`, t)).status).toBe(204);
    expect((await c.req('HEAD', `/v3/groups/${gid}/users/${uid}`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/groups/${gid}/users`, t)).body.users.map((x: any) => x.id)).toEqual([uid]);
    expect((await c.req('GET', `/v3/users/${uid}/groups`, t)).body.groups.map((x: any) => x.id)).toEqual([gid]);

    const up = await c.req('PATCH', `/v3/projects/${pid}`, t, { project: { description: 'new', tags: ['a'] } });
    expect(up.body.project).toMatchObject({ description: 'new', tags: ['a'] });
    expect((await c.req('PATCH', `/v3/projects/${pid}`, t, { project: { domain_id: 'default' } })).status).toBe(400);

    // A domain must be disabled before it is deleted; deleting it removes what it holds.
    const del = await c.req('DELETE', `/v3/domains/${did}`, t);
    expect(del.status).toBe(403);
    expect(del.body.error.message).toMatch(/disable it first/);
    expect((await c.req('PATCH', `/v3/domains/${did}`, t, { domain: { enabled: false } })).status).toBe(200);
    expect((await c.req('DELETE', `/v3/domains/${did}`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/users/${uid}`, t)).status).toBe(404);
    expect((await c.req('GET', `/v3/projects/${pid}`, t)).status).toBe(404);
    expect((await c.req('GET', `/v3/groups/${gid}`, t)).status).toBe(404);
  });

  it('refuses bad input with 400s naming the field', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const malformed = await c.req('POST', '/v3/projects', t, '{"project": {', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/Malformed request body/);
    // Keystone's schema caps project and domain names at 64 characters (users and groups at 255).
    const long = await c.req('POST', '/v3/projects', t, { project: { name: 'x'.repeat(65) } });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toBe(`Invalid input for field 'name': '${'x'.repeat(65)}' is too long`);
    expect((await c.req('POST', '/v3/projects', t, { project: { name: 'x'.repeat(64) } })).status).toBe(201);
    expect((await c.req('POST', '/v3/projects', t, { project: {} })).body.error.message).toMatch(/'name' is a required property/);
    expect((await c.req('POST', '/v3/projects', t, { name: 'x' })).status).toBe(400);
    expect((await c.req('POST', '/v3/users', t, { user: { name: 'u', enabled: 'yes' } })).body.error.message).toMatch(
      /field 'enabled'/,
    );
    expect((await c.req('POST', '/v3/users', t, { user: { name: 'u', domain_id: 'nope' } })).status).toBe(404); // Keystone: DomainNotFound
    expect(
      (await c.req('POST', '/v3/endpoints', t, { endpoint: { service_id: 'x', interface: 'public', url: 'http://a' } })).status,
    ).toBe(400);
    const auth = await c.req('POST', '/v3/auth/tokens', undefined, '{"auth":', { 'content-type': 'application/json' });
    expect(auth.status).toBe(400);
    expect(JSON.stringify(auth.body)).not.toMatch(/at .*\.js/); // no stack traces
    expect((await c.req('POST', '/v3/auth/tokens', undefined, { auth: {} })).status).toBe(400);
  });

  it('keeps the bootstrap roles immutable and expands implied roles in effective assignments', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const roles = (await c.req('GET', '/v3/roles', t)).body.roles;
    const byName = Object.fromEntries(roles.map((r: any) => [r.name, r]));
    expect(byName.admin.options).toEqual({ immutable: true });
    expect((await c.req('DELETE', `/v3/roles/${byName.admin.id}`, t)).status).toBe(403);
    expect((await c.req('POST', '/v3/roles', t, { role: { name: 'member' } })).status).toBe(409);
    const imp = await c.req('GET', `/v3/roles/${byName.admin.id}/implies`, t);
    expect(imp.body.role_inference.implies.map((r: any) => r.name)).toEqual(['member']);
    expect((await c.req('PUT', `/v3/roles/${byName.reader.id}/implies/${byName.admin.id}`, t)).status).toBe(403);
    const inf = await c.req('GET', '/v3/role_inferences', t);
    expect(inf.body.role_inferences).toHaveLength(2);

    const direct = await c.req(
      'GET',
      `/v3/role_assignments?user.id=${c.adminUserId}&scope.project.id=${c.adminProjectId}&include_names=True`,
      t,
    );
    expect(direct.body.role_assignments).toHaveLength(1);
    expect(direct.body.role_assignments[0]).toMatchObject({
      role: { name: 'admin' },
      user: { name: 'admin', domain: { id: 'default', name: 'Default' } },
      scope: { project: { id: c.adminProjectId, name: 'admin', domain: { name: 'Default' } } },
    });
    const eff = await c.req('GET', `/v3/role_assignments?user.id=${c.adminUserId}&effective`, t);
    expect(eff.body.role_assignments.map((a: any) => a.role.id).sort()).toEqual(
      [byName.admin.id, byName.member.id, byName.reader.id].sort(),
    );
    expect(eff.body.role_assignments.find((a: any) => a.role.id === byName.reader.id).links.prior_role).toMatch(/roles\//);
  });

  it('lets group members act through the group, effective assignments show them', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const p = (await c.req('POST', '/v3/projects', t, { project: { name: 'gp' } })).body.project;
    const u = (await c.req('POST', '/v3/users', t, { user: { name: 'gu', password: 'pw' } })).body.user;
    const g = (await c.req('POST', '/v3/groups', t, { group: { name: 'gg' } })).body.group;
    const reader = (await c.req('GET', '/v3/roles?name=reader', t)).body.roles[0];
    expect((await c.login('gu', 'pw', 'gp')).status).toBe(401);
    expect((await c.req('PUT', `/v3/projects/${p.id}/groups/${g.id}/roles/${reader.id}`, t)).status).toBe(204);
    expect((await c.req('PUT', `/v3/groups/${g.id}/users/${u.id}`, t)).status).toBe(204);
    const login = await c.login('gu', 'pw', 'gp');
    expect(login.status).toBe(201);
    expect(login.body.token.roles.map((r: any) => r.name)).toEqual(['reader']);
    const eff = await c.req('GET', `/v3/role_assignments?effective&scope.project.id=${p.id}`, t);
    expect(eff.body.role_assignments).toEqual([
      expect.objectContaining({
        user: { id: u.id },
        links: expect.objectContaining({ membership: expect.stringContaining(`/groups/${g.id}/users/${u.id}`) }),
      }),
    ]);
    // Removing the user from the group invalidates the token (no role left on the project).
    expect((await c.req('DELETE', `/v3/groups/${g.id}/users/${u.id}`, t)).status).toBe(204);
    expect((await c.req('GET', '/v3/auth/tokens', t, undefined, { 'x-subject-token': login.token })).status).toBe(404);
  });

  it('registers services and endpoints with the legacy region key', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const s = (await c.req('POST', '/v3/services', t, { service: { name: 'tsvc', type: 'ttype', enabled: true } })).body.service;
    const e = await c.req('POST', '/v3/endpoints', t, {
      endpoint: { service_id: s.id, interface: 'public', url: 'http://127.0.0.1:1/x', region: 'RegionTwo', enabled: true },
    });
    expect(e.status).toBe(201);
    expect(e.body.endpoint).toMatchObject({ region_id: 'RegionTwo', region: 'RegionTwo', interface: 'public', service_id: s.id });
    expect((await c.req('GET', '/v3/regions/RegionTwo', t)).status).toBe(200);
    expect((await c.req('GET', `/v3/endpoints?service_id=${s.id}`, t)).body.endpoints).toHaveLength(1);
    expect(
      (await c.req('POST', '/v3/endpoints', t, { endpoint: { service_id: s.id, interface: 'private', url: 'http://a/' } }))
        .status,
    ).toBe(400);
    const cat = await c.req('GET', '/v3/auth/catalog', t);
    expect(cat.body.catalog.find((x: any) => x.type === 'ttype').endpoints[0].url).toBe('http://127.0.0.1:1/x');
    expect((await c.req('DELETE', `/v3/services/${s.id}`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/endpoints/${e.body.endpoint.id}`, t)).status).toBe(404);
  });
});
