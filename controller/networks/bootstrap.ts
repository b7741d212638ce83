import type { FastifyBaseLogger } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import { readHosts, type Svc } from './context.js';
import { createNetwork } from './networks.service.js';
import { networksRepo } from './networks.repo.js';
import { createSubnet } from './subnets.service.js';
import { subnetsRepo } from './subnets.repo.js';

export interface PublicNetworkOptions {
  /** The admin project that owns it. */
  projectId: string;
  name?: string;
  physicalNetwork?: string;
  cidr?: string;
  gatewayIp?: string;
  allocationPools?: Array<{ start: string; end: string }>;
}

/**
 * The all-in-one's external network, as devstack makes it: `public`, flat on the
 * physical network `public` (the agent bridges it to a host bridge that holds the
 * gateway address), router:external, shared off, with subnet 198.51.100.0/24 whose
 * gateway 198.51.100.1 is the host. No DHCP on it. Idempotent: an existing external
 * network of that name is kept (and given its subnet if it has none).
 */
export function ensurePublicNetwork(
  deps: { db: Db; config: ControllerConfig; log?: FastifyBaseLogger },
  o: PublicNetworkOptions,
): { networkId: string; subnetId: string; created: boolean } {
  const name = o.name ?? 'public';
  const s: Svc = {
    db: deps.db,
    config: deps.config,
    log: deps.log ?? (console as unknown as FastifyBaseLogger),
    policy: { enforce: () => {}, allowed: () => true },
    hosts: () => readHosts(deps.db),
    changed: () => {},
    projectExists: () => true,
  };
  let created = false;
  let n = networksRepo.where(deps.db, { name }).find((x) => x.router_external);
  if (!n) {
    n = createNetwork(s, null, {
      name,
      project_id: o.projectId,
      'router:external': true,
      'provider:network_type': 'flat',
      'provider:physical_network': o.physicalNetwork ?? 'public',
      shared: false,
    });
    created = true;
  }
  let sn = subnetsRepo.where(deps.db, { network_id: n.id })[0];
  if (!sn) {
    sn = createSubnet(s, null, {
      name: `${name}-subnet`,
      network_id: n.id,
      ip_version: 4,
      cidr: o.cidr ?? '198.51.100.0/24',
      project_id: o.projectId,
      gateway_ip: o.gatewayIp ?? '198.51.100.1',
      enable_dhcp: false,
      ...(o.allocationPools ? { allocation_pools: o.allocationPools } : {}),
    });
    created = true;
  }
  return { networkId: n.id, subnetId: sn.id, created };
}
