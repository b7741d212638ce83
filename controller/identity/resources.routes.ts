import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AppCredCreate,
  DomainCreate,
  DomainUpdate,
  GroupCreate,
  GroupUpdate,
  PasswordChange,
  ProjectCreate,
  ProjectUpdate,
  UserCreate,
  UserUpdate,
} from '../../shared/api/identity.js';
import { member } from './body.js';
import { q, qBool } from './input.js';
import type { DomainRow, ProjectRow } from './identity.repo.js';
import type { Kit } from './auth.routes.js';
import { appCredView, domainView, groupView, projectView, userView } from './views.js';

/** Domains, projects, users, groups, membership, password change and application credentials. */
type P = { id: string };
type UG = { id: string; uid: string };

const enabledFilter = (req: FastifyRequest) => {
  const v = qBool(req.query, 'enabled');
  return v === undefined ? undefined : v ? 1 : 0;
};

/**
 * The domain a user or group listing reads: `domain_id`, else (as Keystone does with
 * domain-specific drivers) the caller's token domain when that is a directory domain;
 * else every SQL domain, as without directories.
 */
const listDomain = (kit: Kit, req: FastifyRequest): string | undefined => {
  const asked = q(req.query, 'domain_id');
  if (asked !== undefined) return asked;
  const ctx = req.auth;
  const own = ctx?.domainId ?? ctx?.projectDomainId;
  return own && kit.svc.backends.isDirectory(own) ? own : undefined;
};

export function resourceRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const b = kit.base;

  // Domains
  app.get('/v3/domains', async (req) => {
    kit.enforce(req, 'identity:list_domains');
    const rows = svc.core.repo.list<DomainRow>('domains', { name: q(req.query, 'name'), enabled: enabledFilter(req) });
    return kit.list(
      req,
      'domains',
      rows.map((d) => domainView(b(req), d)),
    );
  });
  app.post('/v3/domains', async (req, reply) => {
    kit.enforce(req, 'identity:create_domain');
    return reply.status(201).send({ domain: domainView(b(req), svc.res.createDomain(member(DomainCreate, req.body, 'domain'))) });
  });
  app.get<{ Params: P }>('/v3/domains/:id', async (req) => {
    const d = svc.res.domain(req.params.id);
    kit.enforce(req, 'identity:get_domain', { domain_id: d.id });
    return { domain: domainView(b(req), d) };
  });
  app.patch<{ Params: P }>('/v3/domains/:id', async (req) => {
    svc.res.domain(req.params.id);
    kit.enforce(req, 'identity:update_domain', { domain_id: req.params.id });
    return { domain: domainView(b(req), svc.res.updateDomain(req.params.id, member(DomainUpdate, req.body, 'domain'))) };
  });
  app.delete<{ Params: P }>('/v3/domains/:id', async (req, reply) => {
    svc.res.domain(req.params.id);
    kit.enforce(req, 'identity:delete_domain', { domain_id: req.params.id });
    svc.res.deleteDomain(req.params.id);
    return reply.status(204).send();
  });

  // Projects
  app.get('/v3/projects', async (req) => {
    kit.enforce(req, 'identity:list_projects');
    const rows = svc.core.repo
      .list<ProjectRow>('projects', {
        name: q(req.query, 'name'),
        domain_id: q(req.query, 'domain_id'),
        enabled: enabledFilter(req),
      })
      .filter((p) => {
        const parent = q(req.query, 'parent_id');
        return parent === undefined || (p.parent_id ?? p.domain_id) === parent;
      });
    return kit.list(req, 'projects', qBool(req.query, 'is_domain') ? [] : rows.map((p) => projectView(b(req), p)));
  });
  app.post('/v3/projects', async (req, reply) => {
    kit.enforce(req, 'identity:create_project');
    return reply
      .status(201)
      .send({ project: projectView(b(req), svc.res.createProject(member(ProjectCreate, req.body, 'project'))) });
  });
  app.get<{ Params: P }>('/v3/projects/:id', async (req) => {
    const p = svc.res.project(req.params.id);
    kit.enforce(req, 'identity:get_project', { project_id: p.id, domain_id: p.domain_id });
    return { project: projectView(b(req), p) };
  });
  app.patch<{ Params: P }>('/v3/projects/:id', async (req) => {
    const p = svc.res.project(req.params.id);
    kit.enforce(req, 'identity:update_project', { project_id: p.id, domain_id: p.domain_id });
    return { project: projectView(b(req), svc.res.updateProject(p.id, member(ProjectUpdate, req.body, 'project'))) };
  });
  app.delete<{ Params: P }>('/v3/projects/:id', async (req, reply) => {
    const p = svc.res.project(req.params.id);
    kit.enforce(req, 'identity:delete_project', { project_id: p.id, domain_id: p.domain_id });
    svc.res.deleteProject(p.id);
    return reply.status(204).send();
  });

  // Users
  app.get('/v3/users', async (req) => {
    kit.enforce(req, 'identity:list_users');
    const rows = await svc.backends.listUsers({
      name: q(req.query, 'name'),
      domainId: listDomain(kit, req),
      enabled: enabledFilter(req),
    });
    return kit.list(
      req,
      'users',
      rows.map((u) => userView(b(req), u)),
    );
  });
  app.post('/v3/users', async (req, reply) => {
    kit.enforce(req, 'identity:create_user');
    return reply.status(201).send({ user: userView(b(req), await svc.res.createUser(member(UserCreate, req.body, 'user'))) });
  });
  app.get<{ Params: P }>('/v3/users/:id', async (req) => {
    const u = await svc.res.liveUser(req.params.id);
    kit.enforce(req, 'identity:get_user', { user_id: u.id, domain_id: u.domain_id });
    return { user: userView(b(req), u) };
  });
  app.patch<{ Params: P }>('/v3/users/:id', async (req) => {
    const u = svc.res.user(req.params.id);
    kit.enforce(req, 'identity:update_user', { user_id: u.id, domain_id: u.domain_id });
    return { user: userView(b(req), await svc.res.updateUser(u.id, member(UserUpdate, req.body, 'user'))) };
  });
  app.delete<{ Params: P }>('/v3/users/:id', async (req, reply) => {
    const u = svc.res.user(req.params.id);
    kit.enforce(req, 'identity:delete_user', { user_id: u.id, domain_id: u.domain_id });
    svc.res.deleteUser(u.id);
    return reply.status(204).send();
  });
  app.post<{ Params: P }>('/v3/users/:id/password', async (req, reply) => {
    // Not policy-enforced, as in Keystone (UserChangePasswordResource is an unenforced
    // API): the original password is the proof, whoever holds the token.
    const u = svc.res.user(req.params.id);
    await svc.res.changePassword(u.id, member(PasswordChange, req.body, 'user'));
    return reply.status(204).send();
  });
  app.get<{ Params: P }>('/v3/users/:id/projects', async (req) => {
    const u = svc.res.user(req.params.id);
    kit.enforce(req, 'identity:list_user_projects', { user_id: u.id });
    const name = q(req.query, 'name');
    const rows = svc.res.projectsOfUser(u.id).filter((p) => name === undefined || p.name === name);
    return kit.list(
      req,
      'projects',
      rows.map((p) => projectView(b(req), p)),
    );
  });
  app.get<{ Params: P }>('/v3/users/:id/groups', async (req) => {
    const u = await svc.res.liveUser(req.params.id);
    kit.enforce(req, 'identity:list_groups_for_user', { user_id: u.id });
    return kit.list(
      req,
      'groups',
      (await svc.backends.groupsOfUser(u.id)).map((g) => groupView(b(req), g)),
    );
  });

  // Groups
  app.get('/v3/groups', async (req) => {
    kit.enforce(req, 'identity:list_groups');
    const rows = await svc.backends.listGroups({ name: q(req.query, 'name'), domainId: listDomain(kit, req) });
    return kit.list(
      req,
      'groups',
      rows.map((g) => groupView(b(req), g)),
    );
  });
  app.post('/v3/groups', async (req, reply) => {
    kit.enforce(req, 'identity:create_group');
    return reply.status(201).send({ group: groupView(b(req), svc.res.createGroup(member(GroupCreate, req.body, 'group'))) });
  });
  app.get<{ Params: P }>('/v3/groups/:id', async (req) => {
    const g = await svc.res.liveGroup(req.params.id);
    kit.enforce(req, 'identity:get_group', { group_id: g.id, domain_id: g.domain_id });
    return { group: groupView(b(req), g) };
  });
  app.patch<{ Params: P }>('/v3/groups/:id', async (req) => {
    const g = svc.res.group(req.params.id);
    kit.enforce(req, 'identity:update_group', { group_id: g.id, domain_id: g.domain_id });
    return { group: groupView(b(req), svc.res.updateGroup(g.id, member(GroupUpdate, req.body, 'group'))) };
  });
  app.delete<{ Params: P }>('/v3/groups/:id', async (req, reply) => {
    const g = svc.res.group(req.params.id);
    kit.enforce(req, 'identity:delete_group', { group_id: g.id, domain_id: g.domain_id });
    svc.res.deleteGroup(g.id);
    return reply.status(204).send();
  });
  app.get<{ Params: P }>('/v3/groups/:id/users', async (req) => {
    const g = await svc.res.liveGroup(req.params.id);
    kit.enforce(req, 'identity:list_users_in_group', { group_id: g.id, domain_id: g.domain_id });
    return kit.list(
      req,
      'users',
      (await svc.backends.usersOfGroup(g.id)).map((u) => userView(b(req), u)),
    );
  });
  app.put<{ Params: UG }>('/v3/groups/:id/users/:uid', async (req, reply) => {
    kit.enforce(req, 'identity:add_user_to_group', { group_id: req.params.id });
    svc.res.addMember(req.params.id, req.params.uid);
    return reply.status(204).send();
  });
  app.get<{ Params: UG }>('/v3/groups/:id/users/:uid', async (req, reply) => {
    kit.enforce(req, 'identity:check_user_in_group', { group_id: req.params.id });
    await svc.res.checkMember(req.params.id, req.params.uid);
    return reply.status(204).send();
  });
  app.delete<{ Params: UG }>('/v3/groups/:id/users/:uid', async (req, reply) => {
    kit.enforce(req, 'identity:remove_user_from_group', { group_id: req.params.id });
    svc.res.removeMember(req.params.id, req.params.uid);
    return reply.status(204).send();
  });

  // Application credentials
  app.get<{ Params: P }>('/v3/users/:id/application_credentials', async (req) => {
    kit.enforce(req, 'identity:list_application_credentials', { user_id: req.params.id });
    const rows = svc.core.repo.list<import('./identity.repo.js').AppCredRow>('app_credentials', {
      user_id: req.params.id,
      name: q(req.query, 'name'),
    });
    return kit.list(
      req,
      'application_credentials',
      rows.map((a) => appCredView(b(req), a, svc.appCreds.roles(a))),
    );
  });
  app.post<{ Params: P }>('/v3/users/:id/application_credentials', async (req, reply) => {
    const ctx = kit.enforce(req, 'identity:create_application_credential', { user_id: req.params.id });
    const { row, secret } = await svc.appCreds.create(
      ctx,
      req.params.id,
      member(AppCredCreate, req.body, 'application_credential'),
    );
    return reply.status(201).send({ application_credential: { ...appCredView(b(req), row, svc.appCreds.roles(row)), secret } });
  });
  app.get<{ Params: UG }>('/v3/users/:id/application_credentials/:uid', async (req) => {
    kit.enforce(req, 'identity:get_application_credential', { user_id: req.params.id });
    const a = svc.appCreds.get(req.params.id, req.params.uid);
    return { application_credential: appCredView(b(req), a, svc.appCreds.roles(a)) };
  });
  app.delete<{ Params: UG }>('/v3/users/:id/application_credentials/:uid', async (req, reply) => {
    kit.enforce(req, 'identity:delete_application_credential', { user_id: req.params.id });
    svc.appCreds.delete(req.params.id, req.params.uid);
    return reply.status(204).send();
  });
}
