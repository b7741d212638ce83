import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequest } from '../../shared/errors/index.js';
import { actionBody } from '../http/json-body.js';
import { exportRecord, importRecord, resetBackupStatus, restoreBackup } from './backup-restore.service.js';
import type { BackupRow } from './backups.repo.js';
import { createBackup, deleteBackup, visibleBackup } from './backups.service.js';
import { backupSummary, backupView } from './backups.view.js';
import { must, volumeBase, type VolumeCtx } from './context.js';
import { authOf, page, scopeOf, truthy } from './volumes.routes.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

/** Cinder v3 backups at 3.0 (cinder/api/contrib/backups.py): list, detail, show, create, delete, restore, record export/import, admin actions. */
export function backupRoutes(app: FastifyInstance, ctx: VolumeCtx, prefix: string): void {
  const base = (req: FastifyRequest) => volumeBase(req, ctx);
  const list = (detail: boolean) => async (req: Req) => {
    const auth = authOf(req);
    must(ctx, 'backup:get_all', auth, { project_id: auth.projectId ?? null });
    let rows: BackupRow[] = ctx.backups.list(scopeOf(auth, req.query));
    const name = req.query.name ?? req.query.display_name;
    if (name !== undefined) rows = rows.filter((b) => b.name === name);
    if (req.query.status) rows = rows.filter((b) => b.status === req.query.status);
    if (req.query.volume_id) rows = rows.filter((b) => b.volume_id === req.query.volume_id);
    if (req.query.sort_dir === 'asc' || req.query.sort === 'created_at:asc') rows.reverse();
    const p = page(rows, req.query);
    const doc: Record<string, unknown> = {
      backups: p.rows.map((b) => (detail ? backupView(ctx, b, base(req)) : backupSummary(b, base(req)))),
    };
    if (p.more) {
      const qs = new URLSearchParams({
        ...Object.fromEntries(
          Object.entries(req.query).filter(([k, v]) => v !== undefined && k !== 'marker') as Array<[string, string]>,
        ),
        marker: p.rows.at(-1)!.id,
      });
      doc.backups_links = [
        { rel: 'next', href: `${base(req)}/v3/${auth.projectId ?? ''}/backups${detail ? '/detail' : ''}?${qs}` },
      ];
    }
    if (truthy(req.query.with_count)) doc.count = rows.length;
    return doc;
  };
  app.get(`${prefix}/backups`, list(false));
  app.get(`${prefix}/backups/detail`, list(true));
  app.get(`${prefix}/backups/:id`, async (req: Req) => {
    const auth = authOf(req);
    const b = visibleBackup(ctx, auth, req.params.id!);
    must(ctx, 'backup:get', auth, { project_id: b.project_id });
    return { backup: backupView(ctx, b, base(req)) };
  });
  app.post(`${prefix}/backups`, async (req: Req, reply: FastifyReply) => {
    const b = createBackup(ctx, authOf(req), req.body, { requestId: req.id });
    return reply.code(202).send({ backup: backupSummary(b, base(req)) });
  });
  app.delete(`${prefix}/backups/:id`, async (req: Req, reply: FastifyReply) => {
    deleteBackup(ctx, authOf(req), req.params.id!, { requestId: req.id });
    return reply.code(202).send();
  });
  app.post(`${prefix}/backups/:id/restore`, async (req: Req, reply: FastifyReply) => {
    const r = restoreBackup(ctx, authOf(req), req.params.id!, req.body, req.id);
    return reply.code(202).send({ restore: r });
  });
  app.get(`${prefix}/backups/:id/export_record`, async (req: Req) => ({
    'backup-record': exportRecord(ctx, authOf(req), req.params.id!),
  }));
  app.post(`${prefix}/backups/import_record`, async (req: Req, reply: FastifyReply) => {
    const b = importRecord(ctx, authOf(req), req.body, req.id);
    return reply.code(201).send({ backup: backupSummary(b, base(req)) });
  });
  app.post(`${prefix}/backups/:id/action`, async (req: Req, reply: FastifyReply) => {
    const auth = authOf(req);
    // Both actions are admin-only: the backup (404) and the policy before the body.
    const bk = visibleBackup(ctx, auth, req.params.id!);
    must(ctx, 'volume_extension:backup_admin_actions:reset_status', auth, { project_id: bk.project_id });
    const b = actionBody(req.body) as Record<string, { status?: unknown } | null | undefined>;
    if ('os-reset_status' in b) resetBackupStatus(ctx, auth, req.params.id!, b['os-reset_status']?.status);
    else if ('os-force_delete' in b) deleteBackup(ctx, auth, req.params.id!, { force: true, requestId: req.id });
    else throw new BadRequest(`There is no such action: ${Object.keys(b).join(',')}`);
    return reply.code(202).send();
  });
}
