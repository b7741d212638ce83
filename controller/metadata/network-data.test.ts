import { describe, expect, it } from 'vitest';
import type { PortInfo, SubnetInfo } from '../facades.js';
import { netmaskOf, networkDataOf } from './network-data.js';

const port = (id: string, ips: Array<[string, string]>): PortInfo => ({
  id,
  network_id: `net-${id}`,
  network_name: 'n',
  project_id: 'p',
  mac_address: 'fa:16:3e:00:00:01',
  fixed_ips: ips.map(([subnet_id, ip_address]) => ({ subnet_id, ip_address })),
  device_id: 'd',
  device_owner: 'compute:nova',
  binding_host_id: 'h',
  mtu: 1450,
  network_type: 'vxlan',
  segmentation_id: 1000,
  security_group_ids: [],
  port_security_enabled: true,
  floating_ips: [],
});
const subnet = (id: string, o: Partial<SubnetInfo>): SubnetInfo => ({
  id,
  network_id: 'n',
  ip_version: 4,
  cidr: '10.0.0.0/24',
  gateway_ip: '10.0.0.1',
  enable_dhcp: true,
  dns_nameservers: [],
  host_routes: [],
  ipv6_address_mode: null,
  ...o,
});

describe("network_data.json (Nova's netutils.get_network_metadata)", () => {
  it('writes DHCP subnets as ipv4_dhcp and static ones with address, netmask, routes and DNS', () => {
    const subnets = new Map([
      ['s-dhcp', subnet('s-dhcp', { dns_nameservers: ['192.0.2.53'] })],
      [
        's-static',
        subnet('s-static', {
          cidr: '10.1.0.0/16',
          gateway_ip: '10.1.0.1',
          enable_dhcp: false,
          dns_nameservers: ['192.0.2.53', '192.0.2.54'],
          host_routes: [{ destination: '172.16.0.0/12', nexthop: '10.1.0.254' }],
        }),
      ],
      ['s-v6', subnet('s-v6', { ip_version: 6, cidr: 'fd00::/64', gateway_ip: 'fd00::1', ipv6_address_mode: 'slaac' })],
    ]);
    const d = networkDataOf(
      [
        port('aaaaaaaa-1111-4111-8111-111111111111', [['s-dhcp', '10.0.0.5']]),
        port('bbbbbbbb-2222-4222-8222-222222222222', [
          ['s-static', '10.1.2.3'],
          ['s-v6', 'fd00::5'],
        ]),
      ],
      subnets,
    );
    expect(d.links).toEqual([
      {
        id: 'tapaaaaaaaa-11',
        vif_id: 'aaaaaaaa-1111-4111-8111-111111111111',
        type: 'ovs',
        mtu: 1450,
        ethernet_mac_address: 'fa:16:3e:00:00:01',
      },
      {
        id: 'tapbbbbbbbb-22',
        vif_id: 'bbbbbbbb-2222-4222-8222-222222222222',
        type: 'ovs',
        mtu: 1450,
        ethernet_mac_address: 'fa:16:3e:00:00:01',
      },
    ]);
    expect(d.networks).toEqual([
      { id: 'network0', type: 'ipv4_dhcp', link: 'tapaaaaaaaa-11', network_id: 'net-aaaaaaaa-1111-4111-8111-111111111111' },
      {
        id: 'network1',
        type: 'ipv4',
        link: 'tapbbbbbbbb-22',
        ip_address: '10.1.2.3',
        netmask: '255.255.0.0',
        routes: [
          { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.1.0.1' },
          { network: '172.16.0.0', netmask: '255.240.0.0', gateway: '10.1.0.254' },
        ],
        network_id: 'net-bbbbbbbb-2222-4222-8222-222222222222',
        services: [
          { type: 'dns', address: '192.0.2.53' },
          { type: 'dns', address: '192.0.2.54' },
        ],
      },
      {
        id: 'network2',
        type: 'ipv6_slaac',
        link: 'tapbbbbbbbb-22',
        ip_address: 'fd00::5',
        netmask: 'ffff:ffff:ffff:ffff::',
        routes: [{ network: '::', netmask: '::', gateway: 'fd00::1' }],
        network_id: 'net-bbbbbbbb-2222-4222-8222-222222222222',
        services: [],
      },
    ]);
    expect(d.services).toEqual([
      { type: 'dns', address: '192.0.2.53' },
      { type: 'dns', address: '192.0.2.54' },
    ]);
  });

  it('leaves out ports without an address and uses only the first subnet of each version', () => {
    const subnets = new Map([
      ['s1', subnet('s1', {})],
      ['s2', subnet('s2', { cidr: '10.9.0.0/24' })],
    ]);
    const d = networkDataOf(
      [
        port('cccccccc-3333-4333-8333-333333333333', []),
        port('dddddddd-4444-4444-8444-444444444444', [
          ['s1', '10.0.0.7'],
          ['s2', '10.9.0.7'],
        ]),
      ],
      subnets,
    );
    expect(d.links.map((l) => l.id)).toEqual(['tapdddddddd-44']);
    expect(d.networks).toHaveLength(1);
  });

  it('prints netmasks as Python does', () => {
    expect(netmaskOf(4, 0)).toBe('0.0.0.0');
    expect(netmaskOf(4, 32)).toBe('255.255.255.255');
    expect(netmaskOf(4, 20)).toBe('255.255.240.0');
    expect(netmaskOf(6, 0)).toBe('::');
    expect(netmaskOf(6, 48)).toBe('ffff:ffff:ffff::');
  });
});
