import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, testCloud, type TestCloud } from '../../identity/testing/kit.js';
import { XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { hiddenValue, InjectBrowser } from '../testing/session.js';

/**
 * The network, volume and admin pages served by the framework (sign-in, CSRF, layout,
 * Post/Redirect/Get) against the real controller, over inject: what a browser does.
 */
let cloud: TestCloud;
let admin: InjectBrowser;

beforeAll(async () => {
  cloud = await testCloud();
  admin = new InjectBrowser(cloud.app);
  expect((await admin.signIn('admin', ADMIN_PASSWORD)).statusCode).toBe(303);
}, 60_000);
afterAll(async () => cloud?.close());

const PAGES = [
  '/project/networks',
  '/project/network-topology',
  '/project/routers',
  '/project/floating-ips',
  '/project/security-groups',
  '/project/volumes',
  '/project/volume-snapshots',
  '/admin/hypervisors',
  '/admin/services',
  '/admin/instances',
  '/admin/flavors',
  '/identity/projects',
  '/identity/users',
];

describe('network, volume and admin pages through the framework', () => {
  it.each(PAGES)('%s renders for an admin with nothing failing to load', async (path) => {
    const r = await admin.go('GET', `/dashboard${path}`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('<h1>');
    expect(r.body).not.toContain('Could not load');
    expect(r.body).not.toContain('class="flash error"');
  });

  it('creates a network with a subnet from the form and shows it in the topology picture', async () => {
    const page = await admin.go('GET', '/dashboard/project/networks');
    const csrf = hiddenValue(page.body, '_csrf');
    const r = await admin.go('POST', '/dashboard/project/networks', {
      _action: 'create',
      _csrf: csrf,
      name: XSS,
      cidr: '10.66.0.0/24',
      enable_dhcp: 'on',
      gateway_ip: '',
      dns: '',
    });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toMatch(/^\/dashboard\/project\/networks/);
    const list = await admin.go('GET', r.headers.location as string);
    expect(list.body).toContain('created with its subnet');
    expect(list.body).toContain(XSS_ESCAPED);
    expect(list.body).not.toContain(XSS);
    const topo = await admin.go('GET', '/dashboard/project/network-topology');
    expect(topo.body).toContain('<svg');
    expect(topo.body).toContain(XSS_ESCAPED);
    expect(topo.body).toContain('10.66.0.0/24');
    expect(topo.body).not.toContain(XSS);
  });

  it('shows a refused action as an error message and creates nothing', async () => {
    const page = await admin.go('GET', '/dashboard/project/networks');
    const r = await admin.go('POST', '/dashboard/project/networks', {
      _action: 'create',
      _csrf: hiddenValue(page.body, '_csrf'),
      name: 'tdash-bad',
      cidr: '10.67.0.0/33',
    });
    expect(r.statusCode).toBe(303);
    const after = await admin.go('GET', r.headers.location as string);
    expect(after.body).toContain('Subnet:');
    expect(after.body).not.toContain('>tdash-bad<');
  });

  it('refuses a form without the CSRF token', async () => {
    const r = await admin.go('POST', '/dashboard/project/networks', { _action: 'create', name: 'tdash-nocsrf' });
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    const nets = await cloud.req('GET', '/network/v2.0/networks?name=tdash-nocsrf', cloud.adminToken);
    expect(nets.body.networks).toEqual([]);
  });
});
