import type { Static } from 'typebox';
import { NetworkCreate, NetworkUpdate } from '../../shared/api/network.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { chooseServiceHost } from './binding.js';
import { ts } from './common.js';
import { canSeeNetwork, enforce, isAdmin, ownerOf, ownsProject, requireAdminFor, type Svc } from './context.js';
import { InvalidInput, NetworkInUse, NetworkNotFound } from './errors.js';
import { networksRepo, type NetworkRow } from './networks.repo.js';
import { deletePortTx, OWNER_DHCP } from './ports.service.js';
import { allocRepo, portsRepo } from './ports.repo.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { checkQuota } from './quotas.service.js';
import { routersRepo } from './routers.repo.js';
import { subnetsRepo } from './subnets.repo.js';
import { allocateVni, claimVni, vxlanMtu } from './vxlan.js';
import { Conflict } from '../../shared/errors/index.js';

export function networkView(s: Svc, ctx: AuthContext | null, n: NetworkRow, subnetIds?: string[]): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    id: n.id,
    name: n.name,
    tenant_id: n.project_id,
    project_id: n.project_id,
    admin_state_up: n.admin_state_up,
    status: n.status,
    subnets: subnetIds ?? subnetsRepo.where(s.db, { network_id: n.id }).map((x) => x.id),
    shared: n.shared,
    'router:external': n.router_external,
    mtu: n.mtu,
    port_security_enabled: n.port_security_enabled,
    availability_zones: ['nova'],
    availability_zone_hints: n.availability_zone_hints,
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    is_default: n.is_default,
    description: n.description,
    dns_domain: n.dns_domain,
    l2_adjacency: true,
    qos_policy_id: null,
    tags: n.tags,
    created_at: n.created_at,
    updated_at: n.updated_at,
    revision_number: n.revision_number,
  };
  if (isAdmin(ctx)) {
    doc['provider:network_type'] = n.network_type;
    doc['provider:physical_network'] = n.physical_network;
    doc['provider:segmentation_id'] = n.segmentation_id;
  }
  return doc;
}

export function getNetwork(s: Svc, ctx: AuthContext | null, id: string): NetworkRow {
  const n = networksRepo.get(s.db, id);
  if (!n || !canSeeNetwork(ctx, n)) throw new NetworkNotFound(id);
  return n;
}

export function listNetworks(s: Svc, ctx: AuthContext): Array<Record<string, unknown>> {
  enforce(s, 'network:get_network', ctx, { project_id: ctx.projectId });
  const subnets = new Map<string, string[]>();
  for (const sn of subnetsRepo.where(s.db)) subnets.set(sn.network_id, [...(subnets.get(sn.network_id) ?? []), sn.id]);
  return networksRepo
    .where(s.db)
    .filter((n) => canSeeNetwork(ctx, n))
    .map((n) => networkView(s, ctx, n, subnets.get(n.id) ?? []));
}

type CreateBody = Static<typeof NetworkCreate>;

/** Creates a network: VXLAN with the next free VNI unless an admin asks for a flat provider network. */
export function createNetwork(s: Svc, ctx: AuthContext | null, b: CreateBody): NetworkRow {
  const projectId = ownerOf(ctx, b);
  if (ctx) enforce(s, 'network:create_network', ctx, { project_id: projectId });
  for (const attr of [
    'shared',
    'router:external',
    'provider:network_type',
    'provider:physical_network',
    'provider:segmentation_id',
    'is_default',
  ] as const) {
    if (
      b[attr] !== undefined &&
      b[attr] !== null &&
      !(attr === 'shared' && b[attr] === false) &&
      !(attr === 'router:external' && b[attr] === false)
    ) {
      requireAdminFor(ctx, attr, 'create_network');
    }
  }
  const type = b['provider:network_type'] ?? 'vxlan';
  const cfg = s.config.network;
  const physnet = b['provider:physical_network'] ?? null;
  let mtu: number;
  if (type === 'flat') {
    if (!physnet) throw new InvalidInput('provider:physical_network is required for a flat network.');
    if (!cfg.physical_networks.includes(physnet)) {
      throw new InvalidInput(
        `physical_network '${physnet}' is unknown (configured: ${cfg.physical_networks.join(', ') || 'none'}).`,
      );
    }
    if (b['provider:segmentation_id'] != null) throw new InvalidInput('segmentation_id cannot be specified for a flat network.');
    mtu = cfg.underlay_mtu;
  } else {
    if (physnet) throw new InvalidInput('provider:physical_network cannot be specified for a vxlan network.');
    mtu = vxlanMtu(cfg.underlay_mtu);
  }
  if (b.mtu !== undefined) {
    if (b.mtu > mtu) throw new InvalidInput(`Requested MTU ${b.mtu} is too big, the maximum is ${mtu}.`);
    mtu = b.mtu;
  }
  const n = s.db
    .transaction(() => {
      checkQuota(s, projectId, 'network');
      if (type === 'flat' && networksRepo.count(s.db, { network_type: 'flat', physical_network: physnet })) {
        throw new Conflict(`Unable to create the flat network. Physical network ${physnet} is in use.`, 'FlatNetworkInUse');
      }
      const vni =
        type === 'vxlan'
          ? b['provider:segmentation_id'] != null
            ? claimVni(s.db, b['provider:segmentation_id'])
            : allocateVni(s.db, { min: cfg.vni_min, max: cfg.vni_max })
          : null;
      const now = ts();
      const row: NetworkRow = {
        id: newUuid(),
        project_id: projectId,
        name: b.name ?? '',
        description: b.description ?? '',
        admin_state_up: b.admin_state_up ?? true,
        status: 'ACTIVE',
        shared: b.shared ?? false,
        router_external: b['router:external'] ?? false,
        is_default: b.is_default ?? false,
        network_type: type,
        physical_network: type === 'flat' ? physnet : null,
        segmentation_id: vni,
        mtu,
        port_security_enabled: b.port_security_enabled ?? true,
        availability_zone_hints: b.availability_zone_hints ?? [],
        dns_domain: b.dns_domain ?? '',
        tags: b.tags ?? [],
        revision_number: 0,
        created_at: now,
        updated_at: now,
      };
      networksRepo.insert(s.db, row);
      return row;
    })
    .immediate();
  return n;
}

export function updateNetwork(s: Svc, ctx: AuthContext | null, id: string, b: Static<typeof NetworkUpdate>): NetworkRow {
  const n = getNetwork(s, ctx, id);
  enforce(s, 'network:update_network', ctx, { project_id: n.project_id });
  for (const attr of [
    'shared',
    'router:external',
    'provider:network_type',
    'provider:physical_network',
    'provider:segmentation_id',
    'is_default',
  ] as const) {
    if (b[attr] !== undefined) requireAdminFor(ctx, attr, 'update_network');
  }
  if (
    (b['provider:network_type'] !== undefined && b['provider:network_type'] !== n.network_type) ||
    (b['provider:segmentation_id'] !== undefined && b['provider:segmentation_id'] !== n.segmentation_id) ||
    (b['provider:physical_network'] !== undefined && b['provider:physical_network'] !== n.physical_network)
  ) {
    throw new InvalidInput(
      'Plugin does not support updating the following provider network attributes: provider:network_type, provider:physical_network, provider:segmentation_id.',
    );
  }
  const max = n.network_type === 'vxlan' ? vxlanMtu(s.config.network.underlay_mtu) : s.config.network.underlay_mtu;
  if (b.mtu !== undefined && b.mtu > max) throw new InvalidInput(`Requested MTU ${b.mtu} is too big, the maximum is ${max}.`);
  const out = s.db
    .transaction(() => {
      const cur = networksRepo.get(s.db, id)!;
      if (b['router:external'] === false && cur.router_external) {
        const fips = floatingIpsRepo.count(s.db, { floating_network_id: id });
        if (fips || routersRepo.count(s.db, { gw_network_id: id })) throw new NetworkInUse(id);
      }
      return networksRepo.update(s.db, {
        ...cur,
        name: b.name ?? cur.name,
        description: b.description ?? cur.description,
        admin_state_up: b.admin_state_up ?? cur.admin_state_up,
        shared: b.shared ?? cur.shared,
        router_external: b['router:external'] ?? cur.router_external,
        is_default: b.is_default ?? cur.is_default,
        mtu: b.mtu ?? cur.mtu,
        port_security_enabled: b.port_security_enabled ?? cur.port_security_enabled,
        dns_domain: b.dns_domain === undefined ? cur.dns_domain : (b.dns_domain ?? ''),
        tags: b.tags ?? cur.tags,
        updated_at: ts(),
      });
    })
    .immediate();
  s.changed('network updated');
  return out;
}

/**
 * Deletes a network with its subnets and DHCP port; NetworkInUse (409) while any
 * other port (a server's, a router interface, a gateway, a floating IP) is on it.
 */
export function deleteNetwork(s: Svc, ctx: AuthContext | null, id: string): void {
  const n = getNetwork(s, ctx, id);
  if (!ownsProject(ctx, n.project_id)) throw new NetworkNotFound(id);
  enforce(s, 'network:delete_network', ctx, { project_id: n.project_id });
  s.db
    .transaction(() => {
      // Neutron's _process_l3_delete: an external network's floating IPs that are not
      // associated go with it (delete_disassociated_floatingips); associated ones keep it in use.
      for (const f of floatingIpsRepo.where(s.db, { floating_network_id: id, port_id: null })) {
        floatingIpsRepo.delete(s.db, f.id);
        deletePortTx(s, f.floating_port_id);
      }
      const ports = portsRepo.where(s.db, { network_id: id });
      if (ports.some((p) => p.device_owner !== OWNER_DHCP)) throw new NetworkInUse(id);
      for (const p of ports) deletePortTx(s, p.id);
      allocRepo.removeNetwork(s.db, id);
      for (const sn of subnetsRepo.where(s.db, { network_id: id })) subnetsRepo.delete(s.db, sn.id);
      networksRepo.delete(s.db, id);
    })
    .immediate();
  s.changed('network deleted');
}

/** DHCP servers and routers per host (for placing new ones). */
export function serviceLoad(s: Svc): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of portsRepo.where(s.db, { device_owner: OWNER_DHCP }))
    if (p.binding_host_id) m.set(p.binding_host_id, (m.get(p.binding_host_id) ?? 0) + 1);
  for (const r of routersRepo.where(s.db)) if (r.host) m.set(r.host, (m.get(r.host) ?? 0) + 1);
  return m;
}

export const pickServiceHost = (s: Svc): string | null => chooseServiceHost(s.hosts(), serviceLoad(s));
