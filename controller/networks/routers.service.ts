import type { Static } from 'typebox';
import { RouterCreate, RouterInterface, RouterUpdate } from '../../shared/api/network.js';
import { BadRequest, Conflict } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { ts } from './common.js';
import { enforce, ownerOf, ownsProject, requireAdminFor, type Svc } from './context.js';
import { InvalidInput, NetworkNotFound, PortInUse, RouterInUse, RouterInterfaceNotFound, RouterNotFound } from './errors.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { inCidr, parseCidr, lastOf } from '../../shared/util/ip.js';
import { networksRepo } from './networks.repo.js';
import { pickServiceHost } from './networks.service.js';
import { allocRepo, portSgRepo, portsRepo, type PortRow } from './ports.repo.js';
import { createPortTx, deletePortTx, getPort, OWNER_ROUTER_GATEWAY, OWNER_ROUTER_INTERFACE } from './ports.service.js';
import { checkQuota } from './quotas.service.js';
import { clearGateway, routersRepo, type RouterRow } from './routers.repo.js';
import { getSubnet } from './subnets.service.js';
import { subnetsRepo } from './subnets.repo.js';

export function routerView(s: Svc, r: RouterRow): Record<string, unknown> {
  let gw: Record<string, unknown> | null = null;
  if (r.gw_network_id) {
    gw = {
      network_id: r.gw_network_id,
      enable_snat: r.enable_snat,
      external_fixed_ips: r.gw_port_id ? allocRepo.ofPort(s.db, r.gw_port_id) : [],
    };
  }
  const doc: Record<string, unknown> = {
    id: r.id,
    name: r.name,
    tenant_id: r.project_id,
    project_id: r.project_id,
    admin_state_up: r.admin_state_up,
    status: r.status,
    external_gateway_info: gw,
    routes: r.routes,
    distributed: false,
    ha: false,
    availability_zones: ['nova'],
    availability_zone_hints: [],
    flavor_id: null,
    description: r.description,
    tags: r.tags,
    created_at: r.created_at,
    updated_at: r.updated_at,
    revision_number: r.revision_number,
  };
  return doc;
}

export function getRouter(s: Svc, ctx: AuthContext | null, id: string): RouterRow {
  const r = routersRepo.get(s.db, id);
  if (!r || !ownsProject(ctx, r.project_id)) throw new RouterNotFound(id);
  return r;
}

export function listRouters(s: Svc, ctx: AuthContext): RouterRow[] {
  enforce(s, 'network:get_router', ctx, { project_id: ctx.projectId });
  return routersRepo.where(s.db).filter((r) => ownsProject(ctx, r.project_id));
}

export const interfacesOf = (s: Svc, routerId: string): PortRow[] =>
  portsRepo.where(s.db, { device_id: routerId, device_owner: OWNER_ROUTER_INTERFACE });

type GatewayReq = NonNullable<Static<typeof RouterCreate>['external_gateway_info']>;

/** Points the router's gateway at an external network (or clears it). Inside a transaction. */
function setGatewayTx(s: Svc, ctx: AuthContext | null, r: RouterRow, g: GatewayReq | null): RouterRow {
  const wanted = g && g.network_id ? g.network_id : null;
  if (g && g.enable_snat !== undefined) requireAdminFor(ctx, 'external_gateway_info:enable_snat', 'update_router');
  if (g?.external_fixed_ips?.length) requireAdminFor(ctx, 'external_gateway_info:external_fixed_ips', 'update_router');
  const snat = g?.enable_snat ?? true;
  if (wanted === r.gw_network_id) {
    if (!wanted) return r;
    if (!g?.external_fixed_ips?.length) return { ...r, enable_snat: snat };
  }
  if (r.gw_network_id && (!wanted || wanted !== r.gw_network_id)) {
    if (floatingIpsRepo.count(s.db, { router_id: r.id })) {
      throw new Conflict(
        `Gateway cannot be updated for router ${r.id}, since a gateway to external network ${r.gw_network_id} is required by one or more floating IPs.`,
        'RouterExternalGatewayInUseByFloatingIp',
      );
    }
  }
  let next: RouterRow = { ...r, gw_network_id: null, gw_port_id: null, enable_snat: snat };
  if (r.gw_port_id) {
    // The row references the port: let go of it first.
    clearGateway(s.db, r.id);
    deletePortTx(s, r.gw_port_id);
  }
  if (wanted) {
    const n = networksRepo.get(s.db, wanted);
    if (!n || !(ownsProject(ctx, n.project_id) || n.shared || n.router_external)) throw new NetworkNotFound(wanted);
    if (!n.router_external) throw new BadRequest(`Network ${wanted} is not an external network`, 'BadRequest');
    const port = createPortTx(s, null, {
      network: n,
      projectId: '',
      deviceOwner: OWNER_ROUTER_GATEWAY,
      deviceId: r.id,
      hostId: r.host || undefined,
      fixedIps: g!.external_fixed_ips?.length ? g!.external_fixed_ips : undefined,
      status: r.host ? 'ACTIVE' : 'DOWN',
    });
    if (!allocRepo.ofPort(s.db, port.id).length) {
      throw new BadRequest(`Network ${wanted} has no subnet to give the router gateway an address.`, 'BadRequest');
    }
    next = { ...next, gw_network_id: wanted, gw_port_id: port.id };
  }
  return next;
}

export function createRouter(s: Svc, ctx: AuthContext | null, b: Static<typeof RouterCreate>): RouterRow {
  const projectId = ownerOf(ctx, b);
  enforce(s, 'network:create_router', ctx, { project_id: projectId });
  const r = s.db
    .transaction(() => {
      checkQuota(s, projectId, 'router');
      const now = ts();
      let row: RouterRow = {
        id: newUuid(),
        project_id: projectId,
        name: b.name ?? '',
        description: b.description ?? '',
        admin_state_up: b.admin_state_up ?? true,
        status: 'ACTIVE',
        gw_network_id: null,
        gw_port_id: null,
        enable_snat: true,
        routes: [],
        host: pickServiceHost(s) ?? '',
        tags: b.tags ?? [],
        revision_number: 0,
        created_at: now,
        updated_at: now,
      };
      routersRepo.insert(s.db, row);
      if (b.external_gateway_info) {
        row = setGatewayTx(s, ctx, row, b.external_gateway_info);
        routersRepo.update(s.db, row);
        row = routersRepo.get(s.db, row.id)!;
      }
      return row;
    })
    .immediate();
  s.changed('router created');
  return r;
}

export function updateRouter(s: Svc, ctx: AuthContext | null, id: string, b: Static<typeof RouterUpdate>): RouterRow {
  const cur = getRouter(s, ctx, id);
  enforce(s, 'network:update_router', ctx, { project_id: cur.project_id });
  const out = s.db
    .transaction(() => {
      let r: RouterRow = {
        ...routersRepo.get(s.db, id)!,
        updated_at: ts(),
        name: b.name ?? cur.name,
        description: b.description ?? cur.description,
        admin_state_up: b.admin_state_up ?? cur.admin_state_up,
        tags: b.tags ?? cur.tags,
      };
      if (b.external_gateway_info !== undefined) {
        const g = b.external_gateway_info;
        r = setGatewayTx(s, ctx, r, g && g.network_id ? g : null);
      }
      if (b.routes !== undefined) {
        const routes = b.routes ?? [];
        // The agent contract has no extra routes yet: refuse rather than store routes nobody applies.
        if (routes.length)
          throw new BadRequest(
            'Extra routes on routers are not supported (the extraroute extension is not available).',
            'BadRequest',
          );
        const subnets = interfacesOf(s, id)
          .flatMap((p) => allocRepo.ofPort(s.db, p.id))
          .map((f) => subnetsRepo.get(s.db, f.subnet_id)!);
        for (const rt of routes) {
          const d = parseCidr(rt.destination);
          if (!d) throw new InvalidInput(`'${rt.destination}' is not a valid destination (routes).`);
          if (!subnets.some((sn) => inCidr(parseCidr(sn.cidr)!, rt.nexthop))) {
            throw new BadRequest(
              `Invalid format for routes: ${JSON.stringify(rt)}, the nexthop is not connected with router.`,
              'InvalidRoutes',
            );
          }
        }
        r.routes = routes;
      }
      return routersRepo.update(s.db, r);
    })
    .immediate();
  s.changed('router updated');
  return out;
}

export function deleteRouter(s: Svc, ctx: AuthContext | null, id: string): void {
  const r = getRouter(s, ctx, id);
  enforce(s, 'network:delete_router', ctx, { project_id: r.project_id });
  s.db
    .transaction(() => {
      if (interfacesOf(s, id).length) throw new RouterInUse(id, 'still has ports');
      if (floatingIpsRepo.count(s.db, { router_id: id })) throw new RouterInUse(id, 'is used by floating IPs');
      routersRepo.delete(s.db, id);
      if (r.gw_port_id) deletePortTx(s, r.gw_port_id);
    })
    .immediate();
  s.changed('router deleted');
}

type IfaceBody = Static<typeof RouterInterface>;

/** The unwrapped reply of add/remove_router_interface. */
function ifaceReply(r: RouterRow, port: { id: string; network_id: string }, subnetIds: string[]) {
  return {
    id: r.id,
    tenant_id: r.project_id,
    project_id: r.project_id,
    subnet_id: subnetIds[0] ?? null,
    subnet_ids: subnetIds,
    port_id: port.id,
    network_id: port.network_id,
  };
}

export function addInterface(s: Svc, ctx: AuthContext | null, id: string, b: IfaceBody): ReturnType<typeof ifaceReply> {
  const r = getRouter(s, ctx, id);
  enforce(s, 'network:add_router_interface', ctx, { project_id: r.project_id });
  if (!!b.subnet_id === !!b.port_id)
    throw new BadRequest('Either subnet_id or port_id must be specified (not both).', 'BadRequest');
  const out = s.db
    .transaction(() => {
      const existing = interfacesOf(s, id).flatMap((p) =>
        allocRepo.ofPort(s.db, p.id).map((f) => subnetsRepo.get(s.db, f.subnet_id)!),
      );
      const checkSubnet = (subnetId: string) => {
        const sn = subnetsRepo.get(s.db, subnetId)!;
        const c = parseCidr(sn.cidr)!;
        for (const e of existing) {
          if (e.id === sn.id) throw new BadRequest(`Router already has a port on subnet ${sn.id}.`, 'BadRequest');
          const o = parseCidr(e.cidr)!;
          if (o.version === c.version && o.network <= lastOf(c) && c.network <= lastOf(o)) {
            throw new BadRequest(
              `Cidr ${sn.cidr} of subnet ${sn.id} overlaps with cidr ${e.cidr} of subnet ${e.id}.`,
              'BadRequest',
            );
          }
        }
        const other = allocRepo
          .portsOnSubnet(s.db, sn.id)
          .find((u) => u.device_owner === OWNER_ROUTER_INTERFACE && u.device_id !== id);
        if (other) throw new BadRequest(`Subnet ${sn.id} is already attached to router ${other.device_id}.`, 'BadRequest');
        return sn;
      };
      if (b.subnet_id) {
        const sn = getSubnet(s, ctx, b.subnet_id);
        if (!sn.gateway_ip) throw new BadRequest(`Bad router request: Subnet ${sn.id} does not have a gateway IP.`, 'BadRequest');
        checkSubnet(sn.id);
        const n = networksRepo.get(s.db, sn.network_id)!;
        if (n.router_external)
          throw new BadRequest(
            `Bad router request: Router interface for subnet ${sn.id} on external network ${n.id}.`,
            'BadRequest',
          );
        const port = createPortTx(s, null, {
          network: n,
          projectId: r.project_id,
          deviceOwner: OWNER_ROUTER_INTERFACE,
          deviceId: r.id,
          hostId: r.host || undefined,
          fixedIps: [{ subnet_id: sn.id, ip_address: sn.gateway_ip }],
          status: r.host ? 'ACTIVE' : 'DOWN',
        });
        return ifaceReply(r, port, [sn.id]);
      }
      const p = getPort(s, ctx, b.port_id!);
      if (p.device_id || p.device_owner) throw new PortInUse(p.id, p.device_id || p.device_owner);
      const ips = allocRepo.ofPort(s.db, p.id);
      if (!ips.length)
        throw new BadRequest(`Bad router request: Router port ${p.id} must have at least one fixed IP.`, 'BadRequest');
      for (const f of ips) checkSubnet(f.subnet_id);
      const next = portsRepo.update(s.db, {
        ...p,
        device_id: r.id,
        device_owner: OWNER_ROUTER_INTERFACE,
        binding_host_id: r.host,
        status: r.host ? 'ACTIVE' : 'DOWN',
        updated_at: ts(),
      });
      portSgRepo.clear(s.db, p.id);
      return ifaceReply(
        r,
        next,
        ips.map((f) => f.subnet_id),
      );
    })
    .immediate();
  s.changed('router interface added');
  return out;
}

export function removeInterface(s: Svc, ctx: AuthContext | null, id: string, b: IfaceBody): ReturnType<typeof ifaceReply> {
  const r = getRouter(s, ctx, id);
  enforce(s, 'network:remove_router_interface', ctx, { project_id: r.project_id });
  if (!b.subnet_id && !b.port_id) throw new BadRequest('Either subnet_id or port_id must be specified.', 'BadRequest');
  const out = s.db
    .transaction(() => {
      const ifaces = interfacesOf(s, id).map((p) => ({ p, ips: allocRepo.ofPort(s.db, p.id) }));
      const hit = b.port_id
        ? ifaces.find((x) => x.p.id === b.port_id && (!b.subnet_id || x.ips.some((f) => f.subnet_id === b.subnet_id)))
        : ifaces.find((x) => x.ips.some((f) => f.subnet_id === b.subnet_id));
      if (!hit) throw new RouterInterfaceNotFound(id, b.port_id ? `port ${b.port_id}` : `subnet ${b.subnet_id}`);
      const subnetIds = hit.ips.map((f) => f.subnet_id);
      // Floating IPs reaching fixed addresses on these subnets through this router.
      for (const f of floatingIpsRepo.where(s.db, { router_id: id })) {
        const sn = f.port_id
          ? allocRepo.ofPort(s.db, f.port_id).find((x) => x.ip_address === f.fixed_ip_address)?.subnet_id
          : undefined;
        if (sn && subnetIds.includes(sn)) {
          throw new Conflict(
            `Router interface for subnet ${sn} on router ${id} cannot be deleted, as it is required by one or more floating IPs.`,
            'RouterInterfaceInUseByFloatingIP',
          );
        }
      }
      deletePortTx(s, hit.p.id);
      return ifaceReply(r, hit.p, subnetIds);
    })
    .immediate();
  s.changed('router interface removed');
  return out;
}
