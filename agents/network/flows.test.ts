import { describe, expect, it } from 'vitest';
import { agentCookie, learnCookie, renderFlows, type FlowModel } from './flows.js';
import { compilePortRules, allowedSources, ruleMatches, protoMatch } from './security-groups.js';
import { floodPlan, tunnelPortName, isTunnelPort } from './tunnels.js';
import { inV4Cidr, parseV4Cidr } from '../../shared/util/ip.js';
import { portRangeMasks } from './flows.js';
import type { PortSpec, SecurityGroupSpec } from '../../shared/agent/network.js';
import { expectGolden } from '../../shared/testing/golden.js';

const SG = '5a000000-0000-4000-8000-000000000000';
const SGB = '5b000000-0000-4000-8000-000000000000';
const r = (direction: 'ingress' | 'egress', x: object = {}) => ({
  id: '70000000-0000-4000-8000-000000000000',
  direction,
  ethertype: 'IPv4' as const,
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_group_id: null,
  ...x,
});
const groups = new Map<string, SecurityGroupSpec>([
  [
    SG,
    {
      id: SG,
      member_ips: ['10.0.0.12', '10.0.0.11', 'fd00::1'],
      rules: [r('egress'), r('ingress', { remote_group_id: SG }), r('egress', { ethertype: 'IPv6' })],
    },
  ],
  [
    SGB,
    {
      id: SGB,
      member_ips: [],
      rules: [
        r('ingress', { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '192.0.2.0/24' }),
        r('ingress', { protocol: 'icmp', port_range_min: 8, port_range_max: null }),
      ],
    },
  ],
]);
const port: PortSpec = {
  port_id: '11000000-0000-4000-8000-000000000000',
  network_id: '10010000-0000-4000-8000-000000000000',
  mac: 'FA:16:3E:00:00:11',
  fixed_ips: [{ ip_address: '10.0.0.11' }],
  security_group_ids: [SG, SGB],
  port_security: true,
  allowed_address_pairs: [{ ip_address: '10.0.0.100/30' }],
};

describe('tunnels', () => {
  it('names a port after the peer address in 8 hex digits', () => {
    expect(tunnelPortName('192.0.2.2')).toBe('vxlan-c0000202');
    expect(tunnelPortName('10.255.0.1')).toBe('vxlan-0aff0001');
    expect(isTunnelPort('vxlan-0aff0001')).toBe(true);
    expect(isTunnelPort('vxlan-peer')).toBe(false);
    expect(() => tunnelPortName('fd00::1')).toThrow(/IPv4/);
  });
  it('floods each network only to its peers; a peer no network uses gets no tunnel', () => {
    const nets = [
      { id: 'a', type: 'vxlan' as const, vni: 1, mtu: 1450, peers: ['192.0.2.2'] },
      { id: 'b', type: 'vxlan' as const, vni: 2, mtu: 1450 },
      { id: 'c', type: 'flat' as const, physical_network: 'public', mtu: 1500 },
    ];
    const p = floodPlan(nets, [{ ip: '192.0.2.1' }, { ip: '192.0.2.2' }, { ip: '192.0.2.3' }], '192.0.2.1');
    expect(p.perNetwork.get('a')).toEqual(['192.0.2.2']);
    expect(p.perNetwork.get('b')).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(p.wanted).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(floodPlan(nets.slice(0, 1), [{ ip: '192.0.2.3' }], '192.0.2.1').wanted).toEqual(['192.0.2.2']);
    expect(floodPlan([], [{ ip: '192.0.2.2' }], '192.0.2.1').wanted).toEqual([]);
  });
});

describe('security groups → OpenFlow matches', () => {
  it('compiles rules: remote group to member IPs (IPv4 only), ports, icmp type, prefixes', () => {
    const c = compilePortRules(port, groups);
    expect(c.egress).toEqual(['ip']);
    expect(c.ingress).toEqual([
      'icmp,icmp_type=8',
      'ip,nw_src=10.0.0.11',
      'ip,nw_src=10.0.0.12',
      'tcp,nw_src=192.0.2.0/24,tp_dst=22',
    ]);
    expect(c.missing).toEqual([]);
    expect(compilePortRules({ ...port, security_group_ids: ['nope'] }, groups).missing).toEqual(['nope']);
  });
  it('splits port ranges into masks and maps protocol names and numbers', () => {
    expect(portRangeMasks(1000, 1999)).toEqual([
      '0x03e8/0xfff8',
      '0x03f0/0xfff0',
      '0x0400/0xfe00',
      '0x0600/0xff00',
      '0x0700/0xff80',
      '0x0780/0xffc0',
      '0x07c0/0xfff0',
    ]);
    expect(portRangeMasks(0, 65535)).toEqual([]);
    expect(portRangeMasks(80, 81)).toEqual(['0x0050/0xfffe']);
    expect(
      ruleMatches(
        r('egress', { protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: '0.0.0.0/0' }),
        groups,
      ),
    ).toEqual(['udp,tp_dst=53']);
    expect(protoMatch('132')).toEqual({ match: 'ip,nw_proto=132', kind: 'other' });
    expect(protoMatch('bogus')).toBeNull();
  });
  it('allowed sources: fixed IPs and address pairs, MAC lower-cased', () => {
    expect(allowedSources(port)).toEqual([
      { mac: 'fa:16:3e:00:00:11', ip: '10.0.0.100/30' },
      { mac: 'fa:16:3e:00:00:11', ip: '10.0.0.11' },
    ]);
  });
  it('IPv4 helpers', () => {
    expect(parseV4Cidr('10.0.0.5/24')).toEqual({ network: '10.0.0.0', prefix: 24, netmask: '255.255.255.0', size: 256 });
    expect(parseV4Cidr('fd00::/64')).toBeNull();
    expect(inV4Cidr('10.0.1.1', '10.0.0.0/23')).toBe(true);
    expect(inV4Cidr('10.0.2.1', '10.0.0.0/23')).toBe(false);
  });
});

describe('flow rendering', () => {
  const cookie = agentCookie('host-a');
  it('derives a stable per-host cookie with the low bit free for learned flows', () => {
    expect(agentCookie('host-a')).toBe(cookie);
    expect(agentCookie('host-b')).not.toBe(cookie);
    expect(cookie & 1n).toBe(0n);
    expect(learnCookie(cookie)).toBe(cookie | 1n);
  });
  it('renders every bridge for two networks, a protected port, a DHCP port and a flat network (golden)', async () => {
    const c = compilePortRules(port, groups);
    const model: FlowModel = {
      cookie,
      patchTun: 1,
      patchInt: 1,
      tunnelPorts: [2, 3],
      networks: [
        { vlan: 1, vni: 1001, flood: [3, 2] },
        { vlan: 2, vni: 1002, flood: [] },
        { vlan: 3, vni: null, flood: [], phys: { bridge: 'br-ex', intOfport: 4, phyOfport: 1 } },
      ],
      ports: [
        {
          ofport: 5,
          vlan: 1,
          mac: 'fa:16:3e:00:00:11',
          protected: true,
          allowed: allowedSources(port),
          egress: c.egress,
          ingress: c.ingress,
        },
        { ofport: 6, vlan: 1, mac: '', protected: false, allowed: [], egress: [], ingress: [] },
      ],
      physBridges: ['br-ex'],
    };
    const out = renderFlows(model, { int: 'br-int', tun: 'br-tun' });
    expect([...out.keys()]).toEqual(['br-int', 'br-tun', 'br-ex']);
    const text = [...out].map(([b, lines]) => `# ${b}\n${lines.join('\n')}\n`).join('');
    expectGolden(new URL('./testdata/flows-two-networks.golden', import.meta.url).pathname, text);
    // flooding only within a network, to its own peers
    expect(out.get('br-tun')!.filter((l) => l.includes('table=22,priority=1'))).toEqual([
      `cookie=0x${cookie.toString(16)},table=22,priority=1,dl_vlan=1,actions=pop_vlan,set_field:0x3e9->tun_id,output:2,output:3`,
    ]);
    // every flow carries the cookie
    for (const lines of out.values()) for (const l of lines) expect(l.startsWith(`cookie=0x${cookie.toString(16)},`)).toBe(true);
  });
  it('sends a live-migrating port where its guest last sent from: the source delivers until told, the destination after', () => {
    const c = compilePortRules(port, groups);
    const ck = `cookie=0x${cookie.toString(16)}`;
    const lck = `0x${learnCookie(cookie).toString(16)}`;
    const flowsFor = (migration: 'source' | 'destination' | undefined) => {
      const model: FlowModel = {
        cookie,
        patchTun: 1,
        patchInt: 1,
        tunnelPorts: [2],
        networks: [{ vlan: 1, vni: 1001, flood: [2] }],
        ports: [
          {
            ofport: 5,
            vlan: 1,
            mac: 'fa:16:3e:00:00:11',
            protected: true,
            allowed: allowedSources(port),
            egress: c.egress,
            ingress: c.ingress,
            ...(migration ? { migration } : {}),
          },
        ],
        physBridges: [],
      };
      return renderFlows(model, { int: 'br-int', tun: 'br-tun' }).get('br-int')!;
    };
    const learn = (reg7: string) =>
      `learn(table=58,idle_timeout=60,priority=1,cookie=${lck},NXM_NX_REG6[],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:${reg7}->NXM_NX_REG7[])`;
    const plain = flowsFor(undefined);
    expect(plain).toContain(
      `${ck},table=60,priority=100,reg6=1,dl_dst=fa:16:3e:00:00:11,actions=load:5->NXM_NX_REG7[],resubmit(,81)`,
    );
    expect(plain.filter((l) => l.includes('learn('))).toEqual([]);
    for (const [migration, first] of [
      ['source', 5],
      ['destination', 0],
    ] as const) {
      const f = flowsFor(migration);
      // a frame from the local port says "here", one from a tunnel with its MAC "elsewhere"
      expect(f).toContain(`${ck},table=0,priority=100,in_port=5,actions=load:1->NXM_NX_REG6[],${learn('0x5')},resubmit(,71)`);
      expect(f).toContain(
        `${ck},table=0,priority=85,in_port=1,dl_vlan=1,dl_src=fa:16:3e:00:00:11,actions=load:1->NXM_NX_REG6[],load:1->NXM_NX_REG4[],${learn('0x0')},pop_vlan,resubmit(,60)`,
      );
      // until a frame is seen: the source keeps it, the destination sends it on (NORMAL)
      expect(f).toContain(
        `${ck},table=60,priority=100,reg6=1,dl_dst=fa:16:3e:00:00:11,actions=load:${first}->NXM_NX_REG7[],resubmit(,58),resubmit(,59)`,
      );
      // delivered locally only through the port's security groups (table 81)
      expect(f).toContain(`${ck},table=59,priority=100,reg7=5,actions=resubmit(,81)`);
      expect(f).toContain(`${ck},table=59,priority=0,actions=NORMAL`);
      expect(f.filter((l) => l.includes('table=81') && l.includes('reg7=5')).length).toBeGreaterThan(0);
      // QEMU's announce (RARP) leaves the port
      expect(f).toContain(`${ck},table=71,priority=90,in_port=5,rarp,dl_src=fa:16:3e:00:00:11,actions=resubmit(,60)`);
    }
  });
});
