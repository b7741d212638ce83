import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RoleCreate, RoleUpdate } from '../../shared/api/identity.js';
import { member } from './body.js';
import { q, qBool } from './input.js';
import type { RoleRow } from './identity.repo.js';
import type { Kit } from './auth.routes.js';
import { roleRef, roleView } from './views.js';

/** Roles and implied roles (grants and GET /v3/role_assignments: grants.routes.ts). */
type P = { id: string };

export function roleRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const b = kit.base;

  app.get('/v3/roles', async (req) => {
    kit.enforce(req, 'identity:list_roles');
    const domainId = q(req.query, 'domain_id');
    const rows = svc.core.repo.list<RoleRow>('roles', { name: q(req.query, 'name'), domain_id: domainId ?? null });
    return kit.list(
      req,
      'roles',
      rows.map((r) => roleView(b(req), r)),
    );
  });
  app.post('/v3/roles', async (req, reply) => {
    kit.enforce(req, 'identity:create_role');
    return reply.status(201).send({ role: roleView(b(req), svc.roles.createRole(member(RoleCreate, req.body, 'role'))) });
  });
  app.get<{ Params: P }>('/v3/roles/:id', async (req) => {
    const r = svc.roles.role(req.params.id);
    kit.enforce(req, 'identity:get_role', { role_id: r.id });
    return { role: roleView(b(req), r) };
  });
  app.patch<{ Params: P }>('/v3/roles/:id', async (req) => {
    svc.roles.role(req.params.id);
    kit.enforce(req, 'identity:update_role', { role_id: req.params.id });
    return { role: roleView(b(req), svc.roles.updateRole(req.params.id, member(RoleUpdate, req.body, 'role'))) };
  });
  app.delete<{ Params: P }>('/v3/roles/:id', async (req, reply) => {
    svc.roles.role(req.params.id);
    kit.enforce(req, 'identity:delete_role', { role_id: req.params.id });
    svc.roles.deleteRole(req.params.id);
    return reply.status(204).send();
  });

  // Implied roles
  const inference = (req: FastifyRequest, prior: RoleRow, implies: RoleRow | RoleRow[]) => ({
    role_inference: {
      prior_role: roleRef(b(req), prior),
      implies: Array.isArray(implies) ? implies.map((r) => roleRef(b(req), r)) : roleRef(b(req), implies),
    },
    links: { self: `${b(req)}/roles/${prior.id}/implies${Array.isArray(implies) ? '' : `/${implies.id}`}` },
  });
  app.get<{ Params: P }>('/v3/roles/:id/implies', async (req) => {
    kit.enforce(req, 'identity:list_implied_roles');
    const prior = svc.roles.role(req.params.id);
    const implied = svc.core
      .impliedBy(prior.id)
      .map((i) => svc.core.role(i))
      .filter((r): r is RoleRow => !!r);
    return inference(req, prior, implied);
  });
  app.put<{ Params: { id: string; iid: string } }>('/v3/roles/:id/implies/:iid', async (req, reply) => {
    kit.enforce(req, 'identity:create_implied_role');
    const { prior, implied } = svc.roles.createImplication(req.params.id, req.params.iid);
    return reply.status(201).send(inference(req, prior, implied));
  });
  app.get<{ Params: { id: string; iid: string } }>('/v3/roles/:id/implies/:iid', async (req, reply) => {
    kit.enforce(req, 'identity:get_implied_role');
    const { prior, implied } = svc.roles.checkImplication(req.params.id, req.params.iid);
    if (req.method === 'HEAD') return reply.status(204).send();
    return inference(req, prior, implied);
  });
  app.delete<{ Params: { id: string; iid: string } }>('/v3/roles/:id/implies/:iid', async (req, reply) => {
    kit.enforce(req, 'identity:delete_implied_role');
    svc.roles.deleteImplication(req.params.id, req.params.iid);
    return reply.status(204).send();
  });
  app.get('/v3/role_inferences', async (req) => {
    kit.enforce(req, 'identity:list_role_inference_rules');
    const byPrior = new Map<string, RoleRow[]>();
    for (const i of svc.core.repo.implications()) {
      const r = svc.core.role(i.implied_role_id);
      if (r) byPrior.set(i.prior_role_id, [...(byPrior.get(i.prior_role_id) ?? []), r]);
    }
    const role_inferences = [...byPrior.entries()].map(([p, implies]) => ({
      prior_role: roleRef(b(req), svc.core.role(p)!),
      implies: implies.map((r) => roleRef(b(req), r)),
    }));
    return { role_inferences, links: { self: `${b(req)}/role_inferences`, previous: null, next: null } };
  });
}
