/** A complete, valid `network.sync` body (contract tests on both sides use it). */
export const NET = '11111111-1111-4111-8111-111111111111';
export const PORT = '22222222-2222-4222-8222-222222222222';
export const SG = '33333333-3333-4333-8333-333333333333';
export const SUB = '44444444-4444-4444-8444-444444444444';

export const sampleSync = {
  generation: 1,
  tunnels: [{ ip: '192.0.2.2', host: 'b' }],
  networks: [{ id: NET, type: 'vxlan', vni: 1001, mtu: 1450, peers: ['192.0.2.2'] }],
  ports: [
    {
      port_id: PORT,
      network_id: NET,
      mac: 'fa:16:3e:00:00:01',
      fixed_ips: [{ subnet_id: SUB, ip_address: '10.0.0.5' }],
      device_owner: 'compute:nova',
      security_group_ids: [SG],
      port_security: true,
      allowed_address_pairs: [],
    },
  ],
  security_groups: [
    {
      id: SG,
      member_ips: ['10.0.0.5'],
      rules: [
        {
          id: PORT,
          direction: 'egress',
          ethertype: 'IPv4',
          protocol: null,
          port_range_min: null,
          port_range_max: null,
          remote_ip_prefix: null,
          remote_group_id: null,
        },
        {
          id: NET,
          direction: 'ingress',
          ethertype: 'IPv4',
          protocol: null,
          port_range_min: null,
          port_range_max: null,
          remote_ip_prefix: null,
          remote_group_id: SG,
        },
      ],
    },
  ],
  dhcp: [
    {
      network_id: NET,
      mtu: 1450,
      port: { port_id: SG, mac: 'fa:16:3e:00:00:02', fixed_ips: [{ subnet_id: SUB, ip_address: '10.0.0.2' }] },
      subnets: [{ id: SUB, cidr: '10.0.0.0/24', ip_version: 4, gateway_ip: '10.0.0.1', dns_nameservers: [], host_routes: [] }],
      hosts: [{ mac: 'fa:16:3e:00:00:01', ip_address: '10.0.0.5', hostname: 'host-10-0-0-5' }],
    },
  ],
  routers: [
    {
      id: SUB,
      floating_ips: [{ floating_ip_address: '172.24.4.10', fixed_ip_address: '10.0.0.5' }],
      interfaces: [{ port_id: PORT, network_id: NET, mac: 'fa:16:3e:00:00:03', ip_cidr: '10.0.0.1/24' }],
      gateway: {
        port_id: SG,
        network_id: NET,
        mac: 'fa:16:3e:00:00:04',
        ip_cidr: '172.24.4.5/24',
        gateway_ip: '172.24.4.1',
        enable_snat: true,
      },
    },
  ],
};
