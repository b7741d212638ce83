import type { DhcpSpec, NetworkSpec, PortSpec, RouterSpec, SecurityGroupSpec } from '../../../shared/agent/network.js';
import type { DesiredState } from '../driver.js';

/**
 * The desired states of the two-host system scenario, as the controller would compute
 * them: N1 (vxlan 1001) spans hosts A and B, N2 (vxlan 1002) only B with the SAME subnet
 * 10.0.0.0/24 (isolation by VNI, not by routing), EXT is the flat "public" network on
 * host A's br-ex (172.24.4.0/24, host address .1).
 */

const u = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
export const ID = {
  N1: u(0x1001),
  N2: u(0x1002),
  EXT: u(0x1e0),
  SUB1: u(0x5001),
  SUB2: u(0x5002),
  SUBX: u(0x5e0),
  G1: u(0x11),
  G2: u(0x12),
  G3: u(0x13),
  G4: u(0x14),
  G5: u(0x15),
  DHCP1: u(0xd1),
  DHCP2: u(0xd2),
  QR: u(0xa1),
  QG: u(0xa2),
  R: u(0xa0),
  SGA: u(0x5a),
  SGB: u(0x5b),
};
export const MAC = {
  G1: 'fa:16:3e:00:00:11',
  G2: 'fa:16:3e:00:00:12',
  G3: 'fa:16:3e:00:00:13',
  G4: 'fa:16:3e:00:00:14',
  G5: 'fa:16:3e:00:00:15',
  DHCP1: 'fa:16:3e:00:00:d1',
  DHCP2: 'fa:16:3e:00:00:d2',
  QR: 'fa:16:3e:00:00:a1',
  QG: 'fa:16:3e:00:00:a2',
};
export const IP = {
  G1: '10.0.0.11',
  G2: '10.0.0.12',
  G3: '10.0.0.13',
  G4: '10.0.0.14',
  G5: '10.0.0.15',
  DHCP: '10.0.0.2',
  ROUTER: '10.0.0.1',
  GW: '172.24.4.10',
  FIP: '172.24.4.20',
  HOST_EXT: '172.24.4.1',
};

const vx = (id: string, vni: number, peers: string[]): NetworkSpec => ({ id, type: 'vxlan', vni, mtu: 1450, peers });
const port = (id: string, net: string, mac: string, ip: string, sgs: string[]): PortSpec => ({
  port_id: id,
  network_id: net,
  mac,
  fixed_ips: [{ ip_address: ip }],
  device_owner: 'compute:nova',
  security_group_ids: sgs,
  port_security: true,
  allowed_address_pairs: [],
});
const rule = (id: number, direction: 'ingress' | 'egress', extra: Partial<SecurityGroupSpec['rules'][number]> = {}) => ({
  id: u(0x7000 + id),
  direction,
  ethertype: 'IPv4' as const,
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_group_id: null,
  ...extra,
});

export function securityGroups(o: { sgbIcmp: boolean; sgbTcp: boolean }): SecurityGroupSpec[] {
  return [
    {
      id: ID.SGA,
      member_ips: [IP.G1, IP.G2, IP.G3, IP.G5],
      rules: [
        rule(1, 'egress'),
        rule(2, 'ingress', { remote_group_id: ID.SGA }),
        rule(3, 'ingress', { protocol: 'icmp', remote_ip_prefix: '0.0.0.0/0' }),
      ],
    },
    {
      id: ID.SGB,
      member_ips: [IP.G4],
      rules: [
        rule(4, 'egress'),
        ...(o.sgbIcmp ? [rule(5, 'ingress', { protocol: 'icmp' })] : []),
        ...(o.sgbTcp ? [rule(6, 'ingress', { protocol: 'tcp', port_range_min: 5001, port_range_max: 5001 })] : []),
      ],
    },
  ];
}

const dhcp = (
  net: string,
  portId: string,
  mac: string,
  sub: string,
  gw: string | null,
  hosts: Array<[string, string]>,
): DhcpSpec => ({
  network_id: net,
  mtu: 1450,
  port: { port_id: portId, mac, fixed_ips: [{ subnet_id: sub, ip_address: IP.DHCP }] },
  subnets: [{ id: sub, cidr: '10.0.0.0/24', ip_version: 4, gateway_ip: gw, dns_nameservers: [], host_routes: [] }],
  hosts: hosts.map(([m, ip]) => ({ mac: m, ip_address: ip })),
});

export const router = (fip: boolean): RouterSpec => ({
  id: ID.R,
  interfaces: [{ port_id: ID.QR, network_id: ID.N1, subnet_id: ID.SUB1, mac: MAC.QR, ip_cidr: `${IP.ROUTER}/24` }],
  gateway: {
    port_id: ID.QG,
    network_id: ID.EXT,
    mac: MAC.QG,
    ip_cidr: `${IP.GW}/24`,
    gateway_ip: IP.HOST_EXT,
    enable_snat: true,
  },
  floating_ips: fip ? [{ floating_ip_address: IP.FIP, fixed_ip_address: IP.G1, port_id: ID.G1 }] : [],
});

export interface ScenarioOptions {
  sgbIcmp?: boolean;
  sgbTcp?: boolean;
  fip?: boolean;
  /** Host B still has N2 (and g3, its DHCP). */
  bHasN2?: boolean;
  /** Host B still has N1 (and g2). */
  bHasN1?: boolean;
  g5?: boolean;
}

export function hostA(ips: { a: string; b: string }, o: ScenarioOptions = {}): DesiredState {
  const n1hosts: Array<[string, string]> = [
    [MAC.G1, IP.G1],
    [MAC.G2, IP.G2],
    [MAC.G4, IP.G4],
    [MAC.G5, IP.G5],
  ];
  return {
    generation: Date.now(),
    tunnels: [
      { ip: ips.a, host: 'a' },
      { ip: ips.b, host: 'b' },
    ],
    networks: [
      vx(ID.N1, 1001, o.bHasN1 === false ? [] : [ips.b]),
      { id: ID.EXT, type: 'flat', physical_network: 'public', vni: null, mtu: 1500 },
    ],
    ports: [port(ID.G1, ID.N1, MAC.G1, IP.G1, [ID.SGA]), port(ID.G4, ID.N1, MAC.G4, IP.G4, [ID.SGB])],
    security_groups: securityGroups({ sgbIcmp: !!o.sgbIcmp, sgbTcp: !!o.sgbTcp }),
    dhcp: [dhcp(ID.N1, ID.DHCP1, MAC.DHCP1, ID.SUB1, IP.ROUTER, n1hosts)],
    routers: [router(!!o.fip)],
  };
}

export function hostB(ips: { a: string; b: string }, o: ScenarioOptions = {}): DesiredState {
  const hasN1 = o.bHasN1 !== false;
  const hasN2 = o.bHasN2 !== false;
  return {
    generation: Date.now(),
    tunnels: [
      { ip: ips.a, host: 'a' },
      { ip: ips.b, host: 'b' },
    ],
    networks: [...(hasN1 ? [vx(ID.N1, 1001, [ips.a])] : []), ...(hasN2 ? [vx(ID.N2, 1002, [])] : [])],
    ports: [
      ...(hasN1 ? [port(ID.G2, ID.N1, MAC.G2, IP.G2, [ID.SGA])] : []),
      ...(hasN1 && o.g5 ? [port(ID.G5, ID.N1, MAC.G5, IP.G5, [ID.SGA])] : []),
      ...(hasN2 ? [port(ID.G3, ID.N2, MAC.G3, IP.G3, [ID.SGA])] : []),
    ],
    security_groups: securityGroups({ sgbIcmp: false, sgbTcp: false }),
    dhcp: hasN2 ? [dhcp(ID.N2, ID.DHCP2, MAC.DHCP2, ID.SUB2, null, [[MAC.G3, IP.G3]])] : [],
    routers: [],
  };
}

/** `n` vxlan networks and `peers` tunnel peers (the convergence measurement), optionally a DHCP server on each. */
export function manyNetworks(n: number, peers: string[], self: string, o: { dhcp?: boolean } = {}): DesiredState {
  const hex2 = (x: number) => x.toString(16).padStart(2, '0');
  return {
    generation: Date.now(),
    tunnels: [self, ...peers].map((ip) => ({ ip })),
    networks: Array.from({ length: n }, (_, i) => vx(u(0x200000 + i), 5000 + i, peers)),
    ports: [],
    security_groups: [],
    routers: [],
    dhcp: !o.dhcp
      ? []
      : Array.from(
          { length: n },
          (_, i): DhcpSpec => ({
            network_id: u(0x200000 + i),
            mtu: 1450,
            port: {
              port_id: u(0x400000 + i),
              mac: `fa:16:3e:01:${hex2(i >> 8)}:${hex2(i & 255)}`,
              fixed_ips: [{ ip_address: IP.DHCP }],
            },
            subnets: [
              {
                id: u(0x600000 + i),
                cidr: '10.0.0.0/24',
                ip_version: 4,
                gateway_ip: IP.ROUTER,
                dns_nameservers: [],
                host_routes: [],
              },
            ],
            hosts: [{ mac: 'fa:16:3e:aa:00:01', ip_address: '10.0.0.5' }],
          }),
        ),
  };
}
