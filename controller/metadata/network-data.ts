import type { NetworkData } from '../../shared/agent/compute.js';
import type { PortInfo, SubnetInfo } from '../facades.js';

/**
 * network_data.json as Nova's netutils.get_network_metadata writes it:
 * - one link per port (`tap<port[:11]>`, type ovs, its MAC and the network's MTU);
 * - per port, the first IPv4 and the first IPv6 subnet it has an address in, numbered
 *   network0, network1... across all ports: `ipv4_dhcp`/`ipv6_dhcp` when the subnet has
 *   DHCP, otherwise the address itself (`ipv4`, or `ipv6_<address mode>`) with its
 *   netmask, the default route via the gateway plus the subnet's host routes, and its
 *   DNS servers;
 * - `services`: every DNS server of those subnets, once.
 * Nova leaves `mtu` null on links whose network has a DHCP server (DHCP gives it); the
 * MTU is kept here on every link, since our dnsmasq sends the same value and a guest
 * that applies it from either place gets 1450 on VXLAN.
 */
export function networkDataOf(ports: PortInfo[], subnets: Map<string, SubnetInfo>): NetworkData {
  const links: NetworkData['links'] = [];
  const networks: NetworkData['networks'] = [];
  const services: NetworkData['services'] = [];
  const addService = (s: { type: string; address: string }) => {
    if (!services.some((x) => x.type === s.type && x.address === s.address)) services.push(s);
  };
  let n = 0;
  for (const p of ports) {
    const firstOf = (v: 4 | 6) => {
      for (const f of p.fixed_ips) {
        const s = subnets.get(f.subnet_id);
        if (s && s.ip_version === v) return { s, ip: f.ip_address };
      }
      return null;
    };
    const v4 = firstOf(4);
    const v6 = firstOf(6);
    if (!v4 && !v6) continue;
    const link = `tap${p.id.slice(0, 11)}`;
    links.push({ id: link, vif_id: p.id, type: 'ovs', mtu: p.mtu, ethernet_mac_address: p.mac_address });
    for (const [v, a] of [
      [4, v4],
      [6, v6],
    ] as const) {
      if (!a) continue;
      const id = `network${n++}`;
      const s = a.s;
      const dns = s.dns_nameservers.map((address) => ({ type: 'dns', address }));
      if (v === 6 ? !s.ipv6_address_mode && s.enable_dhcp : s.enable_dhcp) {
        networks.push({ id, type: `ipv${v}_dhcp`, link, network_id: p.network_id });
      } else {
        const routes: Array<{ network: string; netmask: string; gateway: string }> = [];
        if (s.gateway_ip)
          routes.push(
            v === 4
              ? { network: '0.0.0.0', netmask: '0.0.0.0', gateway: s.gateway_ip }
              : { network: '::', netmask: '::', gateway: s.gateway_ip },
          );
        for (const r of s.host_routes) {
          const [net, len] = r.destination.split('/');
          routes.push({ network: net!, netmask: netmaskOf(v, Number(len)), gateway: r.nexthop });
        }
        networks.push({
          id,
          type: v === 6 && s.ipv6_address_mode ? `ipv6_${s.ipv6_address_mode}` : `ipv${v}`,
          link,
          ip_address: a.ip,
          netmask: netmaskOf(v, Number(s.cidr.split('/')[1])),
          routes,
          network_id: p.network_id,
          services: dns,
        });
      }
      for (const d of dns) addService(d);
    }
  }
  return { links, networks, services };
}

/** "255.255.255.0" for (4, 24); "ffff:ffff:ffff:ffff::" for (6, 64). */
export function netmaskOf(v: 4 | 6, prefix: number): string {
  if (v === 4) {
    const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return [24, 16, 8, 0].map((sh) => (m >>> sh) & 255).join('.');
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    groups.push(bits === 0 ? '0' : ((0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  // Compress the trailing zero groups as Python's netaddr/ipaddress prints them.
  const s = groups.join(':').replace(/(:0)+$/, '::');
  return s === '0::' || s === '0' ? '::' : s;
}
