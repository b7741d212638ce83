import type { FastifyInstance } from 'fastify';
import { QUOTA_RESOURCES, QuotaUpdate } from '../../shared/api/network.js';
import { ctxOf } from '../http/auth.js';
import { unwrap } from './common.js';
import { enforce, type Svc } from './context.js';
import { DEFAULT_QUOTAS, limitsOf, projectsWithQuotas, resetQuotas, setQuotas, usage } from './quotas.service.js';

/** /v2.0/quotas: per-project limits (-1 = unlimited), defaults and usage details. */
export function quotaRoutes(app: FastifyInstance, s: Svc): void {
  type P = { Params: { project_id: string } };
  const both = (path: string) => [path, `${path}.json`];
  for (const p of both('/v2.0/quotas')) {
    app.get(p, async (req) => {
      const ctx = ctxOf(req);
      enforce(s, 'network:get_quota', ctx, { project_id: '' });
      return { quotas: projectsWithQuotas(s.db).map((id) => ({ project_id: id, tenant_id: id, ...limitsOf(s.db, id) })) };
    });
  }
  for (const p of both('/v2.0/quotas/:project_id')) {
    app.get<P>(p, async (req) => {
      enforce(s, 'network:get_quota', ctxOf(req), { project_id: req.params.project_id });
      return { quota: limitsOf(s.db, req.params.project_id) };
    });
    app.put<P>(p, async (req) => {
      enforce(s, 'network:update_quota', ctxOf(req), { project_id: req.params.project_id });
      const q = unwrap(req.body, 'quota', QuotaUpdate);
      return { quota: setQuotas(s.db, req.params.project_id, q) };
    });
    app.delete<P>(p, async (req, reply) => {
      enforce(s, 'network:delete_quota', ctxOf(req), { project_id: req.params.project_id });
      resetQuotas(s.db, req.params.project_id);
      return reply.code(204).send();
    });
  }
  for (const p of both('/v2.0/quotas/:project_id/default')) {
    app.get<P>(p, async (req) => {
      enforce(s, 'network:get_quota', ctxOf(req), { project_id: req.params.project_id });
      return { quota: { ...DEFAULT_QUOTAS } };
    });
  }
  for (const p of both('/v2.0/quotas/:project_id/details')) {
    app.get<P>(p, async (req) => {
      enforce(s, 'network:get_quota', ctxOf(req), { project_id: req.params.project_id });
      const lim = limitsOf(s.db, req.params.project_id);
      return {
        quota: Object.fromEntries(
          QUOTA_RESOURCES.map((r) => [r, { limit: lim[r], used: usage(s.db, req.params.project_id, r), reserved: 0 }]),
        ),
      };
    });
  }
}
