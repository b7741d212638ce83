import { describe, expect, it } from 'vitest';
import { checkSafe, FAKE_CSRF, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { floatingIpsPage } from './floating-ips.js';
import { routerDetailPage } from './router-detail.js';
import { routersPage } from './routers.js';

const pub = { id: 'pub', name: `pub${XSS}`, status: 'ACTIVE', 'router:external': true };
const priv = { id: 'n1', name: 'private', status: 'ACTIVE', 'router:external': false };
const IFACES = `/v2.0/ports?device_owner=${encodeURIComponent('network:router_interface')}`;

describe('routers page', () => {
  const api = () =>
    new FakeCloudApi()
      .on('GET', 'network', '/v2.0/routers', {
        routers: [
          {
            id: 'r1',
            name: XSS,
            status: 'ACTIVE',
            external_gateway_info: { network_id: 'pub', external_fixed_ips: [{ ip_address: '198.51.100.9' }] },
          },
          { id: 'r2', name: 'inner', status: 'ACTIVE', external_gateway_info: null },
        ],
      })
      .on('GET', 'network', '/v2.0/networks?router:external=true', { networks: [pub] })
      .on('GET', 'network', IFACES, { ports: [{ device_id: 'r1' }, { device_id: 'r1' }] });

  it('lists routers with gateways, interface counts and forms, escaped', async () => {
    const s = checkSafe(await routersPage.render(fakeContext(api())));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('198.51.100.9');
    expect(s).toContain('2 (edit)');
    expect(s).toContain('value="clear_gateway"'); // r1 has one
    expect(s).toContain('value="set_gateway"'); // r2 has none
    expect(s).toContain(`<option value="pub">pub${XSS_ESCAPED}</option>`);
  });

  it('creates a router with or without a gateway, sets and clears the gateway, deletes', async () => {
    const a = api();
    const ctx = fakeContext(a);
    await routersPage.actions!.create!(ctx, { name: 'r', network_id: 'pub' });
    await routersPage.actions!.create!(ctx, { name: 'r0', network_id: '' });
    await routersPage.actions!.set_gateway!(ctx, { id: 'r2', network_id: 'pub' });
    await routersPage.actions!.clear_gateway!(ctx, { id: 'r1' });
    const r = await routersPage.actions!.delete!(ctx, { id: 'r2' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/routers',
        body: { router: { name: 'r', admin_state_up: true, external_gateway_info: { network_id: 'pub' } } },
      },
      { method: 'POST', service: 'network', path: '/v2.0/routers', body: { router: { name: 'r0', admin_state_up: true } } },
      {
        method: 'PUT',
        service: 'network',
        path: '/v2.0/routers/r2',
        body: { router: { external_gateway_info: { network_id: 'pub' } } },
      },
      { method: 'PUT', service: 'network', path: '/v2.0/routers/r1', body: { router: { external_gateway_info: {} } } },
      { method: 'DELETE', service: 'network', path: '/v2.0/routers/r2' },
    ]);
    expect(r).toEqual({ redirect: '/dashboard/project/routers', message: 'Router deleted.' });
  });
});

describe('router detail page', () => {
  const api = () =>
    new FakeCloudApi()
      .on('GET', 'network', '/v2.0/routers/r1', {
        router: {
          id: 'r1',
          name: XSS,
          status: 'ACTIVE',
          external_gateway_info: { network_id: 'pub', external_fixed_ips: [{ ip_address: '198.51.100.9' }] },
        },
      })
      .on('GET', 'network', `/v2.0/ports?device_id=r1&device_owner=${encodeURIComponent('network:router_interface')}`, {
        ports: [{ id: 'p1', network_id: 'n1', status: 'ACTIVE', fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.1' }] }],
      })
      .on('GET', 'network', '/v2.0/subnets', {
        subnets: [
          { id: 's1', name: 'one', network_id: 'n1', cidr: '10.0.0.0/24' },
          { id: 's2', name: XSS, network_id: 'n1', cidr: '10.0.1.0/24' },
          { id: 's3', name: 'pubsub', network_id: 'pub', cidr: '198.51.100.0/24' },
        ],
      })
      .on('GET', 'network', '/v2.0/networks', { networks: [pub, priv] });

  it('lists interfaces and offers only internal subnets not yet attached', async () => {
    const s = checkSafe(await routerDetailPage.render(fakeContext(api(), { params: { id: 'r1' } })));
    expect(s).toContain('10.0.0.1');
    expect(s).toContain('value="remove_interface"');
    expect(s).toContain(`<option value="s2">private: ${XSS_ESCAPED} 10.0.1.0/24</option>`);
    expect(s).not.toContain('<option value="s1"');
    expect(s).not.toContain('<option value="s3"');
  });

  it('adds and removes interfaces with the unwrapped Neutron body', async () => {
    const a = api();
    const ctx = fakeContext(a, { params: { id: 'r1' } });
    await routerDetailPage.actions!.add_interface!(ctx, { subnet_id: 's2' });
    const r = await routerDetailPage.actions!.remove_interface!(ctx, { subnet_id: 's1' });
    expect(a.writes()).toEqual([
      { method: 'PUT', service: 'network', path: '/v2.0/routers/r1/add_router_interface', body: { subnet_id: 's2' } },
      { method: 'PUT', service: 'network', path: '/v2.0/routers/r1/remove_router_interface', body: { subnet_id: 's1' } },
    ]);
    expect(r.redirect).toBe('/dashboard/project/routers/r1');
  });
});

describe('floating IPs page', () => {
  const api = () =>
    new FakeCloudApi()
      .on('GET', 'network', '/v2.0/floatingips', {
        floatingips: [
          {
            id: 'f1',
            floating_ip_address: '198.51.100.20',
            floating_network_id: 'pub',
            fixed_ip_address: '10.0.0.5',
            port_id: 'pA',
            status: 'ACTIVE',
          },
          {
            id: 'f2',
            floating_ip_address: '198.51.100.3',
            floating_network_id: 'pub',
            fixed_ip_address: null,
            port_id: null,
            status: 'DOWN',
          },
        ],
      })
      .on('GET', 'network', '/v2.0/networks?router:external=true', { networks: [pub] })
      .on('GET', 'network', '/v2.0/ports', {
        ports: [
          { id: 'pA', device_id: 'vm1', device_owner: 'compute:nova', fixed_ips: [{ ip_address: '10.0.0.5' }] },
          { id: 'pB', device_id: 'vm2', device_owner: 'compute:nova', fixed_ips: [{ ip_address: '10.0.0.6' }] },
          { id: 'pD', device_id: 'dhcp1', device_owner: 'network:dhcp', fixed_ips: [{ ip_address: '10.0.0.2' }] },
        ],
      })
      .on('GET', 'compute', '/v2.1/servers/detail', {
        servers: [
          { id: 'vm1', name: 'web' },
          { id: 'vm2', name: XSS },
        ],
      });

  it('lists addresses sorted, their instances, and offers free instance ports', async () => {
    const s = checkSafe(await floatingIpsPage.render(fakeContext(api())));
    expect(s.indexOf('198.51.100.3')).toBeLessThan(s.indexOf('198.51.100.20'));
    expect(s).toContain('href="/dashboard/project/instances/vm1"');
    expect(s).toContain(`<option value="pB">${XSS_ESCAPED}: 10.0.0.6</option>`);
    expect(s).not.toContain('<option value="pA"'); // already has f1
    expect(s).not.toContain('<option value="pD"'); // not an instance
    expect(s).toContain('value="disassociate"');
    expect(s).toContain('value="allocate"');
    expect(s).toContain(`value="${FAKE_CSRF}"`);
  });

  it('allocates, associates, disassociates and releases', async () => {
    const a = api().on('POST', 'network', '/v2.0/floatingips', { floatingip: { id: 'f3', floating_ip_address: '198.51.100.7' } });
    const ctx = fakeContext(a);
    const r = await floatingIpsPage.actions!.allocate!(ctx, { network_id: 'pub' });
    await floatingIpsPage.actions!.associate!(ctx, { id: 'f2', port_id: 'pB' });
    await floatingIpsPage.actions!.disassociate!(ctx, { id: 'f1' });
    await floatingIpsPage.actions!.release!(ctx, { id: 'f2' });
    expect(r.message).toBe('Allocated 198.51.100.7.');
    expect(a.writes()).toEqual([
      { method: 'POST', service: 'network', path: '/v2.0/floatingips', body: { floatingip: { floating_network_id: 'pub' } } },
      { method: 'PUT', service: 'network', path: '/v2.0/floatingips/f2', body: { floatingip: { port_id: 'pB' } } },
      { method: 'PUT', service: 'network', path: '/v2.0/floatingips/f1', body: { floatingip: { port_id: null } } },
      { method: 'DELETE', service: 'network', path: '/v2.0/floatingips/f2' },
    ]);
  });

  it('refuses an association without a port', async () => {
    await expect(floatingIpsPage.actions!.associate!(fakeContext(api()), { id: 'f2', port_id: '' })).rejects.toThrow(
      'Port is required.',
    );
  });
});
