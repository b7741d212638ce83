import type { Static } from 'typebox';
import { FloatingIpCreate, FloatingIpUpdate } from '../../shared/api/network.js';
import { BadRequest, Conflict } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { AuthContext } from '../http/auth.js';
import { ts } from './common.js';
import { enforce, isAdmin, ownerOf, ownsProject, type Svc } from './context.js';
import {
  ExternalGatewayForFloatingIPNotFound,
  FloatingIPNotFound,
  InvalidInput,
  NetworkNotFound,
  PortNotFound,
} from './errors.js';
import { floatingIpsRepo, type FloatingIpRow } from './floatingips.repo.js';
import { canonicalIp, ipVersionOf } from '../../shared/util/ip.js';
import { networksRepo } from './networks.repo.js';
import { allocRepo, portsRepo } from './ports.repo.js';
import { createPortTx, deletePortTx, OWNER_FLOATINGIP, OWNER_ROUTER_INTERFACE } from './ports.service.js';
import { checkQuota } from './quotas.service.js';
import { routersRepo } from './routers.repo.js';

export function floatingIpView(s: Svc, f: FloatingIpRow): Record<string, unknown> {
  const p = f.port_id ? portsRepo.get(s.db, f.port_id) : null;
  return {
    id: f.id,
    tenant_id: f.project_id,
    project_id: f.project_id,
    floating_ip_address: f.floating_ip_address,
    floating_network_id: f.floating_network_id,
    router_id: f.router_id,
    port_id: f.port_id,
    fixed_ip_address: f.fixed_ip_address,
    status: f.status,
    description: f.description,
    tags: f.tags,
    dns_name: '',
    dns_domain: '',
    qos_policy_id: null,
    qos_network_policy_id: null,
    port_forwardings: [],
    port_details: p
      ? {
          name: p.name,
          network_id: p.network_id,
          mac_address: p.mac_address,
          admin_state_up: p.admin_state_up,
          status: p.status,
          device_id: p.device_id,
          device_owner: p.device_owner,
        }
      : null,
    created_at: f.created_at,
    updated_at: f.updated_at,
    revision_number: f.revision_number,
  };
}

export function getFloatingIp(s: Svc, ctx: AuthContext | null, id: string): FloatingIpRow {
  const f = floatingIpsRepo.get(s.db, id);
  if (!f || !ownsProject(ctx, f.project_id)) throw new FloatingIPNotFound(id);
  return f;
}

export function listFloatingIps(s: Svc, ctx: AuthContext): FloatingIpRow[] {
  enforce(s, 'network:get_floatingip', ctx, { project_id: ctx.projectId });
  return floatingIpsRepo.where(s.db).filter((f) => ownsProject(ctx, f.project_id));
}

/**
 * Where a floating IP on `extNet` reaches `portId`'s fixed address: the router with a
 * gateway on extNet and an interface on the fixed address's subnet (404
 * ExternalGatewayForFloatingIPNotFound otherwise). Checks the port and the address.
 */
function association(
  s: Svc,
  ctx: AuthContext | null,
  f: Pick<FloatingIpRow, 'id' | 'floating_network_id' | 'project_id'>,
  portId: string,
  fixed?: string | null,
) {
  const port = portsRepo.get(s.db, portId);
  if (!port || !ownsProject(ctx, port.project_id)) throw new PortNotFound(portId);
  if (!isAdmin(ctx) && port.project_id !== f.project_id) throw new PortNotFound(portId);
  if (port.device_owner.startsWith('network:'))
    throw new BadRequest(`Port ${portId} is owned by ${port.device_owner} and cannot have a floating IP.`, 'BadRequest');
  const v4 = allocRepo.ofPort(s.db, portId).filter((x) => ipVersionOf(x.ip_address) === 4);
  let ip: { subnet_id: string; ip_address: string } | undefined;
  if (fixed) {
    ip = v4.find((x) => x.ip_address === canonicalIp(fixed));
    if (!ip) throw new BadRequest(`Port ${portId} does not have fixed ip ${fixed}.`, 'BadRequest');
  } else {
    if (!v4.length) throw new BadRequest(`Bad floatingip request: Port ${portId} does not have any IPv4 address.`, 'BadRequest');
    ip = v4[0];
  }
  const router = routersRepo
    .where(s.db, { gw_network_id: f.floating_network_id })
    .find((r) =>
      portsRepo
        .where(s.db, { device_id: r.id, device_owner: OWNER_ROUTER_INTERFACE })
        .some((p) => allocRepo.ofPort(s.db, p.id).some((x) => x.subnet_id === ip!.subnet_id)),
    );
  if (!router) throw new ExternalGatewayForFloatingIPNotFound(ip!.subnet_id, f.floating_network_id, portId);
  const clash = floatingIpsRepo
    .where(s.db, { port_id: portId })
    .find((x) => x.fixed_ip_address === ip!.ip_address && x.id !== f.id);
  if (clash) {
    throw new Conflict(
      `Cannot associate floating IP ${f.id} with port ${portId} using fixed IP ${ip!.ip_address}, as that fixed IP already has a floating IP on external network ${clash.floating_network_id}.`,
      'FloatingIPPortAlreadyAssociated',
    );
  }
  return { port_id: portId, fixed_ip_address: ip!.ip_address, router_id: router.id, status: 'ACTIVE' };
}

export function createFloatingIp(s: Svc, ctx: AuthContext | null, b: Static<typeof FloatingIpCreate>): FloatingIpRow {
  const projectId = ownerOf(ctx, b);
  enforce(s, 'network:create_floatingip', ctx, { project_id: projectId });
  const n = networksRepo.get(s.db, b.floating_network_id);
  if (!n || !(ownsProject(ctx, n.project_id) || n.shared || n.router_external)) throw new NetworkNotFound(b.floating_network_id);
  if (!n.router_external)
    throw new BadRequest(`Bad floatingip request: Network ${n.id} is not a valid external network.`, 'BadRequest');
  if (b.floating_ip_address && !canonicalIp(b.floating_ip_address))
    throw new InvalidInput(`'${b.floating_ip_address}' is not a valid IP address (floating_ip_address).`);
  const f = s.db
    .transaction(() => {
      checkQuota(s, projectId, 'floatingip');
      const id = newUuid();
      const want =
        b.floating_ip_address || b.subnet_id
          ? [{ subnet_id: b.subnet_id ?? undefined, ip_address: b.floating_ip_address ?? undefined }]
          : undefined;
      const port = createPortTx(s, null, {
        network: n,
        projectId: '',
        deviceOwner: OWNER_FLOATINGIP,
        deviceId: id,
        fixedIps: want,
        status: 'N/A',
      });
      const v4 = allocRepo.ofPort(s.db, port.id).find((x) => ipVersionOf(x.ip_address) === 4);
      if (!v4) throw new BadRequest(`Bad floatingip request: Network ${n.id} has no IPv4 subnet to allocate from.`, 'BadRequest');
      const now = ts();
      let row: FloatingIpRow = {
        id,
        project_id: projectId,
        floating_network_id: n.id,
        floating_port_id: port.id,
        floating_ip_address: v4.ip_address,
        port_id: null,
        fixed_ip_address: null,
        router_id: null,
        status: 'DOWN',
        description: b.description ?? '',
        tags: b.tags ?? [],
        revision_number: 0,
        created_at: now,
        updated_at: now,
      };
      if (b.port_id) row = { ...row, ...association(s, ctx, row, b.port_id, b.fixed_ip_address) };
      floatingIpsRepo.insert(s.db, row);
      return row;
    })
    .immediate();
  s.changed('floating ip created');
  return f;
}

export function updateFloatingIp(s: Svc, ctx: AuthContext | null, id: string, b: Static<typeof FloatingIpUpdate>): FloatingIpRow {
  const f = getFloatingIp(s, ctx, id);
  enforce(s, 'network:update_floatingip', ctx, { project_id: f.project_id });
  const out = s.db
    .transaction(() => {
      let next: FloatingIpRow = {
        ...floatingIpsRepo.get(s.db, id)!,
        updated_at: ts(),
        description: b.description ?? f.description,
        tags: b.tags ?? f.tags,
      };
      if (b.port_id !== undefined) {
        next = b.port_id
          ? { ...next, ...association(s, ctx, next, b.port_id, b.fixed_ip_address) }
          : { ...next, port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' };
      } else if (b.fixed_ip_address && next.port_id) {
        next = { ...next, ...association(s, ctx, next, next.port_id, b.fixed_ip_address) };
      }
      return floatingIpsRepo.update(s.db, next);
    })
    .immediate();
  s.changed('floating ip updated');
  return out;
}

export function deleteFloatingIp(s: Svc, ctx: AuthContext | null, id: string): void {
  const f = getFloatingIp(s, ctx, id);
  enforce(s, 'network:delete_floatingip', ctx, { project_id: f.project_id });
  s.db
    .transaction(() => {
      floatingIpsRepo.delete(s.db, id);
      deletePortTx(s, f.floating_port_id);
    })
    .immediate();
  s.changed('floating ip deleted');
}
