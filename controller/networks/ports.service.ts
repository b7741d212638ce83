import { randomBytes } from 'node:crypto';
import type { Static } from 'typebox';
import { PortCreate, PortUpdate } from '../../shared/api/network.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { bindingOf } from './binding.js';
import { ts } from './common.js';
import { canSeeNetwork, enforce, isAdmin, ownerOf, ownsProject, requireAdminFor, type HostLite, type Svc } from './context.js';
import { InvalidInput, MacAddressInUse, NetworkNotFound, PortInUse, PortNotFound, SecurityGroupNotFound } from './errors.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { checkRequested, eui64, IpAddressAlreadyAllocated, InvalidIpForSubnet, isSlaac, nextFree } from './ipam.js';
import { canonicalIp, inCidr, parseCidr } from '../../shared/util/ip.js';
import { networksRepo, type NetworkRow } from './networks.repo.js';
import { allocRepo, portSgRepo, portsRepo, type AddressPairT, type FixedIpT, type PortRow } from './ports.repo.js';
import { checkQuota } from './quotas.service.js';
import { ensureDefaultGroup } from './secgroups.service.js';
import { groupsRepo } from './secgroups.repo.js';
import { subnetsRepo, type SubnetRow } from './subnets.repo.js';

/** Ports that networking itself owns (no security groups; not deletable through the port API, except DHCP by an admin). */
export const OWNER_DHCP = 'network:dhcp';
export const OWNER_ROUTER_INTERFACE = 'network:router_interface';
export const OWNER_ROUTER_GATEWAY = 'network:router_gateway';
export const OWNER_FLOATINGIP = 'network:floatingip';
const isNetworkOwned = (owner: string) => owner.startsWith('network:');

export function newMac(): string {
  const b = randomBytes(3);
  return `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

/** The port document (fixed IPs, groups and binding included). */
export function portView(
  s: Svc,
  ctx: AuthContext | null,
  p: PortRow,
  fixed?: FixedIpT[],
  groups?: string[],
  hosts?: HostLite[],
): Record<string, unknown> {
  const b = bindingOf(p.binding_host_id, datapathOf(hosts ?? (p.binding_host_id ? s.hosts() : []), p.binding_host_id));
  const doc: Record<string, unknown> = {
    id: p.id,
    name: p.name,
    network_id: p.network_id,
    tenant_id: p.project_id,
    project_id: p.project_id,
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
    fixed_ips: fixed ?? allocRepo.ofPort(s.db, p.id),
    allowed_address_pairs: p.allowed_address_pairs,
    extra_dhcp_opts: p.extra_dhcp_opts,
    security_groups: groups ?? portSgRepo.ofPort(s.db, p.id),
    port_security_enabled: p.port_security_enabled,
    description: p.description,
    dns_name: p.dns_name,
    dns_assignment: [],
    qos_policy_id: null,
    qos_network_policy_id: null,
    propagate_uplink_status: false,
    ip_allocation: 'immediate',
    resource_request: null,
    tags: p.tags,
    created_at: p.created_at,
    updated_at: p.updated_at,
    revision_number: p.revision_number,
    'binding:vnic_type': p.binding_vnic_type,
  };
  if (isAdmin(ctx)) {
    doc['binding:host_id'] = p.binding_host_id;
    doc['binding:vif_type'] = b.vif_type;
    doc['binding:vif_details'] = b.vif_details;
    doc['binding:profile'] = p.binding_profile;
  }
  return doc;
}

function datapathOf(hosts: HostLite[], host: string): string {
  if (!host) return 'system';
  const h = hosts.find((x) => x.name === host);
  const net = (h?.capabilities as { roles?: Record<string, Record<string, unknown>> } | undefined)?.roles?.network;
  const dp = net?.datapath ?? net?.datapath_type;
  return typeof dp === 'string' && dp ? dp : 'system';
}

export function getPort(s: Svc, ctx: AuthContext | null, id: string): PortRow {
  const p = portsRepo.get(s.db, id);
  if (!p) throw new PortNotFound(id);
  if (!ownsProject(ctx, p.project_id)) {
    // The network's owner sees every port on it (Neutron's "network owner" rule).
    const n = networksRepo.get(s.db, p.network_id);
    if (!n || !ownsProject(ctx, n.project_id)) throw new PortNotFound(id);
  }
  return p;
}

export function listPorts(s: Svc, ctx: AuthContext): Array<Record<string, unknown>> {
  enforce(s, 'network:get_port', ctx, { project_id: ctx.projectId });
  const allocs = allocRepo.all(s.db);
  const groups = portSgRepo.all(s.db);
  const ownNets = new Set(
    networksRepo
      .where(s.db)
      .filter((n) => ownsProject(ctx, n.project_id))
      .map((n) => n.id),
  );
  const hosts = s.hosts();
  return portsRepo
    .where(s.db)
    .filter((p) => ownsProject(ctx, p.project_id) || ownNets.has(p.network_id))
    .map((p) => portView(s, ctx, p, allocs.get(p.id) ?? [], groups.get(p.id) ?? [], hosts));
}

/** What a port is made from, inside networking (API, facade, DHCP, routers, floating IPs). */
export interface PortSpec {
  network: NetworkRow;
  projectId: string;
  name?: string;
  description?: string;
  macAddress?: string;
  fixedIps?: Array<{ subnet_id?: string; ip_address?: string }>;
  deviceId?: string;
  deviceOwner?: string;
  hostId?: string;
  vnicType?: string;
  profile?: Record<string, unknown>;
  /** null/undefined: the project's default group (ports owned by networking get none). */
  securityGroups?: string[] | null;
  portSecurity?: boolean;
  addressPairs?: Array<{ ip_address: string; mac_address?: string | null }>;
  adminStateUp?: boolean;
  tags?: string[];
  dnsName?: string;
  status?: string;
  autoDelete?: boolean;
}

/**
 * Chooses the addresses of a port on a network (IPAM). Requested entries are
 * checked; without any request the port gets one address from the first IPv4
 * subnet with room and one from the first IPv6 subnet. Call inside the transaction.
 */
export function chooseAddresses(
  s: Svc,
  network: NetworkRow,
  req: PortSpec['fixedIps'],
  o: { mayUseGateway?: boolean; taken?: Map<string, Set<string>>; mac?: string } = {},
): FixedIpT[] {
  const subnets = subnetsRepo.where(s.db, { network_id: network.id });
  const byId = new Map(subnets.map((x) => [x.id, x]));
  const used = o.taken ?? new Map<string, Set<string>>();
  const inUse = (sn: SubnetRow) => {
    let u = used.get(sn.id);
    if (!u) {
      u = allocRepo.inUse(s.db, sn.id);
      used.set(sn.id, u);
    }
    return u;
  };
  const out: FixedIpT[] = [];
  const take = (sn: SubnetRow, ip: string) => {
    inUse(sn).add(ip);
    out.push({ subnet_id: sn.id, ip_address: ip });
  };
  if (req === undefined) {
    // SLAAC subnets: every one gives the port its EUI-64 address.
    for (const sn of subnets.filter(isSlaac)) {
      const ip = o.mac ? eui64(sn.cidr, o.mac) : null;
      if (ip) take(sn, checkRequested(sn, ip, inUse(sn)));
    }
    for (const v of [4, 6] as const) {
      let failure: unknown = null;
      for (const sn of subnets.filter((x) => x.ip_version === v && !isSlaac(x))) {
        try {
          take(sn, nextFree(sn, inUse(sn)));
          failure = null;
          break;
        } catch (e) {
          failure = e;
        }
      }
      if (failure) throw failure;
    }
    return out;
  }
  for (const f of req) {
    let sn: SubnetRow | undefined;
    if (f.subnet_id) {
      sn = byId.get(f.subnet_id);
      if (!sn)
        throw new InvalidInput(
          `Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${f.subnet_id}.`,
        );
    } else if (f.ip_address) {
      sn = subnets.find((x) => inCidr(parseCidr(x.cidr)!, f.ip_address!));
      if (!sn) throw new InvalidIpForNetwork(f.ip_address);
    } else throw new InvalidInput("each entry of 'fixed_ips' needs a subnet_id or an ip_address.");
    if (f.ip_address) {
      if (!canonicalIp(f.ip_address)) throw new InvalidIpForSubnet(f.ip_address, sn.id);
      take(sn, checkRequested(sn, f.ip_address, inUse(sn), { mayUseGateway: o.mayUseGateway }));
    } else take(sn, nextFree(sn, inUse(sn)));
  }
  return out;
}

export class InvalidIpForNetwork extends InvalidInput {
  constructor(ip: string) {
    super(`IP address ${ip} is not a valid IP for any of the subnets on the specified network.`);
  }
}

function writeAllocations(s: Svc, portId: string, networkId: string, ips: FixedIpT[]): void {
  ips.forEach((f, seq) => {
    try {
      allocRepo.add(s.db, { ...f, port_id: portId, network_id: networkId, seq });
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new IpAddressAlreadyAllocated(f.ip_address, f.subnet_id);
      throw e;
    }
  });
}

function checkGroups(s: Svc, projectId: string, ids: string[], ctx: AuthContext | null): void {
  for (const id of ids) {
    const g = groupsRepo.get(s.db, id);
    if (!g || (!isAdmin(ctx) && g.project_id !== projectId)) throw new SecurityGroupNotFound(id);
  }
}

function pairs(p: PortSpec['addressPairs'], mac: string): AddressPairT[] {
  return (p ?? []).map((x) => {
    const ip = x.ip_address.includes('/') ? (parseCidr(x.ip_address) ? x.ip_address : null) : canonicalIp(x.ip_address);
    if (!ip) throw new InvalidInput(`'${x.ip_address}' is not a valid IP address or CIDR (allowed_address_pairs).`);
    return { ip_address: ip, mac_address: x.mac_address ?? mac };
  });
}

/**
 * Makes a port (row, addresses, groups) inside the caller's transaction; no agent is
 * told here (the caller reports the change after the commit).
 */
export function createPortTx(s: Svc, ctx: AuthContext | null, spec: PortSpec): PortRow {
  const n = spec.network;
  const owner = spec.deviceOwner ?? '';
  checkQuota(s, spec.projectId, 'port');
  let mac = spec.macAddress?.toLowerCase();
  if (mac) {
    if (portsRepo.count(s.db, { network_id: n.id, mac_address: mac })) throw new MacAddressInUse(mac, n.id);
  } else {
    do mac = newMac();
    while (portsRepo.count(s.db, { network_id: n.id, mac_address: mac }));
  }
  const portSecurity = spec.portSecurity ?? n.port_security_enabled;
  let groups: string[] = [];
  if (portSecurity && !isNetworkOwned(owner)) {
    groups = spec.securityGroups ?? [ensureDefaultGroup(s, spec.projectId)];
    checkGroups(s, spec.projectId, groups, ctx);
  } else if (spec.securityGroups?.length) {
    throw new InvalidInput(
      'Port has security group associated. Cannot disable port security or IP address until security group is removed (PortSecurityAndIPRequiredForSecurityGroups).',
    );
  }
  if (!portSecurity && spec.addressPairs?.length)
    throw new InvalidInput('Port security must be enabled in order to have allowed address pairs on a port.');
  const ips = chooseAddresses(s, n, spec.fixedIps, {
    mayUseGateway: owner === 'network:router_interface' || owner === 'network:router_gateway',
    mac,
  });
  const now = ts();
  const p: PortRow = {
    id: newUuid(),
    network_id: n.id,
    project_id: spec.projectId,
    name: spec.name ?? '',
    description: spec.description ?? '',
    mac_address: mac,
    admin_state_up: spec.adminStateUp ?? true,
    status: spec.status ?? (spec.hostId ? 'ACTIVE' : 'DOWN'),
    device_id: spec.deviceId ?? '',
    device_owner: owner,
    binding_host_id: spec.hostId ?? '',
    binding_vnic_type: spec.vnicType ?? 'normal',
    binding_profile: spec.profile ?? {},
    port_security_enabled: portSecurity,
    allowed_address_pairs: pairs(spec.addressPairs, mac),
    extra_dhcp_opts: [],
    dns_name: spec.dnsName ?? '',
    auto_delete: spec.autoDelete ?? false,
    tags: spec.tags ?? [],
    revision_number: 0,
    created_at: now,
    updated_at: now,
  };
  portsRepo.insert(s.db, p);
  writeAllocations(s, p.id, n.id, ips);
  portSgRepo.set(s.db, p.id, groups);
  return p;
}

/** Members put ports only on their own and on shared networks (not on someone else's external network). */
export function requirePortableNetwork(ctx: AuthContext | null, n: NetworkRow): void {
  if (!ownsProject(ctx, n.project_id) && !n.shared) requireAdminFor(ctx, 'network_id', 'create_port');
}

/** Looks up a network for a port request: visible to ctx, else NetworkNotFound. */
export function networkForPort(s: Svc, ctx: AuthContext | null, id: string): NetworkRow {
  const n = networksRepo.get(s.db, id);
  if (!n || !canSeeNetwork(ctx, n)) throw new NetworkNotFound(id);
  return n;
}

export function createPort(s: Svc, ctx: AuthContext, b: Static<typeof PortCreate>): PortRow {
  const n = networkForPort(s, ctx, b.network_id);
  const projectId = ownerOf(ctx, b);
  requirePortableNetwork(ctx, n);
  enforce(s, 'network:create_port', ctx, { project_id: projectId });
  if (b['binding:host_id']) requireAdminFor(ctx, 'binding:host_id', 'create_port');
  if (b.mac_address && !isAdmin(ctx) && n.project_id !== ctx.projectId) requireAdminFor(ctx, 'mac_address', 'create_port');
  if (n.router_external && !isAdmin(ctx) && n.project_id !== ctx.projectId && b.device_owner?.startsWith('network:')) {
    requireAdminFor(ctx, 'device_owner', 'create_port');
  }
  const p = s.db
    .transaction(() =>
      createPortTx(s, ctx, {
        network: n,
        projectId,
        name: b.name,
        description: b.description,
        macAddress: b.mac_address,
        fixedIps: b.fixed_ips,
        deviceId: b.device_id,
        deviceOwner: b.device_owner,
        hostId: b['binding:host_id'] ?? undefined,
        vnicType: b['binding:vnic_type'],
        profile: b['binding:profile'] ?? undefined,
        securityGroups: b.security_groups ?? undefined,
        portSecurity: b.port_security_enabled,
        addressPairs: b.allowed_address_pairs ?? undefined,
        adminStateUp: b.admin_state_up,
        tags: b.tags,
        dnsName: b.dns_name ?? undefined,
      }),
    )
    .immediate();
  s.changed('port created');
  return p;
}

export function updatePort(s: Svc, ctx: AuthContext | null, id: string, b: Static<typeof PortUpdate>): PortRow {
  const p = getPort(s, ctx, id);
  enforce(s, 'network:update_port', ctx, { project_id: p.project_id });
  if (b['binding:host_id'] !== undefined) requireAdminFor(ctx, 'binding:host_id', 'update_port');
  if (b.mac_address !== undefined && b.mac_address.toLowerCase() !== p.mac_address) {
    requireAdminFor(ctx, 'mac_address', 'update_port');
    if (p.binding_host_id) throw new PortInUse(p.id, `host ${p.binding_host_id} (a bound port keeps its MAC address)`);
  }
  if (b.network_id !== undefined && b.network_id !== p.network_id)
    throw new InvalidInput("Cannot update read-only attribute 'network_id'.");
  const n = networksRepo.get(s.db, p.network_id)!;
  const out = s.db
    .transaction(() => {
      const next: PortRow = {
        ...p,
        name: b.name ?? p.name,
        description: b.description ?? p.description,
        admin_state_up: b.admin_state_up ?? p.admin_state_up,
        device_id: b.device_id ?? p.device_id,
        device_owner: b.device_owner ?? p.device_owner,
        binding_host_id: b['binding:host_id'] === undefined ? p.binding_host_id : (b['binding:host_id'] ?? ''),
        binding_vnic_type: b['binding:vnic_type'] ?? p.binding_vnic_type,
        binding_profile: b['binding:profile'] === undefined ? p.binding_profile : (b['binding:profile'] ?? {}),
        port_security_enabled: b.port_security_enabled ?? p.port_security_enabled,
        dns_name: b.dns_name === undefined ? p.dns_name : (b.dns_name ?? ''),
        tags: b.tags ?? p.tags,
        mac_address: b.mac_address?.toLowerCase() ?? p.mac_address,
        updated_at: ts(),
      };
      if (next.mac_address !== p.mac_address && portsRepo.count(s.db, { network_id: n.id, mac_address: next.mac_address })) {
        throw new MacAddressInUse(next.mac_address, n.id);
      }
      next.status = next.binding_host_id ? 'ACTIVE' : 'DOWN';
      if (b.allowed_address_pairs !== undefined)
        next.allowed_address_pairs = pairs(b.allowed_address_pairs ?? [], next.mac_address);
      let groups = portSgRepo.ofPort(s.db, p.id);
      if (b.security_groups !== undefined) {
        groups = b.security_groups ?? [];
        checkGroups(s, p.project_id, groups, ctx);
      }
      if (!next.port_security_enabled && groups.length) {
        throw new InvalidInput(
          'Port has security group associated. Cannot disable port security or IP address until security group is removed (PortSecurityAndIPRequiredForSecurityGroups).',
        );
      }
      if (!next.port_security_enabled && next.allowed_address_pairs.length)
        throw new InvalidInput('Port security must be enabled in order to have allowed address pairs on a port.');
      if (
        next.port_security_enabled &&
        !p.port_security_enabled &&
        b.security_groups === undefined &&
        !isNetworkOwned(next.device_owner)
      ) {
        groups = [ensureDefaultGroup(s, p.project_id)];
      }
      portSgRepo.set(s.db, p.id, groups);
      if (b.fixed_ips !== undefined) replaceAddresses(s, next, n, b.fixed_ips);
      return portsRepo.update(s.db, next);
    })
    .immediate();
  s.changed('port updated');
  return out;
}

/** New fixed IPs for a port: kept addresses stay, new ones are allocated, the rest return to the pool. */
function replaceAddresses(s: Svc, p: PortRow, n: NetworkRow, req: Array<{ subnet_id?: string; ip_address?: string }>): void {
  const current = allocRepo.ofPort(s.db, p.id);
  allocRepo.removePort(s.db, p.id);
  const keep = req.filter(
    (f) =>
      f.ip_address &&
      current.some((c) => c.ip_address === canonicalIp(f.ip_address!) && (!f.subnet_id || c.subnet_id === f.subnet_id)),
  );
  const rest = req.filter((f) => !keep.includes(f));
  const kept = keep.map((f) => current.find((c) => c.ip_address === canonicalIp(f.ip_address!))!);
  const taken = new Map<string, Set<string>>();
  for (const k of kept) {
    const u = taken.get(k.subnet_id) ?? allocRepo.inUse(s.db, k.subnet_id);
    u.add(k.ip_address);
    taken.set(k.subnet_id, u);
  }
  const fresh = chooseAddresses(s, n, rest, { mayUseGateway: p.device_owner.startsWith('network:router'), taken });
  writeAllocations(s, p.id, n.id, [...kept, ...fresh]);
}

/** Removes a port inside the caller's transaction (addresses return; floating IPs let go). */
export function deletePortTx(s: Svc, id: string): void {
  const now = ts();
  for (const f of floatingIpsRepo.where(s.db, { port_id: id })) {
    floatingIpsRepo.update(s.db, {
      ...f,
      port_id: null,
      fixed_ip_address: null,
      router_id: null,
      status: 'DOWN',
      updated_at: now,
    });
  }
  allocRepo.removePort(s.db, id);
  portsRepo.delete(s.db, id);
}

export function deletePort(s: Svc, ctx: AuthContext, id: string): void {
  const p = getPort(s, ctx, id);
  enforce(s, 'network:delete_port', ctx, { project_id: p.project_id });
  // DHCP ports too: networking keeps them in step with the subnets (enable_dhcp).
  if (isNetworkOwned(p.device_owner)) {
    throw new PortInUse(p.id, `${p.device_owner} ${p.device_id} (remove it through its owner's API)`);
  }
  s.db.transaction(() => deletePortTx(s, id)).immediate();
  s.changed('port deleted');
}
