import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

/** A domain with a project and its child, a user with a password, a group holding the user, a role. */
async function tree(c: TestCloud) {
  const t = c.adminToken;
  const d = (await c.req('POST', '/v3/domains', t, { domain: { name: 'd1' } })).body.domain;
  const top = (await c.req('POST', '/v3/projects', t, { project: { name: 'top', domain_id: d.id } })).body.project;
  const leaf = (await c.req('POST', '/v3/projects', t, { project: { name: 'leaf', domain_id: d.id, parent_id: top.id } })).body
    .project;
  const u = (await c.req('POST', '/v3/users', t, { user: { name: 'iu', password: 'pw', domain_id: d.id } })).body.user;
  const g = (await c.req('POST', '/v3/groups', t, { group: { name: 'ig', domain_id: d.id } })).body.group;
  await c.req('PUT', `/v3/groups/${g.id}/users/${u.id}`, t);
  const r = (await c.req('GET', '/v3/roles?name=member', t)).body.roles[0];
  const eff = async (project: string) =>
    (await c.req('GET', `/v3/role_assignments?effective&user.id=${u.id}&scope.project.id=${project}`, t)).body.role_assignments;
  return { t, d, top, leaf, u, g, r, eff };
}

describe('OS-INHERIT, system grants and effective role assignments (Keystone v3)', () => {
  it('gives an inherited domain role to every project of the domain, not to the domain, until revoked', async () => {
    c = await testCloud();
    const { t, d, top, leaf, u, r, eff } = await tree(c);
    const url = `/v3/OS-INHERIT/domains/${d.id}/users/${u.id}/roles/${r.id}/inherited_to_projects`;
    expect((await c.req('PUT', url, t)).status).toBe(204);
    expect((await c.req('HEAD', url, t)).status).toBe(204);
    const listed = await c.req('GET', `/v3/OS-INHERIT/domains/${d.id}/users/${u.id}/roles/inherited_to_projects`, t);
    expect(listed.body.roles.map((x: any) => x.id)).toEqual([r.id]);
    // Not a grant on the domain itself.
    expect((await c.req('GET', `/v3/domains/${d.id}/users/${u.id}/roles/${r.id}`, t)).status).toBe(404);
    const e = await eff(leaf.id);
    expect(e.map((x: any) => [x.scope.project.id, x.role.id])).toContainEqual([leaf.id, r.id]);
    expect(e[0].links.assignment).toBe(`http://cloud.test:8000/v3${url.slice(3)}`);
    expect((await eff(top.id)).length).toBeGreaterThan(0);
    const plain = (await c.req('GET', `/v3/role_assignments?user.id=${u.id}`, t)).body.role_assignments;
    expect(plain).toEqual([expect.objectContaining({ scope: { domain: { id: d.id }, 'OS-INHERIT:inherited_to': 'projects' } })]);
    // The user can scope a token to a project below and sees those projects.
    const login = await c.login('iu', 'pw', 'leaf', 'd1');
    expect(login.status).toBe(201);
    expect(login.body.token.roles.map((x: any) => x.name)).toContain('member');
    const mine = await c.req('GET', `/v3/users/${u.id}/projects`, t);
    expect(mine.body.projects.map((p: any) => p.name)).toEqual(['leaf', 'top']);
    expect((await c.req('DELETE', url, t)).status).toBe(204);
    expect(await eff(leaf.id)).toEqual([]);
    expect(await eff(top.id)).toEqual([]);
    expect((await c.login('iu', 'pw', 'leaf', 'd1')).status).toBe(401);
  });

  it('gives an inherited project role to the subtree only, through a group too', async () => {
    c = await testCloud();
    const { t, top, leaf, u, g, r, eff } = await tree(c);
    const url = `/v3/OS-INHERIT/projects/${top.id}/groups/${g.id}/roles/${r.id}/inherited_to_projects`;
    expect((await c.req('PUT', url, t)).status).toBe(204);
    expect((await c.req('GET', url, t)).status).toBe(204);
    expect((await eff(leaf.id)).map((x: any) => x.user.id)).toContain(u.id);
    expect(await eff(top.id)).toEqual([]);
    expect((await c.req('GET', `/v3/role_assignments?scope.OS-INHERIT:inherited_to=projects`, t)).body.role_assignments).toEqual([
      expect.objectContaining({ group: { id: g.id }, scope: { project: { id: top.id }, 'OS-INHERIT:inherited_to': 'projects' } }),
    ]);
    expect((await c.req('DELETE', url, t)).status).toBe(204);
    expect((await c.req('GET', url, t)).status).toBe(404);
    expect(await eff(leaf.id)).toEqual([]);
  });

  it('grants roles on the system to users and groups and lists them with scope.system', async () => {
    c = await testCloud();
    const { t, u, g, r } = await tree(c);
    for (const [kind, id] of [
      ['users', u.id],
      ['groups', g.id],
    ]) {
      const url = `/v3/system/${kind}/${id}/roles/${r.id}`;
      expect((await c.req('HEAD', url, t)).status).toBe(404);
      expect((await c.req('PUT', url, t)).status).toBe(204);
      expect((await c.req('HEAD', url, t)).status).toBe(204);
      expect((await c.req('GET', `/v3/system/${kind}/${id}/roles`, t)).body.roles.map((x: any) => x.id)).toEqual([r.id]);
    }
    const sys = (await c.req('GET', '/v3/role_assignments?scope.system=all', t)).body.role_assignments;
    expect(sys.map((x: any) => x.scope)).toEqual([{ system: { all: true } }, { system: { all: true } }]);
    expect(sys[0].links.assignment).toBe(`http://cloud.test:8000/v3/system/users/${u.id}/roles/${r.id}`);
    expect((await c.req('DELETE', `/v3/system/users/${u.id}/roles/${r.id}`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/system/users/${u.id}/roles`, t)).body.roles).toEqual([]);
    const m = await c.login('iu', 'pw', undefined, 'd1');
    expect((await c.req('GET', `/v3/system/groups/${g.id}/roles`, m.token)).status).toBe(403);
  });

  it('leaves domain-specific roles out of effective lists, keeping the roles they imply', async () => {
    c = await testCloud();
    const { t, d, top, u, r, eff } = await tree(c);
    const dr = (await c.req('POST', '/v3/roles', t, { role: { name: 'dr', domain_id: d.id } })).body.role;
    await c.req('PUT', `/v3/projects/${top.id}/users/${u.id}/roles/${dr.id}`, t);
    expect(await eff(top.id)).toEqual([]);
    expect((await c.req('GET', `/v3/role_assignments?user.id=${u.id}`, t)).body.role_assignments).toHaveLength(1);
    await c.req('PUT', `/v3/roles/${dr.id}/implies/${r.id}`, t);
    const roles = (await eff(top.id)).map((x: any) => x.role.id);
    expect(roles).toContain(r.id); // member, and reader that member implies
    expect(roles).not.toContain(dr.id);
  });
});
