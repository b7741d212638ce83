import type { FastifyInstance } from 'fastify';
import { BadRequest } from '../../shared/errors/index.js';
import type { Kit } from './auth.routes.js';
import { q, qBool } from './input.js';
import { SYSTEM, type Actor, type Target } from './roles.service.js';
import { roleView } from './views.js';

/**
 * Role assignments (roles.service.ts): grants on projects and domains, OS-INHERIT grants
 * (/v3/OS-INHERIT/{domains|projects}/…/roles/{rid}/inherited_to_projects: the role goes
 * to the projects below), grants on the system (/v3/system/{users|groups}/…), and
 * GET /v3/role_assignments. Policy names as Keystone's.
 */
type Grant = { tid: string; aid: string; rid: string };
type SysGrant = { aid: string; rid: string };
const actorOf = (a: 'users' | 'groups', id: string): Actor => ({ type: a === 'users' ? 'user' : 'group', id });

export function grantRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const b = kit.base;

  for (const t of ['projects', 'domains'] as const) {
    for (const a of ['users', 'groups'] as const) {
      const where = (p: Grant): [Actor, Target] => [
        actorOf(a, p.aid),
        { type: t === 'projects' ? 'project' : 'domain', id: p.tid },
      ];
      const target = (p: Grant) => ({
        [t === 'projects' ? 'project_id' : 'domain_id']: p.tid,
        [a === 'users' ? 'user_id' : 'group_id']: p.aid,
        role_id: p.rid,
      });
      for (const inherited of [false, true]) {
        const path = inherited ? `/v3/OS-INHERIT/${t}/:tid/${a}/:aid/roles` : `/v3/${t}/:tid/${a}/:aid/roles`;
        const tail = inherited ? '/inherited_to_projects' : '';
        // Keystone lists inherited grants on domains only (GET …/roles/inherited_to_projects).
        if (!inherited || t === 'domains') {
          app.get<{ Params: Grant }>(`${path}${tail}`, async (req) => {
            kit.enforce(req, 'identity:list_grants', target(req.params));
            const rows = await svc.roles.listGrants(...where(req.params), inherited);
            return kit.list(
              req,
              'roles',
              rows.map((r) => roleView(b(req), r)),
            );
          });
        }
        app.put<{ Params: Grant }>(`${path}/:rid${tail}`, async (req, reply) => {
          kit.enforce(req, 'identity:create_grant', target(req.params));
          await svc.roles.grant(...where(req.params), req.params.rid, inherited);
          return reply.status(204).send();
        });
        app.get<{ Params: Grant }>(`${path}/:rid${tail}`, async (req, reply) => {
          kit.enforce(req, 'identity:check_grant', target(req.params));
          await svc.roles.check(...where(req.params), req.params.rid, inherited);
          return reply.status(204).send();
        });
        app.delete<{ Params: Grant }>(`${path}/:rid${tail}`, async (req, reply) => {
          kit.enforce(req, 'identity:revoke_grant', target(req.params));
          await svc.roles.revoke(...where(req.params), req.params.rid, inherited);
          return reply.status(204).send();
        });
      }
    }
  }

  for (const a of ['users', 'groups'] as const) {
    const who = a === 'users' ? 'user' : 'group';
    const path = `/v3/system/${a}/:aid/roles`;
    app.get<{ Params: SysGrant }>(path, async (req) => {
      kit.enforce(req, `identity:list_system_grants_for_${who}`, { [`${who}_id`]: req.params.aid });
      const rows = await svc.roles.listGrants(actorOf(a, req.params.aid), SYSTEM);
      return kit.list(
        req,
        'roles',
        rows.map((r) => roleView(b(req), r)),
      );
    });
    app.put<{ Params: SysGrant }>(`${path}/:rid`, async (req, reply) => {
      kit.enforce(req, `identity:create_system_grant_for_${who}`, { [`${who}_id`]: req.params.aid });
      await svc.roles.grant(actorOf(a, req.params.aid), SYSTEM, req.params.rid);
      return reply.status(204).send();
    });
    app.get<{ Params: SysGrant }>(`${path}/:rid`, async (req, reply) => {
      kit.enforce(req, `identity:check_system_grant_for_${who}`, { [`${who}_id`]: req.params.aid });
      await svc.roles.check(actorOf(a, req.params.aid), SYSTEM, req.params.rid);
      return reply.status(204).send();
    });
    app.delete<{ Params: SysGrant }>(`${path}/:rid`, async (req, reply) => {
      kit.enforce(req, `identity:revoke_system_grant_for_${who}`, { [`${who}_id`]: req.params.aid });
      await svc.roles.revoke(actorOf(a, req.params.aid), SYSTEM, req.params.rid);
      return reply.status(204).send();
    });
  }

  app.get('/v3/role_assignments', async (req) => {
    const userId = q(req.query, 'user.id');
    kit.enforce(req, 'identity:list_role_assignments', { user_id: userId ?? null });
    const inheritedTo = q(req.query, 'scope.OS-INHERIT:inherited_to');
    const f = {
      userId,
      groupId: q(req.query, 'group.id'),
      roleId: q(req.query, 'role.id'),
      projectId: q(req.query, 'scope.project.id'),
      domainId: q(req.query, 'scope.domain.id'),
      system: q(req.query, 'scope.system') !== undefined,
      inheritedOnly: inheritedTo !== undefined,
      effective: qBool(req.query, 'effective') === true,
    };
    if (inheritedTo !== undefined && inheritedTo !== 'projects')
      throw new BadRequest(`Invalid value for scope.OS-INHERIT:inherited_to: ${inheritedTo}, expected projects.`);
    if (f.userId && f.groupId) throw new BadRequest('Specify only one of user.id and group.id.');
    if ([f.projectId, f.domainId, f.system || undefined].filter((x) => x).length > 1)
      throw new BadRequest('Specify only one of scope.project.id, scope.domain.id and scope.system.');
    if (f.effective && f.groupId) throw new BadRequest('effective cannot be combined with group.id.');
    const names = qBool(req.query, 'include_names') === true;
    return kit.list(
      req,
      'role_assignments',
      (await svc.roles.list(f)).map((e) => svc.roles.render(b(req), e, names)),
    );
  });
}
