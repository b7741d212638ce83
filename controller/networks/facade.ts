import type { AuthContext } from '../http/auth.js';
import type { NetworkFacade, PortInfo } from '../facades.js';
import { Conflict } from '../../shared/errors/index.js';
import { ts } from './common.js';
import { canSeeNetwork, ownsProject, type Svc } from './context.js';
import { NetworkNotFound, PortInUse, PortNotFound, SecurityGroupNotFound } from './errors.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { networksRepo } from './networks.repo.js';
import { allocRepo, portSgRepo, portsRepo, type PortRow } from './ports.repo.js';
import { createPortTx, deletePortTx, getPort as getVisiblePort, requirePortableNetwork } from './ports.service.js';
import { routersRepo } from './routers.repo.js';
import { groupsRepo } from './secgroups.repo.js';
import { subnetsRepo } from './subnets.repo.js';
import { ensureDefaultGroup } from './secgroups.service.js';
import type { NetworkSyncer } from './sync.js';
import type { Dispatcher } from '../agents/index.js';

/**
 * What compute uses of networking (controller/facades.ts): ports for servers, their
 * binding to a host, and their release. Errors are Neutron's classes (NetworkNotFound,
 * IpAddressAlreadyAllocated, InvalidIpForSubnet, IpAddressGenerationFailure...), which
 * compute maps to its own faults.
 */
export interface NetworkFacadeExtras {
  /** Re-sends every host's desired state (drift healing; the periodic job calls it). */
  resync(force?: boolean): void;
}

export function createNetworkFacade(
  s: Svc,
  o: { syncer: NetworkSyncer; dispatcher: Dispatcher | null; bindWaitMs: number },
): NetworkFacade & NetworkFacadeExtras {
  const info = (p: PortRow): PortInfo => {
    const n = networksRepo.get(s.db, p.network_id)!;
    const fixed = allocRepo.ofPort(s.db, p.id);
    return {
      id: p.id,
      network_id: p.network_id,
      network_name: n.name,
      project_id: p.project_id,
      mac_address: p.mac_address,
      fixed_ips: fixed,
      device_id: p.device_id,
      device_owner: p.device_owner,
      binding_host_id: p.binding_host_id,
      mtu: n.mtu,
      network_type: n.network_type,
      segmentation_id: n.segmentation_id,
      security_group_ids: portSgRepo.ofPort(s.db, p.id),
      port_security_enabled: p.port_security_enabled,
      floating_ips: floatingIpsRepo
        .where(s.db, { port_id: p.id })
        .filter((f) => f.fixed_ip_address)
        .map((f) => ({ floating_ip_address: f.floating_ip_address, fixed_ip_address: f.fixed_ip_address! })),
    };
  };

  /** Security groups named by id or by name within the project. */
  const groupIds = (projectId: string, refs: string[]): string[] =>
    refs.map((ref) => {
      const byId = groupsRepo.get(s.db, ref);
      if (byId && byId.project_id === projectId) return byId.id;
      const byName = groupsRepo.where(s.db, { project_id: projectId, name: ref });
      if (byName.length === 1) return byName[0]!.id;
      if (byName.length > 1)
        throw new Conflict(`Multiple security groups named ${ref} in project ${projectId}; use an id.`, 'NoUniqueMatch');
      if (ref === 'default') return ensureDefaultGroup(s, projectId);
      throw new SecurityGroupNotFound(ref);
    });

  return {
    networkVisible(ctx: AuthContext, networkId: string): boolean {
      const n = networksRepo.get(s.db, networkId);
      return !!n && canSeeNetwork(ctx, n);
    },

    availableNetworks(ctx: AuthContext) {
      return networksRepo
        .where(s.db)
        .filter((n) => !n.router_external && (n.project_id === ctx.projectId || n.shared))
        .map((n) => ({ id: n.id, name: n.name }));
    },

    createServerPort(ctx, req) {
      const n = networksRepo.get(s.db, req.networkId);
      if (!n || !canSeeNetwork(ctx, n)) throw new NetworkNotFound(req.networkId);
      requirePortableNetwork(ctx, n);
      const projectId = ctx.projectId ?? n.project_id;
      const p = s.db
        .transaction(() => {
          const groups = req.securityGroups?.length ? groupIds(projectId, req.securityGroups) : undefined;
          return createPortTx(s, ctx, {
            network: n,
            projectId,
            deviceId: req.serverId,
            deviceOwner: `compute:${req.az || 'nova'}`,
            fixedIps: req.fixedIp ? [{ ip_address: req.fixedIp }] : undefined,
            securityGroups: groups,
            autoDelete: true,
          });
        })
        .immediate();
      s.changed('server port created');
      return info(p);
    },

    claimPort(ctx, portId, serverId, az) {
      const p = getVisiblePort(s, ctx, portId);
      if (!ownsProject(ctx, p.project_id)) throw new PortNotFound(portId);
      if (p.device_id && p.device_id !== serverId) throw new PortInUse(portId, p.device_id);
      const next = portsRepo.update(s.db, {
        ...p,
        device_id: serverId,
        device_owner: `compute:${az || 'nova'}`,
        updated_at: ts(),
      });
      s.changed('port claimed');
      return info(next);
    },

    async bindPort(portId, host) {
      const p = portsRepo.get(s.db, portId);
      if (!p) throw new PortNotFound(portId);
      const next = portsRepo.update(s.db, { ...p, binding_host_id: host, status: 'ACTIVE', updated_at: ts() });
      // Tell the agents now (not on the next tick) and give the host's agent a moment to plug it.
      const ops = o.syncer.push();
      const op = ops.get(host);
      if (op && o.dispatcher && o.bindWaitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          o.dispatcher.wait(op).catch(() => undefined),
          new Promise((r) => {
            timer = setTimeout(r, o.bindWaitMs);
            timer.unref?.();
          }),
        ]);
        if (timer) clearTimeout(timer);
      }
      return info(portsRepo.get(s.db, portId) ?? next);
    },

    async setPortsMigrating(serverId, host) {
      // binding:profile.migrating_to (what Nova sets during a live migration): the port is
      // wired on the destination too, so it forwards the moment the guest runs there.
      const ports = portsRepo.where(s.db, { device_id: serverId }).filter((p) => p.device_owner.startsWith('compute:'));
      s.db
        .transaction(() => {
          for (const p of ports) {
            const profile = { ...p.binding_profile };
            if (host) profile.migrating_to = host;
            else delete profile.migrating_to;
            portsRepo.update(s.db, { ...p, binding_profile: profile, updated_at: ts() });
          }
        })
        .immediate();
      const ops = o.syncer.push();
      const op = host ? ops.get(host) : undefined;
      if (op && o.dispatcher && o.bindWaitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          o.dispatcher.wait(op).catch(() => undefined),
          new Promise((r) => {
            timer = setTimeout(r, o.bindWaitMs);
            timer.unref?.();
          }),
        ]);
        if (timer) clearTimeout(timer);
      }
    },

    async releaseServerPorts(serverId) {
      s.db
        .transaction(() => {
          for (const p of portsRepo.where(s.db, { device_id: serverId })) {
            if (!p.device_owner.startsWith('compute:')) continue;
            if (p.auto_delete) deletePortTx(s, p.id);
            else
              portsRepo.update(s.db, {
                ...p,
                device_id: '',
                device_owner: '',
                binding_host_id: '',
                status: 'DOWN',
                updated_at: ts(),
              });
          }
        })
        .immediate();
      o.syncer.push();
    },

    portsOfDevice(deviceId) {
      return portsRepo.where(s.db, { device_id: deviceId }).map(info);
    },

    getPort(portId) {
      const p = portsRepo.get(s.db, portId);
      return p ? info(p) : null;
    },

    subnetsOf(ids) {
      return ids.flatMap((id) => {
        const sn = subnetsRepo.get(s.db, id);
        return sn
          ? [
              {
                id: sn.id,
                network_id: sn.network_id,
                ip_version: sn.ip_version,
                cidr: sn.cidr,
                gateway_ip: sn.gateway_ip,
                enable_dhcp: sn.enable_dhcp,
                dns_nameservers: sn.dns_nameservers,
                host_routes: sn.host_routes,
                ipv6_address_mode: sn.ipv6_address_mode,
              },
            ]
          : [];
      });
    },

    servesMetadata(host, networkId) {
      if (portsRepo.where(s.db, { network_id: networkId, device_owner: 'network:dhcp' }).some((p) => p.binding_host_id === host))
        return true;
      return portsRepo
        .where(s.db, { network_id: networkId, device_owner: 'network:router_interface' })
        .some((p) => routersRepo.get(s.db, p.device_id)?.host === host);
    },

    resync(force = true) {
      o.syncer.push({ force });
    },
  };
}
