import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound } from '../../shared/errors/index.js';
import { ctxOf } from '../http/auth.js';
import { computeBase, must, novaTime, type ComputeCtx } from './context.js';
import {
  availabilityZones,
  computeHosts,
  findHypervisor,
  hypervisorStats,
  hypervisorView,
  listServices,
  updateService,
} from './hosts.service.js';
import { KeypairsRepo } from './keypairs.repo.js';
import { createKeypair, deleteKeypair, getKeypair, keypairView } from './keypairs.service.js';
import { absoluteLimits, defaultQuotas, quotaSetView, resetQuotas, showQuotas, updateQuotas } from './quotas.service.js';
import { createGroup, deleteGroup, getGroup, groupView, listGroups } from './server-groups.service.js';
import { visibleServer } from './servers.service.js';
import { tenantUsages } from './usage.service.js';
import { mvAtLeast } from './versions.js';

type Q = Record<string, string | undefined>;
type P = { id: string };

/** Keypairs, quotas, limits, hosts (hypervisors, services, zones), server groups, instance actions, usage. HTTP only. */
export function miscRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  const keypairs = new KeypairsRepo(ctx.db);

  // Keypairs (per user; 200/202 at 2.1, 201/204 from 2.2).
  app.get<{ Querystring: Q }>('/os-keypairs', async (req) => {
    const auth = ctxOf(req);
    const userId = req.query.user_id && auth.isAdmin ? req.query.user_id : auth.userId;
    must(ctx, 'os_compute_api:os-keypairs:index', auth, { user_id: userId });
    const v = req.computeVersion;
    return {
      keypairs: keypairs
        .list(userId)
        .map((k) => ({ keypair: { ...keypairView(k, false), ...(mvAtLeast(v, '2.2') ? { type: k.type } : {}) } })),
    };
  });
  app.get<{ Params: P; Querystring: Q }>('/os-keypairs/:id', async (req) => {
    const auth = ctxOf(req);
    const k = getKeypair(ctx, keypairs, auth, req.params.id, req.query.user_id);
    return {
      keypair: {
        ...keypairView(k, true),
        ...(mvAtLeast(req.computeVersion, '2.2') ? { type: k.type } : {}),
        created_at: novaTime(k.created_at),
        deleted: false,
        deleted_at: null,
        updated_at: null,
        id: keypairs.rowid(k.user_id, k.name),
      },
    };
  });
  app.post('/os-keypairs', async (req, reply) => {
    const r = createKeypair(ctx, keypairs, ctxOf(req), req.body);
    const v = req.computeVersion;
    return reply.code(mvAtLeast(v, '2.2') ? 201 : 200).send({
      keypair: {
        ...keypairView(r.keypair, true),
        ...(mvAtLeast(v, '2.2') ? { type: r.keypair.type } : {}),
        ...(r.privateKey ? { private_key: r.privateKey } : {}),
      },
    });
  });
  app.delete<{ Params: P; Querystring: Q }>('/os-keypairs/:id', async (req, reply) => {
    deleteKeypair(ctx, keypairs, ctxOf(req), req.params.id, req.query.user_id);
    return reply.code(mvAtLeast(req.computeVersion, '2.2') ? 204 : 202).send();
  });

  // Quotas and limits.
  app.get<{ Params: P }>('/os-quota-sets/:id', async (req) => ({
    quota_set: showQuotas(ctx, ctxOf(req), req.params.id, req.computeVersion, false),
  }));
  app.get<{ Params: P }>('/os-quota-sets/:id/detail', async (req) => ({
    quota_set: showQuotas(ctx, ctxOf(req), req.params.id, req.computeVersion, true),
  }));
  app.get<{ Params: P }>('/os-quota-sets/:id/defaults', async (req) => {
    must(ctx, 'os_compute_api:os-quota-sets:defaults', ctxOf(req));
    return { quota_set: quotaSetView(defaultQuotas(ctx), req.computeVersion, req.params.id) };
  });
  app.put<{ Params: P }>('/os-quota-sets/:id', async (req) => ({
    quota_set: updateQuotas(ctx, ctxOf(req), req.params.id, req.body, req.computeVersion),
  }));
  app.delete<{ Params: P }>('/os-quota-sets/:id', async (req, reply) => {
    resetQuotas(ctx, ctxOf(req), req.params.id);
    return reply.code(202).send();
  });
  app.get<{ Querystring: Q }>('/limits', async (req) => {
    const auth = ctxOf(req);
    const project = req.query.tenant_id && auth.isAdmin ? req.query.tenant_id : (auth.projectId ?? '');
    return { limits: { rate: [], absolute: absoluteLimits(ctx, auth, project, req.computeVersion) } };
  });

  // Hypervisors.
  const hvList =
    (detail: boolean) =>
    async (req: { query: Q; computeVersion: import('./versions.js').Microversion } & Parameters<typeof ctxOf>[0]) => {
      must(ctx, `os_compute_api:os-hypervisors:${detail ? 'list-detail' : 'list'}`, ctxOf(req));
      const pattern = req.query.hypervisor_hostname_pattern;
      const hs = computeHosts(ctx).filter((h) => !pattern || h.name.includes(pattern));
      return { hypervisors: hs.map((h) => hypervisorView(ctx, h, detail, req.computeVersion)) };
    };
  app.get<{ Querystring: Q }>('/os-hypervisors', hvList(false) as never);
  app.get<{ Querystring: Q }>('/os-hypervisors/detail', hvList(true) as never);
  app.get('/os-hypervisors/statistics', async (req) => ({ hypervisor_statistics: hypervisorStats(ctx, ctxOf(req)) }));
  app.get<{ Params: P }>('/os-hypervisors/:id', async (req) => {
    must(ctx, 'os_compute_api:os-hypervisors:show', ctxOf(req));
    return { hypervisor: hypervisorView(ctx, findHypervisor(ctx, req.params.id), true, req.computeVersion) };
  });
  app.get<{ Params: P }>('/os-hypervisors/:id/search', async (req) => {
    must(ctx, 'os_compute_api:os-hypervisors:list', ctxOf(req));
    const hs = computeHosts(ctx).filter((h) => h.name.includes(req.params.id));
    if (!hs.length) throw new NotFound(`No hypervisor matching '${req.params.id}' could be found.`);
    return { hypervisors: hs.map((h) => hypervisorView(ctx, h, false, req.computeVersion)) };
  });
  app.get<{ Params: P }>('/os-hypervisors/:id/servers', async (req) => {
    const auth = ctxOf(req);
    must(ctx, 'os_compute_api:os-hypervisors:list', auth);
    const hs = computeHosts(ctx).filter((h) => h.name.includes(req.params.id));
    if (!hs.length) throw new NotFound(`No hypervisor matching '${req.params.id}' could be found.`);
    return {
      hypervisors: hs.map((h) => ({
        ...hypervisorView(ctx, h, false, req.computeVersion),
        servers: ctx.servers.byHost(h.id).map((i) => ({ uuid: i.id, name: i.name })),
      })),
    };
  });

  // Services and availability zones.
  app.get<{ Querystring: Q }>('/os-services', async (req) => ({
    services: listServices(ctx, ctxOf(req), req.query, req.computeVersion),
  }));
  app.put<{ Params: P }>('/os-services/:id', async (req) => {
    const r = updateService(ctx, ctxOf(req), req.params.id, req.body, req.computeVersion);
    return { service: r };
  });
  app.get('/os-availability-zone', async (req) => ({ availabilityZoneInfo: availabilityZones(ctx, ctxOf(req), false) }));
  app.get('/os-availability-zone/detail', async (req) => ({ availabilityZoneInfo: availabilityZones(ctx, ctxOf(req), true) }));

  // Server groups.
  app.get<{ Querystring: Q }>('/os-server-groups', async (req) => ({
    server_groups: listGroups(ctx, ctxOf(req), req.query).map((g) => groupView(ctx, g, req.computeVersion)),
  }));
  app.post('/os-server-groups', async (req) => ({
    server_group: groupView(ctx, createGroup(ctx, ctxOf(req), req.body, req.computeVersion), req.computeVersion),
  }));
  app.get<{ Params: P }>('/os-server-groups/:id', async (req) => ({
    server_group: groupView(ctx, getGroup(ctx, ctxOf(req), req.params.id), req.computeVersion),
  }));
  app.delete<{ Params: P }>('/os-server-groups/:id', async (req, reply) => {
    deleteGroup(ctx, ctxOf(req), req.params.id);
    return reply.code(204).send();
  });

  // Instance actions (events for admins, as in Nova).
  // From 2.21 the actions of a deleted server stay readable.
  const actionsServer = (req: FastifyRequest<{ Params: { id: string } }>) => {
    const auth = ctxOf(req);
    if (!mvAtLeast(req.computeVersion, '2.21')) return visibleServer(ctx, auth, req.params.id);
    const i = ctx.servers.get(req.params.id, true);
    if (!i || (i.project_id !== auth.projectId && !ctx.policy.allowed('os_compute_api:servers:detail:get_all_tenants', auth)))
      return visibleServer(ctx, auth, req.params.id);
    return i;
  };
  app.get<{ Params: P }>('/servers/:id/os-instance-actions', async (req) => {
    const auth = ctxOf(req);
    const i = actionsServer(req);
    must(ctx, 'os_compute_api:os-instance-actions:list', auth, { project_id: i.project_id });
    return { instanceActions: ctx.actions.list(i.id).map((a) => actionView(a)) };
  });
  app.get<{ Params: { id: string; rid: string } }>('/servers/:id/os-instance-actions/:rid', async (req) => {
    const auth = ctxOf(req);
    const i = actionsServer(req);
    must(ctx, 'os_compute_api:os-instance-actions:show', auth, { project_id: i.project_id });
    const a = ctx.actions.byRequest(i.id, req.params.rid);
    if (!a) throw new NotFound(`Action for request_id ${req.params.rid} on instance ${i.id} not found`);
    const doc: Record<string, unknown> = actionView(a);
    if (ctx.policy.allowed('os_compute_api:os-instance-actions:events', auth, { project_id: i.project_id })) {
      doc.events = ctx.actions.events(a.id).map((e) => ({
        event: e.event,
        start_time: novaTime(e.start_time),
        finish_time: novaTime(e.finish_time),
        result: e.result,
        traceback: e.traceback,
        ...(mvAtLeast(req.computeVersion, '2.62') ? { host: e.host ?? '', hostId: '' } : {}),
        ...(mvAtLeast(req.computeVersion, '2.84') ? { details: e.details } : {}),
      }));
    }
    return { instanceAction: doc };
  });

  // Simple tenant usage.
  app.get<{ Querystring: Q }>('/os-simple-tenant-usage', async (req) => tenantUsages(ctx, ctxOf(req), req.query));
  app.get<{ Params: P; Querystring: Q }>('/os-simple-tenant-usage/:id', async (req) =>
    tenantUsages(ctx, ctxOf(req), req.query, req.params.id),
  );

  // novaclient's images proxy is gone from 2.36; links in server documents point here.
  app.get<{ Params: P }>('/images/:id', async (req) => {
    const img = ctx.facades.images?.get(ctxOf(req), req.params.id);
    if (!img) throw new NotFound('Image not found.');
    const base = computeBase(req, ctx);
    return {
      image: {
        id: img.id,
        name: img.name,
        status: img.status.toUpperCase(),
        links: [
          { rel: 'self', href: `${base}/v2.1/images/${img.id}` },
          { rel: 'bookmark', href: `${base}/images/${img.id}` },
        ],
      },
    };
  });
}

function actionView(a: {
  action: string;
  instance_id: string;
  message: string | null;
  project_id: string;
  request_id: string;
  start_time: string;
  user_id: string;
  updated_at: string;
}) {
  return {
    action: a.action,
    instance_uuid: a.instance_id,
    message: a.message,
    project_id: a.project_id,
    request_id: a.request_id,
    start_time: novaTime(a.start_time),
    user_id: a.user_id,
  };
}
