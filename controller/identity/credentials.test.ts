import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from './testing/kit.js';

let c: TestCloud;
afterEach(async () => {
  await c?.close();
});

/** A project with a member user and the user's project token. */
async function member(c: TestCloud, name = 'mu') {
  const t = c.adminToken;
  const p = (await c.req('POST', '/v3/projects', t, { project: { name: `${name}-p` } })).body.project;
  const u = (await c.req('POST', '/v3/users', t, { user: { name, password: 'pw' } })).body.user;
  const r = (await c.req('GET', '/v3/roles?name=member', t)).body.roles[0];
  await c.req('PUT', `/v3/projects/${p.id}/users/${u.id}/roles/${r.id}`, t);
  return { p, u, token: (await c.login(name, 'pw', `${name}-p`)).token };
}

describe('credentials, OS-EC2, policies and project tags (Keystone v3)', () => {
  it('stores ec2 credentials under sha256(access), lets owners see only theirs, and checks blobs', async () => {
    c = await testCloud();
    const m = await member(c);
    const other = await member(c, 'ou');
    const blob = JSON.stringify({ access: 'AK1', secret: 'S1' });
    const made = await c.req('POST', '/v3/credentials', m.token, {
      credential: { user_id: m.u.id, project_id: m.p.id, type: 'ec2', blob },
    });
    expect(made.status).toBe(201);
    const id = createHash('sha256').update('AK1').digest('hex');
    expect(made.body.credential).toMatchObject({ id, user_id: m.u.id, project_id: m.p.id, type: 'ec2', blob });
    expect(made.body.credential.links.self).toBe(`http://cloud.test:8000/v3/credentials/${id}`);
    // The same access key again is a conflict; an ec2 blob without access or project is refused.
    const again = { credential: { user_id: m.u.id, project_id: m.p.id, type: 'ec2', blob } };
    expect((await c.req('POST', '/v3/credentials', m.token, again)).status).toBe(409);
    const noAccess = { credential: { user_id: m.u.id, project_id: m.p.id, type: 'ec2', blob: '{"secret":"x"}' } };
    expect((await c.req('POST', '/v3/credentials', m.token, noAccess)).body.error).toMatchObject({
      code: 400,
      message: expect.stringMatching(/^Expecting to find access in credential/),
    });
    const noProject = { credential: { user_id: m.u.id, type: 'ec2', blob } };
    expect((await c.req('POST', '/v3/credentials', m.token, noProject)).status).toBe(400);
    // Someone else's user id: 403; someone else's credential: 403; the list hides it.
    const forOther = { credential: { user_id: other.u.id, type: 'totp', blob: 'x' } };
    expect((await c.req('POST', '/v3/credentials', m.token, forOther)).status).toBe(403);
    expect((await c.req('GET', `/v3/credentials/${id}`, other.token)).status).toBe(403);
    expect((await c.req('GET', '/v3/credentials', other.token)).body.credentials).toEqual([]);
    expect((await c.req('GET', '/v3/credentials?type=ec2', c.adminToken)).body.credentials.map((x: any) => x.id)).toEqual([id]);
    // PATCH keeps the id; handing it to another user is the owner's to refuse.
    const blob2 = JSON.stringify({ access: 'AK2', secret: 'S2' });
    const upd = await c.req('PATCH', `/v3/credentials/${id}`, m.token, { credential: { blob: blob2 } });
    expect(upd.body.credential).toMatchObject({ id, blob: blob2 });
    expect((await c.req('PATCH', `/v3/credentials/${id}`, m.token, { credential: { user_id: other.u.id } })).status).toBe(403);
    const trust = JSON.stringify({ access: 'AK2', secret: 'S2', trust_id: 'abc' });
    expect((await c.req('PATCH', `/v3/credentials/${id}`, m.token, { credential: { blob: trust } })).status).toBe(403);
    expect((await c.req('DELETE', `/v3/credentials/${id}`, m.token)).status).toBe(204);
    expect((await c.req('GET', `/v3/credentials/${id}`, m.token)).body.error.message).toBe(`Could not find credential: ${id}.`);
  });

  it('serves OS-EC2 user credentials and drops them with their user', async () => {
    c = await testCloud();
    const m = await member(c);
    const url = `/v3/users/${m.u.id}/credentials/OS-EC2`;
    const made = await c.req('POST', url, m.token, { tenant_id: m.p.id });
    expect(made.status).toBe(201);
    const cred = made.body.credential;
    expect(cred).toMatchObject({ user_id: m.u.id, tenant_id: m.p.id, trust_id: null });
    expect(cred.access).toMatch(/^[0-9a-f]{32}$/);
    expect(cred.secret).toMatch(/^[0-9a-f]{32}$/);
    expect((await c.req('GET', `${url}/${cred.access}`, m.token)).body.credential).toEqual(cred);
    expect((await c.req('GET', url, m.token)).body.credentials.map((x: any) => x.access)).toEqual([cred.access]);
    // The v3 view of the same thing.
    const v3 = (await c.req('GET', `/v3/credentials/${createHash('sha256').update(cred.access).digest('hex')}`, m.token)).body;
    expect(JSON.parse(v3.credential.blob)).toEqual({ access: cred.access, secret: cred.secret, trust_id: null });
    expect((await c.req('POST', url, m.token, { tenant_id: 'nope' })).status).toBe(404);
    const other = await member(c, 'ou');
    expect((await c.req('GET', url, other.token)).status).toBe(403);
    expect((await c.req('DELETE', `${url}/${cred.access}`, m.token)).status).toBe(204);
    expect((await c.req('GET', `${url}/${cred.access}`, m.token)).status).toBe(404);
    await c.req('POST', url, m.token, { tenant_id: m.p.id });
    await c.req('DELETE', `/v3/users/${m.u.id}`, c.adminToken);
    expect((await c.req('GET', '/v3/credentials', c.adminToken)).body.credentials).toEqual([]);
  });

  it('keeps policy blobs for admins only', async () => {
    c = await testCloud();
    const m = await member(c);
    const t = c.adminToken;
    const p = (await c.req('POST', '/v3/policies', t, { policy: { blob: '{"a":1}', type: 'application/json', x: 1 } })).body
      .policy;
    expect(p).toMatchObject({ blob: '{"a":1}', type: 'application/json', x: 1 });
    const upd = await c.req('PATCH', `/v3/policies/${p.id}`, t, { policy: { type: 'text/plain' } });
    expect(upd.body.policy).toMatchObject({ id: p.id, blob: '{"a":1}', type: 'text/plain', x: 1 });
    expect((await c.req('GET', '/v3/policies?type=text/plain', t)).body.policies.map((x: any) => x.id)).toEqual([p.id]);
    expect((await c.req('GET', '/v3/policies', m.token)).status).toBe(403);
    expect((await c.req('POST', '/v3/policies', t, { policy: { blob: 'x' } })).body.error.message).toBe(
      "'type' is a required property",
    );
    expect((await c.req('DELETE', `/v3/policies/${p.id}`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/policies/${p.id}`, t)).status).toBe(404);
  });

  it('adds, checks, replaces and removes project tags one by one', async () => {
    c = await testCloud();
    const t = c.adminToken;
    const p = (await c.req('POST', '/v3/projects', t, { project: { name: 'tp', tags: ['a'] } })).body.project;
    const put = await c.req('PUT', `/v3/projects/${p.id}/tags/b`, t, {});
    expect(put.status).toBe(201);
    expect(put.headers.location).toBe(`http://cloud.test:8000/v3/projects/${p.id}/tags/b`);
    expect((await c.req('GET', `/v3/projects/${p.id}/tags/b`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/projects/${p.id}`, t)).body.project.tags).toEqual(['a', 'b']);
    expect((await c.req('PUT', `/v3/projects/${p.id}/tags/x,y`, t, {})).status).toBe(400);
    const all = await c.req('PUT', `/v3/projects/${p.id}/tags`, t, { tags: ['c', 'd'] });
    expect(all.body.tags).toEqual(['c', 'd']);
    expect((await c.req('GET', `/v3/projects/${p.id}/tags`, t)).body.tags).toEqual(['c', 'd']);
    expect((await c.req('DELETE', `/v3/projects/${p.id}/tags/c`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/projects/${p.id}/tags/c`, t)).body.error.message).toBe('Could not find project tag: c.');
    expect((await c.req('DELETE', `/v3/projects/${p.id}/tags`, t)).status).toBe(204);
    expect((await c.req('GET', `/v3/projects/${p.id}/tags`, t)).body.tags).toEqual([]);
  });

  it('lets anyone holding the original password change it, and refuses a user in an unknown domain with 404', async () => {
    c = await testCloud();
    const m = await member(c);
    const url = `/v3/users/${m.u.id}/password`;
    const wrong = { user: { original_password: 'bad', password: 'pw2' } };
    expect((await c.req('POST', url, c.adminToken, wrong)).status).toBe(401);
    expect((await c.req('POST', url, c.adminToken, { user: { original_password: 'pw', password: 'pw2' } })).status).toBe(204);
    expect((await c.login('mu', 'pw2', 'mu-p')).status).toBe(201);
    const u = await c.req('POST', '/v3/users', c.adminToken, { user: { name: 'x', domain_id: 'nowhere' } });
    expect(u.body.error).toMatchObject({ code: 404, message: 'Could not find domain: nowhere.' });
  });

  it('echoes application credential expiry with microseconds, as Keystone does', async () => {
    c = await testCloud();
    const m = await member(c);
    const url = `/v3/users/${m.u.id}/application_credentials`;
    const exp = '2099-12-07T10:48:35.042057';
    const ac = (await c.req('POST', url, m.token, { application_credential: { name: 'a', expires_at: exp } })).body;
    expect(ac.application_credential.expires_at).toBe(exp);
    expect((await c.req('GET', `${url}/${ac.application_credential.id}`, m.token)).body.application_credential.expires_at).toBe(
      exp,
    );
    const whole = await c.req('POST', url, m.token, {
      application_credential: { name: 'b', expires_at: '2099-01-01T00:00:00Z' },
    });
    expect(whole.body.application_credential.expires_at).toBe('2099-01-01T00:00:00');
    const secret = ac.application_credential.secret;
    const auth = {
      identity: { methods: ['application_credential'], application_credential: { id: ac.application_credential.id, secret } },
    };
    const tok = await c.req('POST', '/v3/auth/tokens', undefined, { auth });
    expect(tok.status).toBe(201);
    // The token ends no later than the credential (milliseconds, as tokens keep time).
    expect(tok.body.token.expires_at <= '2099-12-07T10:48:35.042000Z').toBe(true);
  });
});
