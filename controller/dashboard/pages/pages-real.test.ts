import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from '../../identity/testing/kit.js';
import type { Page, PageContext } from '../page.js';
import { checkSafe, FAKE_CSRF, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { injectApi } from '../testing/inject-api.js';
import { adminFlavorsPage } from './admin-flavors.js';
import { adminHypervisorsPage } from './admin-hypervisors.js';
import { adminInstancesPage } from './admin-instances.js';
import { adminServicesPage } from './admin-services.js';
import { floatingIpsPage } from './floating-ips.js';
import { identityProjectsPage } from './identity-projects.js';
import { identityUsersPage } from './identity-users.js';
import { networkDetailPage } from './network-detail.js';
import { networksPage } from './networks.js';
import { routerDetailPage } from './router-detail.js';
import { routersPage } from './routers.js';
import { securityGroupRulesPage } from './security-group-rules.js';
import { securityGroupsPage } from './security-groups.js';
import { topologyPage } from './topology.js';
import { volumeSnapshotsPage } from './volume-snapshots.js';
import { volumesPage } from './volumes.js';

/**
 * The pages against the real controller (buildApp, bootstrapped identity, in-memory db):
 * the paths they call exist, the bodies their actions send are accepted, and what they
 * render comes from real documents. No agents: nothing here needs a host.
 */
let cloud: TestCloud;
let admin: PageContext;
let member: PageContext;

function ctxOf(
  token: string,
  s: { userId: string; userName: string; projectId: string; projectName: string; isAdmin: boolean },
): PageContext {
  return {
    api: injectApi(cloud.app, token),
    csrf: FAKE_CSRF,
    params: {},
    query: {},
    base: '/dashboard',
    session: {
      ...s,
      domainName: 'Default',
      projects: [{ id: s.projectId, name: s.projectName }],
      roles: s.isAdmin ? ['admin', 'member', 'reader'] : ['member', 'reader'],
    },
  };
}
const render = async (p: Page, ctx: PageContext, params: Record<string, string> = {}) =>
  checkSafe(await p.render({ ...ctx, params }));
const act = (p: Page, name: string, ctx: PageContext, form: Record<string, string>, params: Record<string, string> = {}) =>
  p.actions![name]!({ ...ctx, params }, form);

beforeAll(async () => {
  cloud = await testCloud();
  admin = ctxOf(cloud.adminToken, {
    userId: cloud.adminUserId,
    userName: 'admin',
    projectId: cloud.adminProjectId,
    projectName: 'admin',
    isAdmin: true,
  });
  // A member of another project, made through the users page itself.
  await act(identityProjectsPage, 'create', admin, { name: 'tdash-other' });
  const projects = (await cloud.req('GET', '/identity/v3/projects?name=tdash-other', cloud.adminToken)).body.projects;
  await act(identityUsersPage, 'create', admin, { name: 'tdash-bob', password: 'bob-password-1', project_id: projects[0].id });
  const bob = await cloud.login('tdash-bob', 'bob-password-1', 'tdash-other');
  expect(bob.status).toBe(201);
  member = ctxOf(bob.token, {
    userId: bob.body.token.user.id,
    userName: 'tdash-bob',
    projectId: projects[0].id,
    projectName: 'tdash-other',
    isAdmin: false,
  });
}, 60_000);
afterAll(async () => cloud?.close());

const find = async (path: string, key: string, name: string, ctx = admin) =>
  ((await ctx.api.get<any>('network', path))[key] as any[]).find((x) => x.name === name);

describe('network pages against the real API', () => {
  it('creates a network with a subnet and shows it in the list, its detail and the topology', async () => {
    await act(networksPage, 'create', admin, {
      name: XSS,
      subnet_name: 'tdash-sub',
      cidr: '10.77.0.0/24',
      gateway_ip: '10.77.0.1',
      enable_dhcp: 'on',
      dns: '192.0.2.53',
    });
    const net = await find('/v2.0/networks', 'networks', XSS);
    expect(net).toBeTruthy();
    const sub = await find('/v2.0/subnets', 'subnets', 'tdash-sub');
    expect(sub).toMatchObject({
      network_id: net.id,
      cidr: '10.77.0.0/24',
      gateway_ip: '10.77.0.1',
      enable_dhcp: true,
      dns_nameservers: ['192.0.2.53'],
    });
    expect(await render(networksPage, admin)).toContain(XSS_ESCAPED);
    const detail = await render(networkDetailPage, admin, { id: net.id });
    expect(detail).toContain('10.77.0.0/24');
    const topo = await render(topologyPage, admin);
    expect(topo).toContain(`data-id="${net.id}"`);
    expect(topo).toContain(XSS_ESCAPED);
    expect(topo).not.toContain('Could not load');
  });

  it('leaves no network behind when the subnet is refused', async () => {
    await expect(act(networksPage, 'create', admin, { name: 'tdash-bad', cidr: '10.78.0.0/33' })).rejects.toThrow(
      /Subnet: .*not created/,
    );
    expect(await find('/v2.0/networks', 'networks', 'tdash-bad')).toBeUndefined();
  });

  it('wires a router to an external network and a subnet, allocates a floating IP', async () => {
    await act(networksPage, 'create', admin, { name: 'tdash-public', external: 'on', cidr: '198.51.100.0/24', enable_dhcp: '' });
    await act(networksPage, 'create', admin, { name: 'tdash-inner', cidr: '10.79.0.0/24', enable_dhcp: 'on' });
    const pub = await find('/v2.0/networks', 'networks', 'tdash-public');
    expect(pub['router:external']).toBe(true);
    await act(routersPage, 'create', admin, { name: 'tdash-r', network_id: pub.id });
    const r = await find('/v2.0/routers', 'routers', 'tdash-r');
    expect(r.external_gateway_info.network_id).toBe(pub.id);
    const inner = (await admin.api.get<any>('network', '/v2.0/subnets?cidr=10.79.0.0/24')).subnets[0];
    await act(routerDetailPage, 'add_interface', admin, { subnet_id: inner.id }, { id: r.id });
    const d = await render(routerDetailPage, admin, { id: r.id });
    expect(d).toContain('10.79.0.1');
    expect(await render(routersPage, admin)).toContain('1 (edit)');
    const topo = await render(topologyPage, admin);
    expect(topo).toContain(`data-from="${r.id}" data-to="${pub.id}"`);
    expect(topo).toContain('class="edge interface"');

    await act(floatingIpsPage, 'allocate', admin, { network_id: pub.id });
    const fips = (await admin.api.get<any>('network', '/v2.0/floatingips')).floatingips;
    expect(fips).toHaveLength(1);
    expect(await render(floatingIpsPage, admin)).toContain(fips[0].floating_ip_address);
    await act(floatingIpsPage, 'release', admin, { id: fips[0].id });

    await act(routerDetailPage, 'remove_interface', admin, { subnet_id: inner.id }, { id: r.id });
    await act(routersPage, 'clear_gateway', admin, { id: r.id });
    expect((await find('/v2.0/routers', 'routers', 'tdash-r')).external_gateway_info).toBeNull();
    await act(routersPage, 'set_gateway', admin, { id: r.id, network_id: pub.id });
    await act(routersPage, 'clear_gateway', admin, { id: r.id });
    await act(routersPage, 'delete', admin, { id: r.id });
    expect(await find('/v2.0/routers', 'routers', 'tdash-r')).toBeUndefined();
  });

  it('edits security group rules', async () => {
    await act(securityGroupsPage, 'create', member, { name: 'tdash-web', description: XSS });
    const g = await find('/v2.0/security-groups', 'security_groups', 'tdash-web', member);
    const ctx = { ...member, params: { id: g.id } };
    await act(
      securityGroupRulesPage,
      'add_rule',
      ctx,
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', ports: '8000-8080', remote_ip_prefix: '192.0.2.0/24' },
      { id: g.id },
    );
    await act(
      securityGroupRulesPage,
      'add_rule',
      ctx,
      { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', ports: '8/0', remote_group_id: g.id },
      { id: g.id },
    );
    const page = await render(securityGroupRulesPage, member, { id: g.id });
    expect(page).toContain('<td>8000-8080</td>');
    expect(page).toContain('type 8 code 0');
    expect(page).toContain(XSS_ESCAPED);
    // The same rule twice: Neutron's 409 comes back as the message.
    await expect(
      act(
        securityGroupRulesPage,
        'add_rule',
        ctx,
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', ports: '8000-8080', remote_ip_prefix: '192.0.2.0/24' },
        { id: g.id },
      ),
    ).rejects.toMatchObject({ status: 409 });
    const rules = (await member.api.get<any>('network', `/v2.0/security-groups/${g.id}`)).security_group.security_group_rules;
    const tcp = rules.find((x: any) => x.protocol === 'tcp');
    await act(securityGroupRulesPage, 'delete_rule', ctx, { rule_id: tcp.id }, { id: g.id });
    expect(await render(securityGroupRulesPage, member, { id: g.id })).not.toContain('<td>8000-8080</td>');
    await act(securityGroupsPage, 'delete', member, { id: g.id });
  });

  it("shows a member none of the admin project's networks", async () => {
    const s = await render(networksPage, member);
    expect(s).not.toContain(XSS_ESCAPED);
    expect(s).not.toContain('tdash-inner');
    expect(s).toContain('tdash-public'); // external networks are visible to all
  });
});

describe('volume pages against the real API', () => {
  it('render, and a volume create is accepted', async () => {
    expect(await render(volumesPage, member)).toContain('Create a volume');
    const r = await act(volumesPage, 'create', member, { name: 'tdash-vol', size: '1' });
    expect(r.message).toMatch(/being created/);
    expect(await render(volumesPage, member)).toContain('tdash-vol');
    expect(await render(volumeSnapshotsPage, member)).toContain('No snapshots yet.');
  });
});

describe('admin pages against the real API', () => {
  it('render hypervisors, hosts and agents, all instances', async () => {
    for (const p of [adminHypervisorsPage, adminServicesPage, adminInstancesPage]) {
      const s = await render(p, admin);
      expect(s).not.toContain('Could not load');
    }
  });

  it('create and delete a flavor', async () => {
    await act(adminFlavorsPage, 'create', admin, {
      name: 'tdash.tiny',
      vcpus: '1',
      ram: '64',
      disk: '1',
      public: 'on',
      id: 'tdash-tiny',
    });
    expect(await render(adminFlavorsPage, admin)).toContain('tdash.tiny');
    await act(adminFlavorsPage, 'delete', admin, { id: 'tdash-tiny' });
    expect(await render(adminFlavorsPage, admin)).not.toContain('tdash.tiny');
  });

  it('show users with role assignments; grant and revoke', async () => {
    const s = await render(identityUsersPage, admin);
    expect(s).toContain('member on project tdash-other');
    const users = (await admin.api.get<any>('identity', '/v3/users?name=tdash-bob')).users;
    const roles = (await admin.api.get<any>('identity', '/v3/roles?name=reader')).roles;
    await act(identityUsersPage, 'grant', admin, {
      user_id: users[0].id,
      project_id: cloud.adminProjectId,
      role_id: roles[0].id,
    });
    expect(await render(identityUsersPage, admin)).toContain('reader on project admin');
    await act(identityUsersPage, 'revoke', admin, {
      user_id: users[0].id,
      project_id: cloud.adminProjectId,
      role_id: roles[0].id,
    });
    expect(await render(identityUsersPage, admin)).not.toContain('reader on project admin');
    expect(await render(identityProjectsPage, admin)).toContain('tdash-other');
  });

  it('are refused to a member by the API itself', async () => {
    await expect(adminHypervisorsPage.render(member)).rejects.toMatchObject({ status: 403 });
    await expect(identityUsersPage.render(member)).rejects.toMatchObject({ status: 403 });
  });
});
