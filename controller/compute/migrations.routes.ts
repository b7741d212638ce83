import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import { ctxOf } from '../http/auth.js';
import { computeBase, must, novaTime, type ComputeCtx } from './context.js';
import type { HostRef } from './host-gateway.js';
import type { MigrationRow } from './migrations.repo.js';
import { messageOf } from './host-gateway.js';
import { checkNotLocked, visibleServer } from './servers.service.js';
import { mvAtLeast, type Microversion } from './versions.js';

/**
 * Migration records (nova/api/openstack/compute/migrations.py, server_migrations.py):
 * GET /os-migrations (admin; filters; migration_type and links from 2.23, uuid and
 * paging from 2.59), and for one server's in-progress live migration: GET
 * /servers/{id}/migrations[/{mid}] (2.23), POST …/{mid}/action force_complete (2.22),
 * DELETE …/{mid} abort (2.24). Below those versions the routes answer 404, as Nova's.
 */

const LIVE_IN_PROGRESS = ['queued', 'preparing', 'running', 'post-migrating'];
const notFound = () => new NotFound('The resource could not be found.');
const atLeast = (req: FastifyRequest, v: string) => mvAtLeast(req.computeVersion as Microversion, v);
const flavorId = (f: MigrationRow['old_flavor']) => (f ? f.id : null);

function osMigrationView(m: MigrationRow, req: FastifyRequest, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: m.id,
    source_node: m.source_node,
    dest_node: m.dest_node,
    source_compute: m.source_compute,
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    status: m.status,
    instance_uuid: m.instance_uuid,
    old_instance_type_id: flavorId(m.old_flavor),
    new_instance_type_id: flavorId(m.new_flavor),
    created_at: novaTime(m.created_at),
    updated_at: novaTime(m.updated_at),
  };
  if (atLeast(req, '2.23')) {
    out.migration_type = m.migration_type;
    // Links only for an in-progress live migration (Nova's migrations._output).
    if (m.migration_type === 'live-migration' && LIVE_IN_PROGRESS.includes(m.status))
      out.links = [
        { rel: 'self', href: `${base}/v2.1/servers/${m.instance_uuid}/migrations/${m.id}` },
        { rel: 'bookmark', href: `${base}/servers/${m.instance_uuid}/migrations/${m.id}` },
      ];
  }
  if (atLeast(req, '2.59')) out.uuid = m.uuid;
  return out;
}

function serverMigrationView(m: MigrationRow, req: FastifyRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {
    created_at: novaTime(m.created_at),
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    dest_node: m.dest_node,
    disk_processed_bytes: m.disk_processed,
    disk_remaining_bytes: m.disk_remaining,
    disk_total_bytes: m.disk_total,
    id: m.id,
    memory_processed_bytes: m.memory_processed,
    memory_remaining_bytes: m.memory_remaining,
    memory_total_bytes: m.memory_total,
    server_uuid: m.instance_uuid,
    source_compute: m.source_compute,
    source_node: m.source_node,
    status: m.status,
    updated_at: novaTime(m.updated_at),
  };
  if (atLeast(req, '2.59')) out.uuid = m.uuid;
  return out;
}

const Q_2_1 = ['hidden', 'host', 'instance_uuid', 'source_compute', 'status', 'migration_type'];
const Q_2_59 = [...Q_2_1, 'limit', 'marker', 'changes-since'];

function listMigrations(ctx: ComputeCtx, req: FastifyRequest<{ Querystring: Record<string, string | undefined> }>) {
  const auth = ctxOf(req);
  must(ctx, 'os_compute_api:os-migrations:index', auth);
  const q = req.query;
  const v259 = atLeast(req, '2.59');
  if (v259) {
    // 2.59 has additionalProperties false on the query
    for (const k of Object.keys(q))
      if (!Q_2_59.includes(k)) throw new BadRequest(`Additional properties are not allowed ('${k}' was unexpected)`);
  }
  let limit: number | undefined;
  let markerId: number | undefined;
  if (v259 && q.limit !== undefined) {
    if (!/^\d+$/.test(q.limit)) throw new BadRequest(`Invalid input for query parameters limit. Value: ${q.limit}.`);
    limit = Math.min(Number(q.limit), 1000);
  }
  if (v259 && q.marker !== undefined) {
    const mk = ctx.migrations.byUuid(q.marker);
    if (!mk) throw new BadRequest(`Marker ${q.marker} could not be found.`, 'MarkerNotFound');
    markerId = mk.id;
  }
  let changesSince: string | undefined;
  if (v259 && q['changes-since'] !== undefined) {
    const t = Date.parse(q['changes-since']);
    if (Number.isNaN(t)) throw new BadRequest(`Invalid input for query parameters changes-since. Value: ${q['changes-since']}.`);
    changesSince = new Date(t).toISOString();
  }
  const rows = ctx.migrations.list({
    instanceUuid: q.instance_uuid,
    statuses: q.status ? [q.status] : undefined,
    types: q.migration_type ? [q.migration_type] : undefined,
    host: q.host,
    sourceCompute: q.source_compute,
    changesSince,
    markerId,
    limit,
  });
  const base = computeBase(req, ctx);
  const body: Record<string, unknown> = { migrations: rows.map((m) => osMigrationView(m, req, base)) };
  if (v259 && limit !== undefined && rows.length === limit && rows.length) {
    const qs = new URLSearchParams(
      Object.entries(q).filter(([k, v]) => k !== 'marker' && v !== undefined) as Array<[string, string]>,
    );
    qs.set('marker', rows.at(-1)!.uuid);
    body.migrations_links = [{ rel: 'next', href: `${base}/v2.1/os-migrations?${qs.toString()}` }];
  }
  return body;
}

/** The server's migration `mid`, or Nova's 404 texts. */
function migrationOf(ctx: ComputeCtx, serverId: string, mid: string): MigrationRow {
  const m = /^\d+$/.test(mid) ? ctx.migrations.get(Number(mid)) : null;
  if (!m || m.instance_uuid !== serverId)
    throw new NotFound(`Migration ${mid} not found for instance ${serverId}`, 'MigrationNotFoundForInstance');
  return m;
}

const sourceOf = (m: MigrationRow): HostRef => ({ id: m.source_host_id ?? '', name: m.source_compute ?? '' });

export function migrationRoutes(app: FastifyInstance, ctx: ComputeCtx): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/os-migrations', async (req) => listMigrations(ctx, req));

  app.get<{ Params: { id: string } }>('/servers/:id/migrations', async (req) => {
    if (!atLeast(req, '2.23')) throw notFound();
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:servers:migrations:index', auth, { project_id: i.project_id });
    const rows = ctx.migrations
      .list({ instanceUuid: i.id, types: ['live-migration'] })
      .filter((m) => LIVE_IN_PROGRESS.includes(m.status) || m.status === 'accepted');
    return { migrations: rows.map((m) => serverMigrationView(m, req)) };
  });

  app.get<{ Params: { id: string; mid: string } }>('/servers/:id/migrations/:mid', async (req) => {
    if (!atLeast(req, '2.23')) throw notFound();
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:servers:migrations:show', auth, { project_id: i.project_id });
    const m = /^\d+$/.test(req.params.mid) ? ctx.migrations.get(Number(req.params.mid)) : null;
    if (!m || m.instance_uuid !== i.id)
      throw new NotFound(`In-progress live migration ${req.params.mid} is not found for server ${i.id}.`);
    if (m.migration_type !== 'live-migration')
      throw new NotFound(`Migration ${req.params.mid} for server ${i.id} is not live-migration.`);
    if (!LIVE_IN_PROGRESS.includes(m.status))
      throw new NotFound(`Live migration ${req.params.mid} for server ${i.id} is not in progress.`);
    return { migration: serverMigrationView(m, req) };
  });

  app.post<{ Params: { id: string; mid: string } }>('/servers/:id/migrations/:mid/action', async (req, reply) => {
    if (!atLeast(req, '2.22')) throw notFound();
    const body = req.body as Record<string, unknown> | null;
    if (!body || typeof body !== 'object' || !('force_complete' in body) || Object.keys(body).length !== 1)
      throw new BadRequest("Invalid input for field/attribute force_complete. 'force_complete' is a required property");
    if (body.force_complete !== null) throw new BadRequest('Invalid input for field/attribute force_complete. Value: not null.');
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:servers:migrations:force_complete', auth, { project_id: i.project_id });
    checkNotLocked(ctx, auth, i);
    if (i.vm_state !== 'active' || i.task_state !== 'migrating')
      throw new Conflict(
        `Cannot 'force_complete' instance ${i.id} while it is in ${i.vm_state !== 'active' ? `vm_state ${i.vm_state}` : `task_state ${i.task_state}`}`,
        'InstanceInvalidState',
      );
    let m: MigrationRow;
    try {
      m = migrationOf(ctx, i.id, req.params.mid);
    } catch (e) {
      throw new BadRequest((e as Error).message, 'MigrationNotFoundForInstance');
    }
    if (m.status !== 'running')
      throw new BadRequest(
        `Migration ${m.id} state of instance ${i.id} is ${m.status}. Cannot force complete while the migration is in this state.`,
        'InvalidMigrationState',
      );
    const action = ctx.actions.start({
      instanceId: i.id,
      action: 'live_migration_force_complete',
      requestId: req.id,
      projectId: i.project_id,
      userId: auth.userId,
    });
    try {
      await ctx.moves!.forceComplete(sourceOf(m), i.id);
      ctx.actions.event(action, 'compute_live_migration_force_complete', true, undefined, m.source_compute);
      ctx.actions.finish(action);
    } catch (e) {
      ctx.actions.event(action, 'compute_live_migration_force_complete', false, messageOf(e), m.source_compute);
      ctx.actions.finish(action, 'Error');
    }
    return reply.code(202).send();
  });

  app.delete<{ Params: { id: string; mid: string } }>('/servers/:id/migrations/:mid', async (req, reply) => {
    if (!atLeast(req, '2.24')) throw notFound();
    const auth = ctxOf(req);
    const i = visibleServer(ctx, auth, req.params.id);
    must(ctx, 'os_compute_api:servers:migrations:delete', auth, { project_id: i.project_id });
    checkNotLocked(ctx, auth, i);
    if (i.task_state !== 'migrating')
      throw new Conflict(
        `Cannot 'abort live migration' instance ${i.id} while it is in task_state ${i.task_state}`,
        'InstanceInvalidState',
      );
    const m = migrationOf(ctx, i.id, req.params.mid);
    if (m.status !== 'running')
      throw new BadRequest(
        `Migration ${m.id} state of instance ${i.id} is ${m.status}. Cannot abort live migration while the migration is in this state.`,
        'InvalidMigrationState',
      );
    const action = ctx.actions.start({
      instanceId: i.id,
      action: 'live_migration_cancel',
      requestId: req.id,
      projectId: i.project_id,
      userId: auth.userId,
    });
    try {
      const aborted = await ctx.moves!.abort(sourceOf(m), i.id);
      ctx.actions.event(
        action,
        'compute_live_migration_abort',
        aborted,
        aborted ? undefined : 'no migration job was running',
        m.source_compute,
      );
      ctx.actions.finish(action, aborted ? undefined : 'Error');
    } catch (e) {
      ctx.actions.event(action, 'compute_live_migration_abort', false, messageOf(e), m.source_compute);
      ctx.actions.finish(action, 'Error');
    }
    return reply.code(202).send();
  });
}

export { Q_2_1 };
