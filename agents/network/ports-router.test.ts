import { describe, expect, it } from 'vitest';
import type { PortSpec, RouterSpec } from '../../shared/agent/network.js';
import type { OvsInterface, OvsPort } from '../../shared/tools/ovs-vsctl.js';
import { DEAD_VLAN } from './flows.js';
import { deviceName, planVmPorts, staleOwnedPorts } from './ports.js';
import { METADATA_FILTER, renderRouterNat, renderRouterTable } from './router.js';

const P1 = '11000000-0000-4000-8000-000000000000';
const P2 = '12000000-0000-4000-8000-000000000000';
const P3 = '13000000-0000-4000-8000-000000000000';
const NET = '10010000-0000-4000-8000-000000000000';
const spec = (id: string, x: Partial<PortSpec> = {}): PortSpec => ({
  port_id: id,
  network_id: NET,
  mac: 'fa:16:3e:00:00:01',
  fixed_ips: [],
  security_group_ids: [],
  port_security: true,
  allowed_address_pairs: [],
  ...x,
});
const iface = (name: string, ofport: number, ext: Record<string, string>): OvsInterface => ({
  name,
  ofport,
  type: '',
  externalIds: ext,
  options: {},
  macInUse: null,
});

describe('VM port plan', () => {
  it('tags found ports, adds type=ethernet taps, leaves absent ones DOWN, dead-VLANs unknown ones, deletes gone ones', () => {
    const interfaces = [
      iface('tap11000000-00', 7, { 'iface-id': P1 }),
      iface('tapold', 8, { 'iface-id': 'someone-else' }),
      iface('tapgone', -1, { 'iface-id': 'gone' }),
      iface('tapdhcp', 9, { 'iface-id': 'd', 'homestack-owner': 'dhcp' }),
    ];
    const ports: OvsPort[] = [
      { name: 'tap11000000-00', tag: null, externalIds: {} },
      { name: 'tapold', tag: 3, externalIds: {} },
      { name: 'tapdhcp', tag: 1, externalIds: {} },
    ];
    const plan = planVmPorts({
      bridge: 'br-int',
      desired: [spec(P1), spec(P2), spec(P3)],
      vlanOf: () => 4,
      interfaces,
      ports,
      links: new Set([deviceName(P2)]),
      onBridge: new Set(['tap11000000-00', 'tapold', 'tapgone', 'tapdhcp']),
    });
    expect(plan.commands).toEqual([
      ['set', 'Port', 'tap11000000-00', 'tag=4'],
      ['--may-exist', 'add-port', 'br-int', 'tap12000000-00', 'tag=4'],
      [
        'set',
        'Interface',
        'tap12000000-00',
        `external_ids:iface-id=${P2}`,
        'external_ids:attached-mac=fa:16:3e:00:00:01',
        'external_ids:iface-status=active',
      ],
      ['set', 'Port', 'tapold', `tag=${DEAD_VLAN}`],
      ['--if-exists', 'del-port', 'tapgone'],
    ]);
    expect(Object.fromEntries(plan.status)).toEqual({ [P1]: 'ACTIVE', [P2]: 'ACTIVE', [P3]: 'DOWN' });
  });
  it('admin-down ports go to the dead VLAN; an unchanged tag makes no command', () => {
    const plan = planVmPorts({
      bridge: 'br-int',
      desired: [spec(P1, { admin_state_up: false })],
      vlanOf: () => 4,
      interfaces: [iface('tap11000000-00', 7, { 'iface-id': P1 })],
      ports: [{ name: 'tap11000000-00', tag: DEAD_VLAN, externalIds: {} }],
      links: new Set(),
      onBridge: new Set(['tap11000000-00']),
    });
    expect(plan.commands).toEqual([]);
    expect(plan.status.get(P1)).toBe('DOWN');
  });
  it('stale agent-owned ports are those not wanted any more', () => {
    expect(
      staleOwnedPorts(
        [iface('a', 1, { 'homestack-owner': 'dhcp' }), iface('b', 2, { 'homestack-owner': 'router' }), iface('c', 3, {})],
        new Set(['a']),
      ),
    ).toEqual(['b']);
  });
});

describe('router NAT ruleset', () => {
  const r: RouterSpec = {
    id: 'a0000000-0000-4000-8000-000000000000',
    interfaces: [
      { port_id: 'a1000000-0000-4000-8000-000000000000', network_id: NET, mac: 'fa:16:3e:00:00:a1', ip_cidr: '10.0.0.1/24' },
    ],
    gateway: {
      port_id: 'a2000000-0000-4000-8000-000000000000',
      network_id: NET,
      mac: 'fa:16:3e:00:00:a2',
      ip_cidr: '172.24.4.10/24',
      gateway_ip: '172.24.4.1',
      enable_snat: true,
    },
    floating_ips: [{ floating_ip_address: '172.24.4.20', fixed_ip_address: '10.0.0.11' }],
  };
  it('DNAT for floating IPs (prerouting and local output), floating SNAT before the router SNAT', () => {
    expect(renderRouterNat(r)).toBe(
      [
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        '    ip daddr 172.24.4.20 dnat to 10.0.0.11',
        '  }',
        '  chain output {',
        '    type nat hook output priority -100; policy accept;',
        '    ip daddr 172.24.4.20 dnat to 10.0.0.11',
        '  }',
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        '    oifname "qg-a2000000-00" ip saddr 10.0.0.11 snat to 172.24.4.20',
        '    oifname "qg-a2000000-00" ip saddr { 10.0.0.0/24 } snat to 172.24.4.10',
        '  }',
        '',
      ].join('\n'),
    );
  });
  it('no SNAT rule without enable_snat; no table without a gateway', () => {
    expect(renderRouterNat({ ...r, floating_ips: [], gateway: { ...r.gateway!, enable_snat: false } })).not.toMatch(/snat/);
    expect(renderRouterNat({ ...r, gateway: null })).toBe('');
  });
  it('serving metadata adds the input chain that lets only qr- legs and lo reach 169.254.169.254, with or without a gateway', () => {
    const md = { ...r, metadata: { instances: [] } };
    expect(renderRouterTable(md)).toBe(renderRouterNat(r) + METADATA_FILTER);
    expect(renderRouterTable({ ...md, gateway: null })).toBe(METADATA_FILTER);
    expect(METADATA_FILTER).toMatch(
      /ip daddr 169\.254\.169\.254 iifname "qr-\*" accept\n.*iifname "lo" accept\n.*169\.254\.169\.254 drop/s,
    );
    expect(renderRouterTable({ ...r, gateway: null })).toBe('');
  });
});
