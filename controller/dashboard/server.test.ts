import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, testCloud, type TestCloud } from '../identity/testing/kit.js';
import { hiddenValue, InjectBrowser } from './testing/session.js';

/**
 * The dashboard framework against the real controller: sign-in (login CSRF, HttpOnly
 * SameSite cookie, token never in the page), the security headers, CSRF on every POST,
 * the project switcher, sign-out revoking the token, admin pages hidden from members.
 */
let cloud: TestCloud;

let jar: () => InjectBrowser;
const go = (
  b: InjectBrowser,
  method: 'GET' | 'POST',
  url: string,
  form?: Record<string, string>,
  headers: Record<string, string> = {},
) => b.go(method, url, form, headers);
const hidden = hiddenValue;
async function signIn(user: string, password: string) {
  const b = jar();
  const r = await b.signIn(user, password);
  return { b, r };
}

beforeAll(async () => {
  cloud = await testCloud();
  jar = () => new InjectBrowser(cloud.app);
  const p = await cloud.req('POST', '/v3/projects', cloud.adminToken, { project: { name: 'tdash-p2', domain_id: 'default' } });
  const u = await cloud.req('POST', '/v3/users', cloud.adminToken, {
    user: { name: 'tdash-carol', password: 'carol-pw-1', domain_id: 'default' },
  });
  const roles = (await cloud.req('GET', '/v3/roles?name=member', cloud.adminToken)).body as any;
  await cloud.req(
    'PUT',
    `/v3/projects/${(p.body as any).project.id}/users/${(u.body as any).user.id}/roles/${roles.roles[0].id}`,
    cloud.adminToken,
  );
}, 60_000);
afterAll(async () => cloud?.close());

describe('dashboard sign-in and sessions', () => {
  it('serves the login page with the security headers and a login CSRF cookie', async () => {
    const b = jar();
    const r = await go(b, 'GET', '/dashboard/login');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(String(r.headers['set-cookie'])).toMatch(/HttpOnly/);
    expect(String(r.headers['set-cookie'])).toMatch(/SameSite=Strict/);
  });

  it('refuses a sign-in without the login CSRF token, and wrong passwords with 401', async () => {
    const b = jar();
    await go(b, 'GET', '/dashboard/login');
    expect(
      (await go(b, 'POST', '/dashboard/login', { _csrf: 'nope', domain: 'Default', username: 'admin', password: ADMIN_PASSWORD }))
        .statusCode,
    ).toBe(403);
    const { r } = await signIn('admin', 'wrong-password');
    expect(r.statusCode).toBe(401);
    expect(r.body).toContain('Invalid credentials.');
    expect(r.body).not.toContain('wrong-password');
  });

  it('signs in with an HttpOnly session cookie; the token never reaches the page', async () => {
    const { b, r } = await signIn('admin', ADMIN_PASSWORD);
    expect(r.statusCode).toBe(303);
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/hs_session=[^;]+;.*HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    const page = await go(b, 'GET', '/dashboard/project/networks');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Networks');
    expect(page.body).toContain('Admin');
    const tokens = (
      await cloud.req('GET', '/v3/auth/tokens', cloud.adminToken, undefined, { 'x-subject-token': cloud.adminToken })
    ).status;
    expect(tokens).toBe(200);
    expect(page.body).not.toMatch(/gAAAA|x-auth-token/i);
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('requires the CSRF token on every POST', async () => {
    const { b } = await signIn('admin', ADMIN_PASSWORD);
    const noToken = await go(b, 'POST', '/dashboard/project/networks', { _action: 'create', name: 'tdash-x' });
    expect(noToken.statusCode).toBe(403);
    const page = await go(b, 'GET', '/dashboard/project/networks');
    const ok = await go(b, 'POST', '/dashboard/project/networks', {
      _action: 'create',
      _csrf: hidden(page.body, '_csrf'),
      name: 'tdash-csrf',
      cidr: '10.91.0.0/24',
      enable_dhcp: 'on',
    });
    expect(ok.statusCode).toBe(303);
    const after = await go(b, 'GET', ok.headers.location as string);
    expect(after.body).toContain('tdash-csrf');
  });

  it('redirects to the login page without a session, and an unknown page is 404', async () => {
    const b = jar();
    const r = await go(b, 'GET', '/dashboard/project/networks');
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/dashboard/login');
    const { b: s } = await signIn('admin', ADMIN_PASSWORD);
    expect((await go(s, 'GET', '/dashboard/nope')).statusCode).toBe(404);
  });

  it('hides admin pages from a member and refuses them', async () => {
    const { b, r } = await signIn('tdash-carol', 'carol-pw-1');
    expect(r.statusCode).toBe(303);
    const page = await go(b, 'GET', '/dashboard/project/networks');
    expect(page.body).toContain('tdash-p2');
    expect(page.body).not.toContain('/dashboard/admin/');
    expect((await go(b, 'GET', '/dashboard/admin/hypervisors')).statusCode).toBe(403);
  });

  it('refuses a switch to a foreign project without leaving the dashboard, and signs out', async () => {
    const { b } = await signIn('admin', ADMIN_PASSWORD);
    const page = await go(b, 'GET', '/dashboard/project/networks');
    const csrf = hidden(page.body, '_csrf');
    const bad = await go(b, 'POST', '/dashboard/switch-project', {
      _csrf: csrf,
      project_id: 'not-a-project',
      next: 'https://evil.example/',
    });
    expect(bad.headers.location).toBe('/dashboard/');
    const out = await go(b, 'POST', '/dashboard/logout', { _csrf: csrf });
    expect(out.statusCode).toBe(303);
    expect((await go(b, 'GET', '/dashboard/project/networks')).headers.location).toBe('/dashboard/login');
  });

  it('serves its script and stylesheet', async () => {
    const r = await cloud.app.inject({ method: 'GET', url: '/dashboard/static/dashboard.js' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/javascript/);
  });
});
