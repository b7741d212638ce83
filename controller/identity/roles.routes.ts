import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequest } from '../../shared/errors/index.js';
import { RoleCreate, RoleUpdate } from '../../shared/api/identity.js';
import { member } from './body.js';
import { q, qBool } from './input.js';
import type { RoleRow } from './identity.repo.js';
import type { Kit } from './auth.routes.js';
import type { Actor, Target } from './roles.service.js';
import { roleRef, roleView } from './views.js';

/** Roles, implied roles, grants and GET /v3/role_assignments. */
type P = { id: string };
type Grant = { tid: string; aid: string; rid: string };

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

  // Grants: /v3/{projects|domains}/{tid}/{users|groups}/{aid}/roles[/{rid}]
  for (const t of ['projects', 'domains'] as const) {
    for (const a of ['users', 'groups'] as const) {
      const where = (p: Grant): [Actor, Target] => [
        { type: a === 'users' ? 'user' : 'group', id: p.aid },
        { type: t === 'projects' ? 'project' : 'domain', id: p.tid },
      ];
      const target = (p: Grant) => ({
        [t === 'projects' ? 'project_id' : 'domain_id']: p.tid,
        [a === 'users' ? 'user_id' : 'group_id']: p.aid,
        role_id: p.rid,
      });
      const path = `/v3/${t}/:tid/${a}/:aid/roles`;
      app.get<{ Params: Grant }>(path, async (req) => {
        kit.enforce(req, 'identity:list_grants', target(req.params));
        const rows = await svc.roles.listGrants(...where(req.params));
        return kit.list(
          req,
          'roles',
          rows.map((r) => roleView(b(req), r)),
        );
      });
      app.put<{ Params: Grant }>(`${path}/:rid`, async (req, reply) => {
        kit.enforce(req, 'identity:create_grant', target(req.params));
        await svc.roles.grant(...where(req.params), req.params.rid);
        return reply.status(204).send();
      });
      app.get<{ Params: Grant }>(`${path}/:rid`, async (req, reply) => {
        kit.enforce(req, 'identity:check_grant', target(req.params));
        await svc.roles.check(...where(req.params), req.params.rid);
        return reply.status(204).send();
      });
      app.delete<{ Params: Grant }>(`${path}/:rid`, async (req, reply) => {
        kit.enforce(req, 'identity:revoke_grant', target(req.params));
        await svc.roles.revoke(...where(req.params), req.params.rid);
        return reply.status(204).send();
      });
    }
  }

  app.get('/v3/role_assignments', async (req) => {
    const userId = q(req.query, 'user.id');
    kit.enforce(req, 'identity:list_role_assignments', { user_id: userId ?? null });
    if (q(req.query, 'scope.OS-INHERIT:inherited_to')) return kit.list(req, 'role_assignments', []);
    const f = {
      userId,
      groupId: q(req.query, 'group.id'),
      roleId: q(req.query, 'role.id'),
      projectId: q(req.query, 'scope.project.id'),
      domainId: q(req.query, 'scope.domain.id'),
      effective: qBool(req.query, 'effective') === true,
    };
    if (f.userId && f.groupId) throw new BadRequest('Specify only one of user.id and group.id.');
    if (f.projectId && f.domainId) throw new BadRequest('Specify only one of scope.project.id and scope.domain.id.');
    if (f.effective && f.groupId) throw new BadRequest('effective cannot be combined with group.id.');
    const names = qBool(req.query, 'include_names') === true;
    return kit.list(
      req,
      'role_assignments',
      (await svc.roles.list(f)).map((e) => svc.roles.render(b(req), e, names)),
    );
  });
}
