import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

describe('OS-EP-FILTER endpoint groups', () => {
  it('creates, shows, checks, updates, lists the endpoints of and deletes a group, for admins only', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const svc = (await c.req('POST', '/v3/services', t, { service: { type: 'eg-test', name: 'eg' } })).body.service;
    const ep = (
      await c.req('POST', '/v3/endpoints', t, { endpoint: { service_id: svc.id, interface: 'public', url: 'http://x.test/' } })
    ).body.endpoint;
    const root = '/v3/OS-EP-FILTER/endpoint_groups';
    const bad = await c.req('POST', root, t, { endpoint_group: { name: 'g', filters: { url: 'x' } } });
    expect(bad.status).toBe(400);
    const made = await c.req('POST', root, t, {
      endpoint_group: { name: 'g', description: 'd', filters: { service_id: svc.id } },
    });
    expect(made.status).toBe(201);
    const g = made.body.endpoint_group;
    expect(g).toMatchObject({ name: 'g', description: 'd', filters: { service_id: svc.id } });
    expect(g.links.self).toBe(`http://cloud.test:8000/v3/OS-EP-FILTER/endpoint_groups/${g.id}`);
    expect((await c.req('HEAD', `${root}/${g.id}`, t)).status).toBe(200);
    expect((await c.req('GET', root, t)).body.endpoint_groups).toEqual([g]);
    expect((await c.req('GET', `${root}/${g.id}/endpoints`, t)).body.endpoints.map((e: any) => e.id)).toEqual([ep.id]);
    const upd = await c.req('PATCH', `${root}/${g.id}`, t, {
      endpoint_group: { name: 'g2', filters: { interface: 'admin', service_id: svc.id } },
    });
    expect(upd.body.endpoint_group).toMatchObject({
      id: g.id,
      name: 'g2',
      description: 'd',
      filters: { interface: 'admin', service_id: svc.id },
    });
    expect((await c.req('GET', `${root}/${g.id}/endpoints`, t)).body.endpoints).toEqual([]);
    const p = (await c.req('POST', '/v3/projects', t, { project: { name: 'ep' } })).body.project;
    await c.req('POST', '/v3/users', t, { user: { name: 'eu', password: 'pw' } });
    const u = (await c.req('GET', '/v3/users?name=eu', t)).body.users[0];
    const r = (await c.req('GET', '/v3/roles?name=member', t)).body.roles[0];
    await c.req('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`, t);
    const m = await c.login('eu', 'pw', 'ep');
    expect((await c.req('GET', root, m.token)).status).toBe(403);
    expect((await c.req('DELETE', `${root}/${g.id}`, t)).status).toBe(204);
    expect((await c.req('GET', `${root}/${g.id}`, t)).body.error.message).toBe(`Could not find Endpoint Group: ${g.id}.`);
  });
});
