import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequest } from '../../shared/errors/index.js';
import { must, type VolumeCtx } from './context.js';
import { SchedulesRepo } from './schedules.repo.js';
import { scheduleView } from './schedules.view.js';
import { authOf, scopeOf } from './volumes.routes.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

/**
 * GET os-backup-schedules: the backup schedules (a Homestack extension; OpenStack has
 * none), read-only: `homestack backup-schedule create|delete` writes them. Filters
 * volume_id, server_id; the project's own, or any project's for an admin with
 * all_tenants, as Cinder lists backups (policy backup:get_all, a reader of the project).
 */
export function scheduleRoutes(app: FastifyInstance, ctx: VolumeCtx, prefix: string): void {
  app.get(`${prefix}/os-backup-schedules`, async (req: Req) => {
    const auth = authOf(req);
    must(ctx, 'backup:get_all', auth, { project_id: auth.projectId ?? null });
    const q = req.query;
    if (q.volume_id !== undefined && q.server_id !== undefined) throw new BadRequest('Give volume_id or server_id, not both.');
    const scope = scopeOf(auth, q);
    const repo = new SchedulesRepo(ctx.db, ctx.now);
    const rows =
      q.volume_id !== undefined
        ? repo.ofResource('volume', q.volume_id)
        : q.server_id !== undefined
          ? repo.ofResource('server', q.server_id)
          : repo.list();
    return { backup_schedules: rows.filter((s) => scope === null || s.project_id === scope).map(scheduleView) };
  });
}
