import type { Static } from 'typebox';
import { SubnetCreate, SubnetUpdate } from '../../shared/api/network.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { ts } from './common.js';
import { canSeeNetwork, canSeeSubnetsOf, enforce, ownerOf, ownsProject, type Svc } from './context.js';
import { InvalidInput, NetworkNotFound, SubnetInUse, SubnetNotFound } from './errors.js';
import { defaultGateway, defaultPools, validatePools } from './ipam.js';
import { canonicalIp, cidrText, inCidr, ipToBig, lastOf, parseCidr, type Cidr } from '../../shared/util/ip.js';
import { networksRepo, type NetworkRow } from './networks.repo.js';
import { pickServiceHost } from './networks.service.js';
import { allocRepo, portsRepo } from './ports.repo.js';
import { chooseAddresses, createPortTx, deletePortTx, OWNER_DHCP, OWNER_ROUTER_INTERFACE } from './ports.service.js';
import { checkQuota } from './quotas.service.js';
import { subnetsRepo, type HostRouteT, type SubnetRow } from './subnets.repo.js';

export function subnetView(sn: SubnetRow): Record<string, unknown> {
  return {
    id: sn.id,
    name: sn.name,
    tenant_id: sn.project_id,
    project_id: sn.project_id,
    network_id: sn.network_id,
    ip_version: sn.ip_version,
    cidr: sn.cidr,
    gateway_ip: sn.gateway_ip,
    enable_dhcp: sn.enable_dhcp,
    allocation_pools: sn.allocation_pools,
    dns_nameservers: sn.dns_nameservers,
    host_routes: sn.host_routes,
    ipv6_ra_mode: sn.ipv6_ra_mode,
    ipv6_address_mode: sn.ipv6_address_mode,
    subnetpool_id: null,
    service_types: [],
    segment_id: null,
    dns_publish_fixed_ip: false,
    description: sn.description,
    tags: sn.tags,
    created_at: sn.created_at,
    updated_at: sn.updated_at,
    revision_number: sn.revision_number,
  };
}

export function getSubnet(s: Svc, ctx: AuthContext | null, id: string): SubnetRow {
  const sn = subnetsRepo.get(s.db, id);
  const n = sn && networksRepo.get(s.db, sn.network_id);
  if (!sn || !n || !(ownsProject(ctx, sn.project_id) || canSeeSubnetsOf(ctx, n))) throw new SubnetNotFound(id);
  return sn;
}

export function listSubnets(s: Svc, ctx: AuthContext): SubnetRow[] {
  enforce(s, 'network:get_subnet', ctx, { project_id: ctx.projectId });
  const nets = new Map(networksRepo.where(s.db).map((n) => [n.id, n]));
  return subnetsRepo
    .where(s.db)
    .filter(
      (sn) => ownsProject(ctx, sn.project_id) || (nets.has(sn.network_id) && canSeeSubnetsOf(ctx, nets.get(sn.network_id)!)),
    );
}

const okIp = (v: string, version: number, what: string): string => {
  const c = canonicalIp(v);
  if (!c || ipToBig(c)!.version !== version) throw new InvalidInput(`'${v}' is not a valid IPv${version} address (${what}).`);
  return c;
};

function checkRoutes(routes: HostRouteT[], version: number): HostRouteT[] {
  return routes.map((r) => {
    const d = parseCidr(r.destination);
    if (!d || d.version !== version)
      throw new InvalidInput(`'${r.destination}' is not a valid IPv${version} subnet (host_routes destination).`);
    return { destination: cidrText(d), nexthop: okIp(r.nexthop, version, 'host_routes nexthop') };
  });
}

function checkGateway(c: Cidr, gw: string): string {
  const g = okIp(gw, c.version, 'gateway_ip');
  if (!inCidr(c, g) || ipToBig(g)!.value === c.network || (c.version === 4 && c.prefix < 31 && ipToBig(g)!.value === lastOf(c))) {
    throw new InvalidInput(`Gateway IP ${gw} is not valid on subnet ${cidrText(c)}.`);
  }
  return g;
}

/** The network's DHCP port, if any. */
export const dhcpPortOf = (s: Svc, networkId: string) =>
  portsRepo.where(s.db, { network_id: networkId, device_owner: OWNER_DHCP })[0] ?? null;

/**
 * Gives the network's DHCP port an address on every DHCP-enabled subnet (creating the
 * port, bound to a network host, on first need) and drops addresses of subnets that
 * no longer want DHCP; deletes the port when nothing is left. Inside a transaction.
 */
export function reconcileDhcpPort(s: Svc, n: NetworkRow): void {
  const want = subnetsRepo.where(s.db, { network_id: n.id }).filter((x) => x.enable_dhcp);
  let port = dhcpPortOf(s, n.id);
  if (!want.length) {
    if (port) deletePortTx(s, port.id);
    return;
  }
  if (!port) {
    const host = pickServiceHost(s) ?? '';
    port = createPortTx(s, null, {
      network: n,
      projectId: n.project_id,
      deviceOwner: OWNER_DHCP,
      deviceId: `dhcp-${n.id}`,
      hostId: host || undefined,
      fixedIps: want.map((x) => ({ subnet_id: x.id })),
      status: host ? 'ACTIVE' : 'DOWN',
    });
    return;
  }
  const have = allocRepo.ofPort(s.db, port.id);
  for (const f of have) if (!want.some((x) => x.id === f.subnet_id)) allocRepo.remove(s.db, port.id, f.subnet_id, f.ip_address);
  const missing = want.filter((x) => !have.some((f) => f.subnet_id === x.id));
  const fresh = chooseAddresses(
    s,
    n,
    missing.map((x) => ({ subnet_id: x.id })),
  );
  const seq0 = have.length;
  fresh.forEach((f, i) => allocRepo.add(s.db, { ...f, port_id: port!.id, network_id: n.id, seq: seq0 + i }));
}

export function createSubnet(s: Svc, ctx: AuthContext | null, b: Static<typeof SubnetCreate>): SubnetRow {
  const n = networksRepo.get(s.db, b.network_id);
  if (!n || !canSeeNetwork(ctx, n)) throw new NetworkNotFound(b.network_id);
  const projectId = ownerOf(ctx, b);
  if (!ownsProject(ctx, n.project_id)) enforce(s, 'network:create_subnet:shared_network', ctx, { project_id: n.project_id });
  enforce(s, 'network:create_subnet', ctx, { project_id: projectId });
  if (!b.cidr) throw new InvalidInput("'cidr' is required (subnet pools are not supported).");
  const c = parseCidr(b.cidr);
  if (!c) throw new InvalidInput(`'${b.cidr}' is not a valid IP subnet.`);
  if (c.version !== b.ip_version)
    throw new InvalidInput(`Cannot use IPv${c.version} subnet ${b.cidr} with ip_version ${b.ip_version}.`);
  if (c.version === 4 && c.prefix > 30) throw new InvalidInput(`Subnet ${b.cidr} is too small (at most /30 for IPv4).`);
  if (c.version === 6 && c.prefix > 126) throw new InvalidInput(`Subnet ${b.cidr} is too small (at most /126 for IPv6).`);
  if ((b.ipv6_address_mode === 'slaac' || b.ipv6_address_mode === 'dhcpv6-stateless') && (c.version !== 6 || c.prefix !== 64)) {
    throw new InvalidInput(
      `Invalid CIDR ${b.cidr} for IPv6 address mode ${b.ipv6_address_mode}: OpenStack uses the EUI-64 address format, which requires the prefix to be /64.`,
    );
  }
  const gateway = b.gateway_ip === null ? null : b.gateway_ip === undefined ? defaultGateway(c) : checkGateway(c, b.gateway_ip);
  const pools = b.allocation_pools ? validatePools(c, b.allocation_pools, gateway) : defaultPools(c, gateway);
  const dns = (b.dns_nameservers ?? []).map((d) => okIp(d, ipToBig(d)?.version ?? 0, 'dns_nameservers'));
  if (new Set(dns).size !== dns.length) throw new InvalidInput('Duplicate nameserver in dns_nameservers.');
  const routes = checkRoutes(b.host_routes ?? [], c.version);
  const sn = s.db
    .transaction(() => {
      checkQuota(s, projectId, 'subnet');
      for (const other of subnetsRepo.where(s.db, { network_id: n.id })) {
        const o = parseCidr(other.cidr)!;
        if (o.version === c.version && o.network <= lastOf(c) && c.network <= lastOf(o)) {
          throw new InvalidInput(`Requested subnet with cidr: ${cidrText(c)} for network: ${n.id} overlaps with another subnet.`);
        }
      }
      const now = ts();
      const row: SubnetRow = {
        id: newUuid(),
        network_id: n.id,
        project_id: projectId,
        name: b.name ?? '',
        description: b.description ?? '',
        ip_version: c.version,
        cidr: cidrText(c),
        gateway_ip: gateway,
        enable_dhcp: b.enable_dhcp ?? true,
        allocation_pools: pools,
        dns_nameservers: dns,
        host_routes: routes,
        ipv6_ra_mode: b.ipv6_ra_mode ?? null,
        ipv6_address_mode: b.ipv6_address_mode ?? null,
        tags: b.tags ?? [],
        revision_number: 0,
        created_at: now,
        updated_at: now,
      };
      subnetsRepo.insert(s.db, row);
      if (row.enable_dhcp) reconcileDhcpPort(s, n);
      return row;
    })
    .immediate();
  s.changed('subnet created');
  return sn;
}

export function updateSubnet(s: Svc, ctx: AuthContext | null, id: string, b: Static<typeof SubnetUpdate>): SubnetRow {
  const sn = getSubnet(s, ctx, id);
  if (!ownsProject(ctx, sn.project_id)) throw new SubnetNotFound(id);
  enforce(s, 'network:update_subnet', ctx, { project_id: sn.project_id });
  for (const ro of ['cidr', 'ip_version', 'network_id'] as const) {
    if (b[ro] !== undefined && String(b[ro]) !== String(sn[ro]))
      throw new InvalidInput(`Cannot update read-only attribute '${ro}'.`);
  }
  const c = parseCidr(sn.cidr)!;
  const gateway = b.gateway_ip === undefined ? sn.gateway_ip : b.gateway_ip === null ? null : checkGateway(c, b.gateway_ip);
  const pools = b.allocation_pools ? validatePools(c, b.allocation_pools, gateway) : sn.allocation_pools;
  if (!b.allocation_pools && gateway && gateway !== sn.gateway_ip) validatePools(c, pools, gateway);
  const out = s.db
    .transaction(() => {
      if (
        gateway !== sn.gateway_ip &&
        allocRepo
          .portsOnSubnet(s.db, id)
          .some((u) => u.device_owner === 'network:router_interface' && u.ip_address === sn.gateway_ip)
      ) {
        throw new SubnetInUse(id, `the gateway ${sn.gateway_ip} is a router's interface; remove the interface first.`);
      }
      if (gateway && gateway !== sn.gateway_ip && allocRepo.inUse(s.db, id).has(gateway)) {
        throw new InvalidInput(`Gateway ip ${gateway} conflicts with an address in use on subnet ${id}.`);
      }
      const next = subnetsRepo.update(s.db, {
        ...sn,
        name: b.name ?? sn.name,
        description: b.description ?? sn.description,
        gateway_ip: gateway,
        allocation_pools: pools,
        dns_nameservers:
          b.dns_nameservers === undefined
            ? sn.dns_nameservers
            : (b.dns_nameservers ?? []).map((d) => okIp(d, ipToBig(d)?.version ?? 0, 'dns_nameservers')),
        host_routes: b.host_routes === undefined ? sn.host_routes : checkRoutes(b.host_routes ?? [], sn.ip_version),
        enable_dhcp: b.enable_dhcp ?? sn.enable_dhcp,
        tags: b.tags ?? sn.tags,
        updated_at: ts(),
      });
      if (next.enable_dhcp !== sn.enable_dhcp) reconcileDhcpPort(s, networksRepo.get(s.db, sn.network_id)!);
      return next;
    })
    .immediate();
  s.changed('subnet updated');
  return out;
}

/**
 * Deletes a subnet; SubnetInUse (409) while a port other than DHCP holds an address on it.
 * An IPv6 SLAAC or DHCPv6-stateless subnet goes even so, its addresses removed from the
 * ports (they were derived from the prefix, not handed out), unless a router interface
 * holds one (Neutron's ml2 delete_subnet for auto-address subnets).
 */
export function deleteSubnet(s: Svc, ctx: AuthContext | null, id: string): void {
  const sn = getSubnet(s, ctx, id);
  if (!ownsProject(ctx, sn.project_id)) throw new SubnetNotFound(id);
  enforce(s, 'network:delete_subnet', ctx, { project_id: sn.project_id });
  const autoAddress = sn.ip_version === 6 && (sn.ipv6_address_mode === 'slaac' || sn.ipv6_address_mode === 'dhcpv6-stateless');
  s.db
    .transaction(() => {
      const users = allocRepo
        .portsOnSubnet(s.db, id)
        .filter((u) => u.device_owner !== OWNER_DHCP && (!autoAddress || u.device_owner === OWNER_ROUTER_INTERFACE));
      if (users.length) throw new SubnetInUse(id);
      allocRepo.removeSubnet(s.db, id);
      subnetsRepo.delete(s.db, id);
      reconcileDhcpPort(s, networksRepo.get(s.db, sn.network_id)!);
    })
    .immediate();
  s.changed('subnet deleted');
}
