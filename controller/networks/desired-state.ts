import type {
  DhcpSpec,
  MetadataInstance,
  NetworkSpec,
  NetworkSyncBody,
  PortSpec,
  RouterSpec,
  SecurityGroupSpec,
  TunnelPeer,
} from '../../shared/agent/network.js';
import { ipVersionOf, parseCidr } from '../../shared/util/ip.js';
import type { NetworkRow } from './networks.repo.js';
import type { FixedIpT, PortRow } from './ports.repo.js';
import type { FloatingIpRow } from './floatingips.repo.js';
import type { RouterRow } from './routers.repo.js';
import type { RuleRow } from './secgroups.repo.js';
import type { SubnetRow } from './subnets.repo.js';

/**
 * What each host's network agent must have, computed from the database rows alone
 * (a pure function: no I/O, no clock). The result per host is the body of
 * `network.sync` without its generation (shared/agent/network.ts).
 *
 * - A host has a network when something of it lives there: a bound VM port, the
 *   network's DHCP server, or an interface or gateway of a router the host runs.
 * - VXLAN flooding (l2population's idea): each network lists the other hosts that
 *   have it; the host's tunnels are the union of those peers, so a tunnel disappears
 *   when the last network shared with that peer goes.
 * - Security groups: every group a port here uses, and every group their rules name
 *   as remote_group_id, with the fixed addresses of all members on any host.
 */
export interface DesiredHost {
  name: string;
  tunnel_ip: string;
  roles: string[];
  /**
   * The host's network agent understands PortSpec.live_migration (it says so in its
   * registration's capabilities); an agent of the release before rejects the field, so
   * it gets the ordinary port (the switch-over then waits for the controller, as before).
   */
  moving_ports?: boolean;
}
export interface DesiredPort extends PortRow {
  fixed_ips: FixedIpT[];
  security_groups: string[];
}
export interface Snapshot {
  hosts: DesiredHost[];
  networks: NetworkRow[];
  subnets: SubnetRow[];
  ports: DesiredPort[];
  routers: RouterRow[];
  floatingips: FloatingIpRow[];
  rules: RuleRow[];
  /** All security group ids (rules of empty groups are absent from `rules`). */
  groups: string[];
  dhcpLeaseSeconds?: number;
  /** false: no metadata proxy (DhcpSpec.metadata and RouterSpec.metadata left out). */
  metadataService?: boolean;
}
export type DesiredState = Omit<NetworkSyncBody, 'generation'>;

const SERVICE_OWNERS = new Set(['network:dhcp', 'network:router_interface', 'network:router_gateway', 'network:floatingip']);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Neutron's DHCP host name for an address: host-10-0-0-5. */
export const dhcpHostname = (ip: string): string => `host-${ip.replace(/[.:]/g, '-')}`.slice(0, 63);

function prefixOf(subnets: Map<string, SubnetRow>, f: FixedIpT): string | null {
  const sn = subnets.get(f.subnet_id);
  const c = sn && parseCidr(sn.cidr);
  return c ? `${f.ip_address}/${c.prefix}` : null;
}

/**
 * The instances a metadata proxy serves: every server port's IPv4 address in one of
 * `subnetIds`, with its server and project (Neutron's metadata agent finds the same
 * through the port's device_id and tenant).
 */
function metadataInstances(ports: DesiredPort[], subnetIds: Set<string>): MetadataInstance[] {
  return ports
    .filter((p) => p.device_owner.startsWith('compute:') && p.device_id && p.project_id)
    .flatMap((p) =>
      p.fixed_ips
        .filter((f) => subnetIds.has(f.subnet_id) && IPV4.test(f.ip_address))
        .map((f) => ({ ip_address: f.ip_address, instance_id: p.device_id, project_id: p.project_id })),
    );
}

export function computeDesiredState(snap: Snapshot): Map<string, DesiredState> {
  const nets = new Map(snap.networks.map((n) => [n.id, n]));
  const subnets = new Map(snap.subnets.map((s) => [s.id, s]));
  const portsById = new Map(snap.ports.map((p) => [p.id, p]));
  const agentHosts = snap.hosts.filter((h) => h.roles.includes('network'));
  const routerHost = new Map(snap.routers.map((r) => [r.id, r.host]));

  // Which host serves which port: VM ports by binding, DHCP ports by binding, router ports by their router.
  const hostOfPort = (p: DesiredPort): string => {
    if (p.device_owner === 'network:router_interface' || p.device_owner === 'network:router_gateway')
      return routerHost.get(p.device_id) ?? '';
    if (p.device_owner === 'network:floatingip') return '';
    return p.binding_host_id;
  };
  // A port being live-migrated is also wired on its destination (binding:profile migrating_to).
  const migratingTo = (p: DesiredPort): string => {
    const m = p.binding_profile?.migrating_to;
    return typeof m === 'string' && !SERVICE_OWNERS.has(p.device_owner) ? m : '';
  };
  const liveMigration = (p: DesiredPort, host: DesiredHost): Pick<PortSpec, 'live_migration'> => {
    const to = migratingTo(p);
    if (!to || to === p.binding_host_id || !host.moving_ports) return {};
    return { live_migration: to === host.name ? 'destination' : 'source' };
  };
  const netsOnHost = new Map<string, Set<string>>();
  for (const p of snap.ports) {
    for (const h of [hostOfPort(p), migratingTo(p)]) {
      if (!h || !nets.has(p.network_id)) continue;
      netsOnHost.set(h, (netsOnHost.get(h) ?? new Set()).add(p.network_id));
    }
  }
  const tunnelIp = new Map(agentHosts.filter((h) => IPV4.test(h.tunnel_ip)).map((h) => [h.name, h.tunnel_ip]));

  // Group membership (all hosts) for remote_group_id rules.
  const members = new Map<string, string[]>();
  for (const p of snap.ports) {
    if (!p.port_security_enabled) continue;
    for (const g of p.security_groups) members.set(g, [...(members.get(g) ?? []), ...p.fixed_ips.map((f) => f.ip_address)]);
  }
  const rulesOf = new Map<string, RuleRow[]>();
  for (const r of snap.rules) rulesOf.set(r.security_group_id, [...(rulesOf.get(r.security_group_id) ?? []), r]);

  const out = new Map<string, DesiredState>();
  for (const host of agentHosts) {
    const mine = netsOnHost.get(host.name) ?? new Set<string>();
    const networks: NetworkSpec[] = [];
    const peerSet = new Map<string, TunnelPeer>();
    for (const id of [...mine].sort()) {
      const n = nets.get(id)!;
      const spec: NetworkSpec = { id: n.id, type: n.network_type, mtu: n.mtu };
      if (n.network_type === 'vxlan') {
        spec.vni = n.segmentation_id;
        const peers = agentHosts
          .filter((h) => h.name !== host.name && netsOnHost.get(h.name)?.has(id) && tunnelIp.has(h.name))
          .map((h) => ({ ip: tunnelIp.get(h.name)!, host: h.name }));
        spec.peers = peers.map((p) => p.ip).sort();
        for (const p of peers) peerSet.set(p.ip, p);
      } else {
        spec.physical_network = n.physical_network;
      }
      networks.push(spec);
    }

    const vmPorts = snap.ports.filter(
      (p) =>
        (p.binding_host_id === host.name || migratingTo(p) === host.name) &&
        !SERVICE_OWNERS.has(p.device_owner) &&
        nets.has(p.network_id),
    );
    const ports: PortSpec[] = vmPorts.map((p) => ({
      port_id: p.id,
      network_id: p.network_id,
      mac: p.mac_address,
      fixed_ips: p.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
      device_owner: p.device_owner,
      security_group_ids: p.port_security_enabled ? p.security_groups : [],
      port_security: p.port_security_enabled,
      allowed_address_pairs: p.allowed_address_pairs.map((a) => ({ ip_address: a.ip_address, mac_address: a.mac_address })),
      admin_state_up: p.admin_state_up,
      ...liveMigration(p, host),
    }));

    const wantedGroups = new Set(ports.flatMap((p) => p.security_group_ids));
    for (const g of [...wantedGroups])
      for (const r of rulesOf.get(g) ?? []) if (r.remote_group_id) wantedGroups.add(r.remote_group_id);
    const security_groups: SecurityGroupSpec[] = [...wantedGroups]
      .filter((g) => snap.groups.includes(g))
      .sort()
      .map((g) => ({
        id: g,
        rules: (rulesOf.get(g) ?? []).map((r) => ({
          id: r.id,
          direction: r.direction,
          ethertype: r.ethertype,
          protocol: r.protocol,
          port_range_min: r.port_range_min,
          port_range_max: r.port_range_max,
          remote_ip_prefix: r.remote_ip_prefix,
          remote_group_id: r.remote_group_id,
        })),
        member_ips: [...new Set(members.get(g) ?? [])].sort(),
      }));

    const dhcp: DhcpSpec[] = [];
    for (const dp of snap.ports.filter((p) => p.device_owner === 'network:dhcp' && p.binding_host_id === host.name)) {
      const n = nets.get(dp.network_id);
      if (!n) continue;
      const dsubs = snap.subnets.filter((s) => s.network_id === n.id && s.enable_dhcp);
      const dsubIds = new Set(dsubs.map((s) => s.id));
      const spec: DhcpSpec = {
        network_id: n.id,
        port: {
          port_id: dp.id,
          mac: dp.mac_address,
          fixed_ips: dp.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
        },
        subnets: dsubs.map((s) => ({
          id: s.id,
          cidr: s.cidr,
          ip_version: s.ip_version,
          gateway_ip: s.gateway_ip,
          dns_nameservers: s.dns_nameservers,
          host_routes: s.host_routes,
        })),
        hosts: snap.ports
          .filter((p) => p.network_id === n.id && p.id !== dp.id)
          .flatMap((p) =>
            p.fixed_ips
              .filter((f) => dsubIds.has(f.subnet_id))
              .map((f) => ({ mac: p.mac_address, ip_address: f.ip_address, hostname: dhcpHostname(f.ip_address) })),
          ),
        mtu: n.mtu,
      };
      if (n.dns_domain) spec.dns_domain = n.dns_domain;
      if (snap.dhcpLeaseSeconds) spec.lease_seconds = snap.dhcpLeaseSeconds;
      // The metadata proxy in this namespace: the instances on the DHCP subnets.
      if (snap.metadataService !== false) spec.metadata = { instances: metadataInstances(snap.ports, dsubIds) };
      dhcp.push(spec);
    }

    const routers: RouterSpec[] = [];
    for (const r of snap.routers.filter((x) => x.host === host.name && x.admin_state_up)) {
      const ifaces = snap.ports.filter((p) => p.device_owner === 'network:router_interface' && p.device_id === r.id);
      const gwPort = r.gw_port_id ? portsById.get(r.gw_port_id) : undefined;
      const gwIp = gwPort?.fixed_ips.find((f) => ipVersionOf(f.ip_address) === 4);
      const gwCidr = gwIp && prefixOf(subnets, gwIp);
      // The L3 agent's metadata proxy: the instances on the router's internal subnets,
      // with or without DHCP (Neutron's L3 agent runs one per router).
      const internal = new Set(ifaces.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)));
      const metadata =
        snap.metadataService !== false && internal.size
          ? { metadata: { instances: metadataInstances(snap.ports, internal) } }
          : {};
      routers.push({
        id: r.id,
        interfaces: ifaces.flatMap((p) =>
          p.fixed_ips
            .map((f) => ({ f, cidr: prefixOf(subnets, f) }))
            .filter((x) => x.cidr)
            .map(({ f, cidr }) => ({
              port_id: p.id,
              network_id: p.network_id,
              subnet_id: f.subnet_id,
              mac: p.mac_address,
              ip_cidr: cidr!,
            })),
        ),
        gateway:
          gwPort && gwIp && gwCidr
            ? {
                port_id: gwPort.id,
                network_id: gwPort.network_id,
                mac: gwPort.mac_address,
                ip_cidr: gwCidr,
                gateway_ip: subnets.get(gwIp.subnet_id)?.gateway_ip ?? null,
                enable_snat: r.enable_snat,
              }
            : null,
        floating_ips: snap.floatingips
          .filter(
            (f) =>
              f.router_id === r.id &&
              f.port_id &&
              f.fixed_ip_address &&
              IPV4.test(f.fixed_ip_address) &&
              IPV4.test(f.floating_ip_address),
          )
          .map((f) => ({
            id: f.id,
            floating_ip_address: f.floating_ip_address,
            fixed_ip_address: f.fixed_ip_address!,
            port_id: f.port_id!,
          })),
        ...metadata,
      });
    }

    out.set(host.name, {
      tunnels: [...peerSet.values()].sort((a, b) => a.ip.localeCompare(b.ip)),
      networks,
      ports,
      security_groups,
      dhcp,
      routers,
    });
  }
  return out;
}
