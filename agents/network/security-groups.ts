import type { PortSpec, SecurityGroupRule, SecurityGroupSpec } from '../../shared/agent/network.js';
import { isV4, parseV4Cidr } from '../../shared/util/ip.js';
import { portRangeMasks } from './flows.js';

/**
 * Security groups → OpenFlow matches for br-int's RULES_EGRESS / RULES_INGRESS tables.
 *
 * Why OVS conntrack flows and not nftables: with the userspace (netdev) datapath the
 * guest's tap and every veth are read by ovs-vswitchd through AF_PACKET, and frames
 * switched between two of them never enter the kernel's bridge or IP stack, so kernel
 * netfilter (nftables/iptables) never sees VM-to-VM traffic. OVS's ct() action works in
 * the userspace datapath (its own conntrack), so stateful filtering lives in br-int as in
 * Neutron's openvswitch firewall driver. Each port gets its own conntrack zone (its
 * ofport), so the egress check of one VM and the ingress check of another on the same
 * host are tracked separately.
 *
 * Semantics (Neutron's): default deny inbound, allow only what egress rules allow (the
 * default group allows all egress), rules are unions; remote_group_id matches the
 * group's members' fixed IPs. IPv4 only for now: IPv6 rules are skipped and IPv6
 * traffic from port-security ports is dropped by the anti-spoofing table.
 */

const PROTO_NUM: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, sctp: 132, gre: 47, esp: 50, ah: 51, igmp: 2, vrrp: 112 };

/** The OpenFlow protocol prefix of a rule, or null when it cannot be expressed. */
export function protoMatch(protocol: string | null): { match: string; kind: 'ip' | 'tcp' | 'udp' | 'icmp' | 'other' } | null {
  if (protocol === null || protocol === '' || protocol === 'any') return { match: 'ip', kind: 'ip' };
  const n = /^\d+$/.test(protocol) ? Number(protocol) : PROTO_NUM[protocol.toLowerCase()];
  if (n === undefined || n > 255) return null;
  if (n === 6) return { match: 'tcp', kind: 'tcp' };
  if (n === 17) return { match: 'udp', kind: 'udp' };
  if (n === 1) return { match: 'icmp', kind: 'icmp' };
  return { match: `ip,nw_proto=${n}`, kind: 'other' };
}

/** The matches of one rule (several when it names a port range or a group). */
export function ruleMatches(rule: SecurityGroupRule, groups: ReadonlyMap<string, SecurityGroupSpec>): string[] {
  if (rule.ethertype !== 'IPv4') return [];
  const proto = protoMatch(rule.protocol);
  if (!proto) return [];
  const field = rule.direction === 'ingress' ? 'nw_src' : 'nw_dst';
  let remotes: Array<string | null> = [null];
  if (rule.remote_ip_prefix) {
    const c = parseV4Cidr(rule.remote_ip_prefix.includes('/') ? rule.remote_ip_prefix : `${rule.remote_ip_prefix}/32`);
    if (!c) return [];
    remotes = [c.prefix === 0 ? null : c.prefix === 32 ? c.network : `${c.network}/${c.prefix}`];
  } else if (rule.remote_group_id) {
    const g = groups.get(rule.remote_group_id);
    remotes = [...new Set((g?.member_ips ?? []).filter(isV4))].sort();
    if (!remotes.length) return [];
  }
  let l4: string[] = [''];
  if ((proto.kind === 'tcp' || proto.kind === 'udp') && rule.port_range_min !== null) {
    const masks = portRangeMasks(rule.port_range_min, rule.port_range_max ?? rule.port_range_min);
    if (masks.length) l4 = masks.map((m) => `tp_dst=${m}`);
  } else if (proto.kind === 'icmp' && rule.port_range_min !== null) {
    l4 = [`icmp_type=${rule.port_range_min}${rule.port_range_max !== null ? `,icmp_code=${rule.port_range_max}` : ''}`];
  }
  const out: string[] = [];
  for (const r of remotes) {
    for (const x of l4) out.push([proto.match, r ? `${field}=${r}` : '', x].filter(Boolean).join(','));
  }
  return out;
}

/** Egress and ingress matches for a port from all its groups (deduplicated, sorted). */
export function compilePortRules(
  port: PortSpec,
  groups: ReadonlyMap<string, SecurityGroupSpec>,
): { egress: string[]; ingress: string[]; missing: string[] } {
  const egress = new Set<string>();
  const ingress = new Set<string>();
  const missing: string[] = [];
  for (const gid of port.security_group_ids) {
    const g = groups.get(gid);
    if (!g) {
      missing.push(gid);
      continue;
    }
    for (const rule of g.rules)
      for (const m of ruleMatches(rule, groups)) (rule.direction === 'egress' ? egress : ingress).add(m);
  }
  return { egress: [...egress].sort(), ingress: [...ingress].sort(), missing };
}

/** The (MAC, IPv4) pairs a port may send from: fixed IPs plus allowed address pairs. */
export function allowedSources(port: PortSpec): Array<{ mac: string; ip: string }> {
  const mac = port.mac.toLowerCase();
  const out = new Map<string, { mac: string; ip: string }>();
  for (const f of port.fixed_ips) if (isV4(f.ip_address)) out.set(`${mac} ${f.ip_address}`, { mac, ip: f.ip_address });
  for (const p of port.allowed_address_pairs) {
    const pm = (p.mac_address ?? mac).toLowerCase();
    const c = parseV4Cidr(p.ip_address.includes('/') ? p.ip_address : `${p.ip_address}/32`);
    if (!c) continue;
    const ip = c.prefix === 32 ? c.network : `${c.network}/${c.prefix}`;
    out.set(`${pm} ${ip}`, { mac: pm, ip });
  }
  return [...out.values()].sort((a, b) => `${a.mac} ${a.ip}`.localeCompare(`${b.mac} ${b.ip}`));
}
