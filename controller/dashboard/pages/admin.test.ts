import { describe, expect, it } from 'vitest';
import { ApiError } from '../page.js';
import { checkSafe, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { adminFlavorsPage } from './admin-flavors.js';
import { adminHypervisorsPage, usageBar } from './admin-hypervisors.js';
import { adminInstancesPage } from './admin-instances.js';
import { adminServicesPage } from './admin-services.js';
import { identityProjectsPage } from './identity-projects.js';
import { identityUsersPage } from './identity-users.js';

const admin = (api: FakeCloudApi) => fakeContext(api, { admin: true });

describe('admin pages are admin-only and in the admin or identity sections', () => {
  it.each([
    adminHypervisorsPage,
    adminServicesPage,
    adminInstancesPage,
    adminFlavorsPage,
    identityProjectsPage,
    identityUsersPage,
  ])('$path', (p) => {
    expect(p.adminOnly).toBe(true);
    expect(['admin', 'identity']).toContain(p.nav?.section);
  });
});

describe('hypervisors', () => {
  it('shows usage bars per host and in total', async () => {
    const api = new FakeCloudApi().on('GET', 'compute', '/v2.1/os-hypervisors/detail', {
      hypervisors: [
        {
          id: 1,
          hypervisor_hostname: `h2${XSS}`,
          hypervisor_type: 'QEMU',
          host_ip: '192.0.2.2',
          state: 'up',
          status: 'enabled',
          vcpus: 4,
          vcpus_used: 1,
          memory_mb: 4096,
          memory_mb_used: 1024,
          local_gb: 50,
          local_gb_used: 10,
          running_vms: 1,
        },
        {
          id: 2,
          hypervisor_hostname: 'h1',
          hypervisor_type: 'QEMU',
          host_ip: '192.0.2.1',
          state: 'down',
          status: 'enabled',
          vcpus: 2,
          vcpus_used: 2,
          memory_mb: 2048,
          memory_mb_used: 512,
          local_gb: 20,
          local_gb_used: 0,
          running_vms: 2,
        },
      ],
    });
    api.on('GET', 'compute', '/v2.1/servers/detail?all_tenants=1', { servers: [] });
    const s = checkSafe(await adminHypervisorsPage.render(admin(api)));
    expect(s).toContain(XSS_ESCAPED);
    expect(s.indexOf('>h1<')).toBeLessThan(s.indexOf('h2&lt;'));
    expect(s).toContain('3 of 6'); // vCPUs in total
    expect(s).toContain('1536 MB of 6144 MB');
    expect(s).toContain('Instances: 3');
    expect(s.match(/<meter /g)).toHaveLength(3 + 6);
  });

  it('offers Migrate on each running instance and Drain (and Enable when disabled) on each host', async () => {
    const api = new FakeCloudApi()
      .on('GET', 'compute', '/v2.1/os-hypervisors/detail', {
        hypervisors: [
          {
            id: 1,
            hypervisor_hostname: 'h1',
            service: { host: 'h1' },
            state: 'up',
            status: 'disabled',
            vcpus: 2,
            vcpus_used: 0,
            memory_mb: 1,
            memory_mb_used: 0,
            local_gb: 1,
            local_gb_used: 0,
            running_vms: 2,
          },
        ],
      })
      .on('GET', 'compute', '/v2.1/servers/detail?all_tenants=1', {
        servers: [
          { id: 'u1', name: `web${XSS}`, status: 'ACTIVE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'h1' },
          { id: 'u2', name: 'off', status: 'SHUTOFF', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'h1' },
          { id: 'u3', name: 'moving', status: 'MIGRATING', 'OS-EXT-STS:task_state': 'migrating', 'OS-EXT-SRV-ATTR:host': 'h1' },
        ],
      });
    const s = checkSafe(await adminHypervisorsPage.render(admin(api)));
    expect(s).toContain(XSS_ESCAPED);
    expect(s.match(/name="_action" value="migrate"/g)).toHaveLength(1); // only the running one, not the stopped or moving ones
    expect(s).toContain('name="id" value="u1"');
    expect(s).toMatch(/value="drain".*name="host" value="h1"/);
    expect(s).toMatch(/value="enable".*name="host" value="h1"/);
    expect(s).toContain('(migrating)');
  });

  it('Migrate asks for a live migration the scheduler places; Drain disables the host and moves each running instance', async () => {
    const api = new FakeCloudApi()
      .on('GET', 'compute', '/v2.1/servers/detail?all_tenants=1&host=h1', {
        servers: [
          { id: 'u1', name: 'a', status: 'ACTIVE', 'OS-EXT-STS:task_state': null },
          { id: 'u2', name: 'b', status: 'PAUSED', 'OS-EXT-STS:task_state': null },
          { id: 'u3', name: 'c', status: 'SHUTOFF', 'OS-EXT-STS:task_state': null },
        ],
      })
      .on('POST', 'compute', '/v2.1/servers/u2/action', new ApiError(400, 'No valid host was found.'));
    const m = await adminHypervisorsPage.actions!.migrate!(admin(api), { id: 'u9', name: 'x' });
    expect(m.message).toBe('Live migration of x started.');
    expect(api.writes()).toEqual([
      {
        method: 'POST',
        service: 'compute',
        path: '/v2.1/servers/u9/action',
        body: { 'os-migrateLive': { host: null, block_migration: 'auto' } },
      },
    ]);
    api.calls.length = 0;
    const d = await adminHypervisorsPage.actions!.drain!(admin(api), { host: 'h1' });
    expect(api.writes().map((c) => [c.method, c.path])).toEqual([
      ['PUT', '/v2.1/os-services/disable-log-reason'],
      ['POST', '/v2.1/servers/u1/action'],
      ['POST', '/v2.1/servers/u2/action'],
    ]);
    expect(api.writes()[0]!.body).toEqual({ host: 'h1', binary: 'nova-compute', disabled_reason: 'drained from the dashboard' });
    expect(d.message).toBe(
      'h1 disabled; live migration started for 1 instance(s); refused: b: No valid host was found.; not running, left there: c (SHUTOFF).',
    );
    api.calls.length = 0;
    await adminHypervisorsPage.actions!.enable!(admin(api), { host: 'h1' });
    expect(api.writes()).toEqual([
      { method: 'PUT', service: 'compute', path: '/v2.1/os-services/enable', body: { host: 'h1', binary: 'nova-compute' } },
    ]);
  });

  it('draws a bar with the percentage, capped at full', () => {
    expect(usageBar(3, 4).toString()).toContain('value="3"');
    expect(usageBar(3, 4).toString()).toContain('75%');
    expect(usageBar(9, 4).toString()).toContain('value="4"');
    expect(usageBar(0, 0).toString()).toContain('0%');
  });
});

describe('hosts and agents', () => {
  it('shows compute services, network agents and volume services up and down, and what failed to load', async () => {
    const api = new FakeCloudApi()
      .on('GET', 'compute', '/v2.1/os-services', {
        services: [{ binary: 'nova-compute', host: XSS, zone: 'nova', status: 'enabled', state: 'up', updated_at: 't' }],
      })
      .on('GET', 'network', '/v2.0/agents', {
        agents: [{ id: 'a', agent_type: 'L3 agent', binary: 'neutron-l3-agent', host: 'h1', alive: false, admin_state_up: true }],
      })
      .on('GET', 'volume', '/v3/p1/os-services', new ApiError(503, 'volume service unavailable'));
    const s = checkSafe(await adminServicesPage.render(admin(api)));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('1 up, 1 down.');
    expect(s).toContain('neutron-l3-agent');
    expect(s).toContain('Could not load volume services: volume service unavailable');
  });
});

describe('all instances', () => {
  it("lists every project's instances with project, host and flavor names", async () => {
    const api = new FakeCloudApi()
      .on('GET', 'compute', '/v2.1/servers/detail?all_tenants=1', {
        servers: [
          {
            id: 'vm1',
            name: XSS,
            status: 'ACTIVE',
            tenant_id: 'p2',
            'OS-EXT-SRV-ATTR:host': 'h1',
            flavor: { id: 'f1' },
            addresses: { net: [{ addr: '10.0.0.5' }] },
          },
          { id: 'vm2', name: 'a', status: 'SHUTOFF', tenant_id: 'p1', flavor: { id: 'gone' } },
        ],
      })
      .on('GET', 'identity', '/v3/projects', {
        projects: [
          { id: 'p1', name: 'alpha' },
          { id: 'p2', name: 'beta' },
        ],
      })
      .on('GET', 'compute', '/v2.1/flavors/detail?is_public=None', { flavors: [{ id: 'f1', name: 'm1.tiny' }] });
    const s = checkSafe(await adminInstancesPage.render(admin(api)));
    expect(s.indexOf('alpha')).toBeLessThan(s.indexOf('beta'));
    expect(s).toContain('m1.tiny');
    expect(s).toContain('net: 10.0.0.5');
    expect(s).toContain('2 instances.');
    expect(s).toContain(XSS_ESCAPED);
  });
});

describe('flavors', () => {
  const api = () =>
    new FakeCloudApi().on('GET', 'compute', '/v2.1/flavors/detail?is_public=None', {
      flavors: [
        { id: 'f2', name: 'big', vcpus: 4, ram: 4096, disk: 20 },
        { id: 'f1', name: XSS, vcpus: 1, ram: 512, disk: 1, 'os-flavor-access:is_public': false },
      ],
    });

  it('lists flavors by size, escaped, with create and delete forms', async () => {
    const s = checkSafe(await adminFlavorsPage.render(admin(api())));
    expect(s.indexOf(XSS_ESCAPED)).toBeLessThan(s.indexOf('big'));
    expect(s.match(/value="delete"/g)).toHaveLength(2);
  });

  it('creates with numbers and the public flag, and deletes', async () => {
    const a = api();
    await adminFlavorsPage.actions!.create!(admin(a), {
      name: 'm1.small',
      vcpus: '1',
      ram: '2048',
      disk: '20',
      public: 'on',
      id: '',
    });
    await adminFlavorsPage.actions!.create!(admin(a), {
      name: 'priv',
      vcpus: '2',
      ram: '64',
      disk: '0',
      id: 'priv-1',
      description: 'd',
    });
    await adminFlavorsPage.actions!.delete!(admin(a), { id: 'f1' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'compute',
        path: '/v2.1/flavors',
        body: { flavor: { name: 'm1.small', vcpus: 1, ram: 2048, disk: 20, 'os-flavor-access:is_public': true } },
      },
      {
        method: 'POST',
        service: 'compute',
        path: '/v2.1/flavors',
        body: {
          flavor: {
            name: 'priv',
            vcpus: 2,
            ram: 64,
            disk: 0,
            'os-flavor-access:is_public': false,
            id: 'priv-1',
            description: 'd',
          },
        },
      },
      { method: 'DELETE', service: 'compute', path: '/v2.1/flavors/f1' },
    ]);
  });

  it('refuses bad numbers and ids, naming the field', async () => {
    const a = api();
    await expect(adminFlavorsPage.actions!.create!(admin(a), { name: 'x', vcpus: '0', ram: '1', disk: '0' })).rejects.toThrow(
      'vCPUs must be at least 1.',
    );
    await expect(adminFlavorsPage.actions!.create!(admin(a), { name: 'x', vcpus: '1', ram: 'lots', disk: '0' })).rejects.toThrow(
      'RAM (MB) must be a whole number.',
    );
    await expect(adminFlavorsPage.actions!.delete!(admin(a), { id: '../servers' })).rejects.toThrow('not a valid id');
    expect(a.writes()).toEqual([]);
  });
});

describe('projects', () => {
  const api = () =>
    new FakeCloudApi().on('GET', 'identity', '/v3/projects', {
      projects: [
        { id: 'p1', name: 'demo', description: '', enabled: true, domain_id: 'default' },
        { id: 'p2', name: XSS, description: XSS, enabled: false, domain_id: 'default' },
      ],
    });

  it('lists projects escaped; the current one cannot be disabled or deleted from here', async () => {
    const s = checkSafe(await identityProjectsPage.render(admin(api())));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('(current)');
    expect(s.match(/value="enable"/g)).toHaveLength(1);
    expect(s.match(/value="delete"/g)).toHaveLength(1);
  });

  it('creates, enables, disables, deletes', async () => {
    const a = api();
    await identityProjectsPage.actions!.create!(admin(a), { name: 'new', description: 'd' });
    await identityProjectsPage.actions!.enable!(admin(a), { id: 'p2' });
    await identityProjectsPage.actions!.disable!(admin(a), { id: 'p2' });
    await identityProjectsPage.actions!.delete!(admin(a), { id: 'p2' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'identity',
        path: '/v3/projects',
        body: { project: { name: 'new', description: 'd', enabled: true } },
      },
      { method: 'PATCH', service: 'identity', path: '/v3/projects/p2', body: { project: { enabled: true } } },
      { method: 'PATCH', service: 'identity', path: '/v3/projects/p2', body: { project: { enabled: false } } },
      { method: 'DELETE', service: 'identity', path: '/v3/projects/p2' },
    ]);
  });
});

describe('users and role assignments', () => {
  const api = () =>
    new FakeCloudApi()
      .on('GET', 'identity', '/v3/users', {
        users: [
          { id: 'u1', name: 'alice', enabled: true, domain_id: 'default' },
          { id: 'u2', name: XSS, enabled: true, domain_id: 'default', email: 'b@example.org' },
        ],
      })
      .on('GET', 'identity', '/v3/role_assignments?include_names=true', {
        role_assignments: [
          {
            role: { id: 'r-m', name: 'member' },
            user: { id: 'u2', name: 'bob' },
            scope: { project: { id: 'p2', name: `proj${XSS}` } },
          },
          { role: { id: 'r-a', name: 'admin' }, user: { id: 'u1', name: 'alice' }, scope: { system: { all: true } } },
          { role: { id: 'r-m', name: 'member' }, group: { id: 'g1', name: 'g' }, scope: { project: { id: 'p2' } } },
        ],
      })
      .on('GET', 'identity', '/v3/projects', {
        projects: [
          { id: 'p1', name: 'demo' },
          { id: 'p2', name: 'other' },
        ],
      })
      .on('GET', 'identity', '/v3/roles', {
        roles: [
          { id: 'r-m', name: 'member' },
          { id: 'r-a', name: 'admin' },
        ],
      })
      .on('GET', 'identity', '/v3/roles?name=member', { roles: [{ id: 'r-m', name: 'member' }] });

  it('lists users with their assignments and revoke buttons for project roles', async () => {
    const s = checkSafe(await identityUsersPage.render(admin(api())));
    expect(s).toContain(`member on project proj${XSS_ESCAPED}`);
    expect(s).toContain('admin on system');
    expect(s.match(/value="revoke"/g)).toHaveLength(1);
    expect(s).toContain('(you)');
    expect(s.match(/value="delete"/g)).toHaveLength(1);
    expect(s).toContain('<option value="r-a">admin</option>');
  });

  it('grants and revokes project roles', async () => {
    const a = api();
    await identityUsersPage.actions!.grant!(admin(a), { user_id: 'u2', project_id: 'p1', role_id: 'r-a' });
    await identityUsersPage.actions!.revoke!(admin(a), { user_id: 'u2', project_id: 'p2', role_id: 'r-m' });
    expect(a.writes()).toEqual([
      { method: 'PUT', service: 'identity', path: '/v3/projects/p1/users/u2/roles/r-a' },
      { method: 'DELETE', service: 'identity', path: '/v3/projects/p2/users/u2/roles/r-m' },
    ]);
  });

  it('creates a user and makes it a member of its primary project', async () => {
    const a = api().on('POST', 'identity', '/v3/users', { user: { id: 'u9', name: 'carol' } });
    await identityUsersPage.actions!.create!(admin(a), {
      name: 'carol',
      password: 's3cret pw',
      email: 'c@example.org',
      project_id: 'p1',
    });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'identity',
        path: '/v3/users',
        body: { user: { name: 'carol', password: 's3cret pw', enabled: true, email: 'c@example.org', default_project_id: 'p1' } },
      },
      { method: 'PUT', service: 'identity', path: '/v3/projects/p1/users/u9/roles/r-m' },
    ]);
  });

  it('deletes the new user again when the grant fails', async () => {
    const a = api()
      .on('POST', 'identity', '/v3/users', { user: { id: 'u9', name: 'carol' } })
      .on('PUT', 'identity', '/v3/projects/p1/users/u9/roles/r-m', new ApiError(403, 'nope'));
    await expect(
      identityUsersPage.actions!.create!(admin(a), { name: 'carol', password: 'pw', project_id: 'p1' }),
    ).rejects.toThrow('nope');
    expect(a.writes().at(-1)).toEqual({ method: 'DELETE', service: 'identity', path: '/v3/users/u9' });
  });

  it('refuses to delete the signed-in user or create one without a password', async () => {
    const a = api();
    await expect(identityUsersPage.actions!.delete!(admin(a), { id: 'u1' })).rejects.toThrow('You cannot delete yourself.');
    await expect(identityUsersPage.actions!.create!(admin(a), { name: 'x', password: '' })).rejects.toThrow(
      'Password is required.',
    );
    await identityUsersPage.actions!.delete!(admin(a), { id: 'u2' });
    expect(a.writes()).toEqual([{ method: 'DELETE', service: 'identity', path: '/v3/users/u2' }]);
  });
});
