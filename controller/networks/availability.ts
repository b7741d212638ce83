import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../http/auth.js';
import { listResponse, showResponse } from './common.js';
import { enforce, type Svc } from './context.js';
import { NetworkNotFound } from './errors.js';
import { poolSize } from './ipam.js';
import { networksRepo } from './networks.repo.js';
import { allocRepo } from './ports.repo.js';
import { subnetsRepo } from './subnets.repo.js';

/** network-ip-availability: addresses in the pools and in use, per network and subnet (admin). */
export function availabilityDocs(s: Svc): Array<Record<string, unknown>> {
  const used = allocRepo.usedCounts(s.db);
  const subnets = subnetsRepo.where(s.db);
  return networksRepo.where(s.db).map((n) => {
    const mine = subnets
      .filter((x) => x.network_id === n.id)
      .map((x) => ({
        subnet_id: x.id,
        subnet_name: x.name,
        cidr: x.cidr,
        ip_version: x.ip_version,
        total_ips: Number(poolSize(x.ip_version, x.allocation_pools)),
        used_ips: used.get(x.id) ?? 0,
      }));
    return {
      network_id: n.id,
      network_name: n.name,
      tenant_id: n.project_id,
      project_id: n.project_id,
      total_ips: mine.reduce((a, x) => a + x.total_ips, 0),
      used_ips: mine.reduce((a, x) => a + x.used_ips, 0),
      subnet_ip_availability: mine,
    };
  });
}

export function availabilityRoutes(app: FastifyInstance, s: Svc): void {
  app.get('/v2.0/network-ip-availabilities', async (req) => {
    enforce(s, 'network:get_network_ip_availability', ctxOf(req), { project_id: '' });
    return stripIds(
      listResponse(
        req,
        'network_ip_availabilities',
        availabilityDocs(s).map((d) => ({ ...d, id: d.network_id })),
      ),
    );
  });
  app.get<{ Params: { id: string } }>('/v2.0/network-ip-availabilities/:id', async (req) => {
    enforce(s, 'network:get_network_ip_availability', ctxOf(req), { project_id: '' });
    const d = availabilityDocs(s).find((x) => x.network_id === req.params.id);
    if (!d) throw new NetworkNotFound(req.params.id);
    return showResponse(req, 'network_ip_availability', d);
  });
}

/** The list helper pages by `id`; these documents have none of their own. */
function stripIds(body: Record<string, unknown>): Record<string, unknown> {
  const list = body.network_ip_availabilities as Array<Record<string, unknown>>;
  return { ...body, network_ip_availabilities: list.map(({ id: _id, ...rest }) => rest) };
}
