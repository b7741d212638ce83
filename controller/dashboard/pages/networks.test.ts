import { describe, expect, it } from 'vitest';
import { ApiError } from '../page.js';
import { checkSafe, FAKE_CSRF, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { networkDetailPage } from './network-detail.js';
import { networksPage } from './networks.js';

const nets = [
  { id: 'n1', name: XSS, status: 'ACTIVE', shared: false, 'router:external': false, project_id: 'p1' },
  { id: 'n2', name: 'public', status: 'ACTIVE', shared: false, 'router:external': true, project_id: 'admin-p' },
];
const subs = [
  { id: 's1', name: 'sub', network_id: 'n1', cidr: '10.9.0.0/24', ip_version: 4, gateway_ip: '10.9.0.1', enable_dhcp: true },
];

describe('networks page', () => {
  it('lists networks escaped, with subnets and delete forms carrying the CSRF token', async () => {
    const api = new FakeCloudApi()
      .on('GET', 'network', '/v2.0/networks', { networks: nets })
      .on('GET', 'network', '/v2.0/subnets', { subnets: subs });
    const s = checkSafe(await networksPage.render(fakeContext(api)));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('10.9.0.0/24');
    expect(s).toContain('href="/dashboard/project/networks/n1"');
    expect(s).toContain(`name="_csrf" value="${FAKE_CSRF}"`);
    // Delete only for the member's own network; no admin-only fields.
    expect(s.match(/value="delete"/g)).toHaveLength(1);
    expect(s).not.toContain('name="external"');
  });

  it('offers admins the external and shared flags', async () => {
    const api = new FakeCloudApi()
      .on('GET', 'network', '/v2.0/networks', { networks: nets })
      .on('GET', 'network', '/v2.0/subnets', { subnets: subs });
    const s = checkSafe(await networksPage.render(fakeContext(api, { admin: true })));
    expect(s).toContain('name="external"');
    expect(s.match(/value="delete"/g)).toHaveLength(2);
  });

  it('creates a network, then its subnet with gateway, DHCP and DNS', async () => {
    const api = new FakeCloudApi().on('POST', 'network', '/v2.0/networks', { network: { id: 'new1', name: 'x' } });
    const r = await networksPage.actions!.create!(fakeContext(api), {
      name: ' mynet ',
      subnet_name: 'mysub',
      cidr: '10.1.0.0/24',
      gateway_ip: '10.1.0.254',
      enable_dhcp: 'on',
      dns: '192.0.2.53, 192.0.2.54',
    });
    expect(api.writes()).toEqual([
      { method: 'POST', service: 'network', path: '/v2.0/networks', body: { network: { name: 'mynet', admin_state_up: true } } },
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/subnets',
        body: {
          subnet: {
            network_id: 'new1',
            name: 'mysub',
            cidr: '10.1.0.0/24',
            ip_version: 4,
            enable_dhcp: true,
            gateway_ip: '10.1.0.254',
            dns_nameservers: ['192.0.2.53', '192.0.2.54'],
          },
        },
      },
    ]);
    expect(r.redirect).toBe('/dashboard/project/networks');
  });

  it('sends DHCP off, no gateway and IPv6 when asked; a member cannot set router:external', async () => {
    const api = new FakeCloudApi().on('POST', 'network', '/v2.0/networks', { network: { id: 'new1' } });
    await networksPage.actions!.create!(fakeContext(api), { name: 'v6', cidr: 'fd00::/64', no_gateway: 'on', external: 'on' });
    expect(api.writes()[0]!.body).toEqual({ network: { name: 'v6', admin_state_up: true } });
    expect(api.writes()[1]!.body).toEqual({
      subnet: { network_id: 'new1', cidr: 'fd00::/64', ip_version: 6, enable_dhcp: false, gateway_ip: null },
    });
  });

  it('creates an external network for an admin, and no subnet without an address', async () => {
    const api = new FakeCloudApi().on('POST', 'network', '/v2.0/networks', { network: { id: 'e1' } });
    await networksPage.actions!.create!(fakeContext(api, { admin: true }), { name: 'ext', external: 'on', cidr: '' });
    expect(api.writes()).toEqual([
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/networks',
        body: { network: { name: 'ext', admin_state_up: true, 'router:external': true } },
      },
    ]);
  });

  it('deletes the network again when its subnet is refused, and says why', async () => {
    const api = new FakeCloudApi()
      .on('POST', 'network', '/v2.0/networks', { network: { id: 'n9' } })
      .on('POST', 'network', '/v2.0/subnets', new ApiError(400, 'Invalid input for cidr.'));
    await expect(networksPage.actions!.create!(fakeContext(api), { name: 'n', cidr: '10.0.0.0/33' })).rejects.toThrow(
      /Subnet: Invalid input for cidr/,
    );
    expect(api.writes().map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v2.0/networks',
      'POST /v2.0/subnets',
      'DELETE /v2.0/networks/n9',
    ]);
  });

  it('refuses a missing name before calling the API, naming the field', async () => {
    const api = new FakeCloudApi();
    await expect(networksPage.actions!.create!(fakeContext(api), { name: ' ' })).rejects.toThrow('Name is required.');
    expect(api.calls).toEqual([]);
  });

  it('deletes a network by id, refusing ids that are not ids', async () => {
    const api = new FakeCloudApi();
    await networksPage.actions!.delete!(fakeContext(api), { id: 'n1' });
    expect(api.writes()).toEqual([{ method: 'DELETE', service: 'network', path: '/v2.0/networks/n1' }]);
    await expect(networksPage.actions!.delete!(fakeContext(api), { id: '../routers/x' })).rejects.toThrow(/not a valid id/);
  });
});

describe('network detail page', () => {
  const api = () =>
    new FakeCloudApi()
      .on('GET', 'network', '/v2.0/networks/n1', { network: nets[0] })
      .on('GET', 'network', '/v2.0/subnets?network_id=n1', {
        subnets: [
          {
            ...subs[0],
            name: XSS,
            dns_nameservers: ['192.0.2.53'],
            allocation_pools: [{ start: '10.9.0.2', end: '10.9.0.254' }],
          },
        ],
      })
      .on('GET', 'network', '/v2.0/ports?network_id=n1', {
        ports: [
          {
            id: 'pt1',
            name: XSS,
            mac_address: 'fa:16:3e:00:00:01',
            status: 'ACTIVE',
            device_owner: 'compute:nova',
            device_id: 'vm1',
            fixed_ips: [{ subnet_id: 's1', ip_address: '10.9.0.5' }],
          },
          {
            id: 'pt2',
            name: '',
            mac_address: 'fa:16:3e:00:00:02',
            status: 'ACTIVE',
            device_owner: 'network:router_interface',
            device_id: 'r1',
            fixed_ips: [{ subnet_id: 's1', ip_address: '10.9.0.1' }],
          },
        ],
      });

  it('shows subnets and ports escaped, linking devices', async () => {
    const s = checkSafe(await networkDetailPage.render(fakeContext(api(), { params: { id: 'n1' } })));
    expect(s.split(XSS_ESCAPED).length - 1).toBe(3); // title, subnet, port
    expect(s).toContain('10.9.0.2–10.9.0.254');
    expect(s).toContain('href="/dashboard/project/instances/vm1"');
    expect(s).toContain('href="/dashboard/project/routers/r1"');
    expect(s).toContain('value="add_subnet"');
  });

  it('adds and deletes subnets of this network', async () => {
    const a = api();
    const ctx = fakeContext(a, { params: { id: 'n1' } });
    const r = await networkDetailPage.actions!.add_subnet!(ctx, { cidr: '10.8.0.0/24', enable_dhcp: 'on' });
    await networkDetailPage.actions!.delete_subnet!(ctx, { subnet_id: 's1' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/subnets',
        body: { subnet: { network_id: 'n1', cidr: '10.8.0.0/24', ip_version: 4, enable_dhcp: true } },
      },
      { method: 'DELETE', service: 'network', path: '/v2.0/subnets/s1' },
    ]);
    expect(r.redirect).toBe('/dashboard/project/networks/n1');
  });

  it('answers 404 for an id that is not one', async () => {
    await expect(networkDetailPage.render(fakeContext(api(), { params: { id: '..' } }))).rejects.toMatchObject({ status: 404 });
  });
});
