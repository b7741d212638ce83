import { html } from '../html.js';
import type { Page } from '../page.js';
import { bad, buttonForm, field, formBox, id, input, need, notice, opt, select, status, table, to, tryGet } from './ui-kit.js';

interface UserDoc {
  id: string;
  name: string;
  enabled: boolean;
  domain_id: string;
  email?: string;
  default_project_id?: string;
}
interface Named {
  id: string;
  name?: string;
}
interface AssignmentDoc {
  role: Named;
  user?: Named;
  group?: Named;
  scope: { project?: Named; domain?: Named; system?: unknown };
}

/** Users, their role assignments (on projects, domains, the system), grant and revoke. */
export const identityUsersPage: Page = {
  path: '/identity/users',
  title: 'Users',
  nav: { section: 'identity', label: 'Users', order: 20 },
  adminOnly: true,
  async render(ctx) {
    const [{ users }, assignments, projects, roles] = await Promise.all([
      ctx.api.get<{ users: UserDoc[] }>('identity', '/v3/users'),
      tryGet(ctx.api.get<{ role_assignments: AssignmentDoc[] }>('identity', '/v3/role_assignments?include_names=true'), {
        role_assignments: [],
      }),
      tryGet(ctx.api.get<{ projects: Named[] }>('identity', '/v3/projects'), { projects: [] }),
      tryGet(ctx.api.get<{ roles: Named[] }>('identity', '/v3/roles'), { roles: [] }),
    ]);
    const project = new Map(projects.value.projects.map((p) => [p.id, p.name ?? p.id]));
    const mine = (u: UserDoc) => assignments.value.role_assignments.filter((a) => a.user?.id === u.id);
    const scopeText = (a: AssignmentDoc) =>
      a.scope.project
        ? `project ${a.scope.project.name ?? project.get(a.scope.project.id) ?? a.scope.project.id}`
        : a.scope.domain
          ? `domain ${a.scope.domain.name ?? a.scope.domain.id}`
          : 'system';
    const assignmentCell = (u: UserDoc) =>
      html`<ul class="plain">${mine(u)
        .sort((a, b) => scopeText(a).localeCompare(scopeText(b)) || (a.role.name ?? '').localeCompare(b.role.name ?? ''))
        .map(
          (a) =>
            html`<li>${a.role.name ?? a.role.id} on ${scopeText(a)}${
              a.scope.project
                ? html` ${buttonForm(ctx, 'revoke', 'Revoke', { user_id: u.id, project_id: a.scope.project.id, role_id: a.role.id })}`
                : ''
            }</li>`,
        )}</ul>`;
    const rows = [...users].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (u) => u.name },
        { label: 'Email', cell: (u) => u.email ?? '' },
        { label: 'Domain', cell: (u) => u.domain_id },
        { label: 'Enabled', cell: (u) => status(u.enabled ? 'enabled' : 'disabled') },
        { label: 'Role assignments', cell: assignmentCell },
        {
          label: '',
          cell: (u) => (u.id === ctx.session.userId ? '(you)' : buttonForm(ctx, 'delete', 'Delete', { id: u.id }, true)),
        },
      ],
      'No users.',
    );
    const userOpts = rows.map((u) => ({ value: u.id, label: u.name }));
    const projectOpts = projects.value.projects
      .map((p) => ({ value: p.id, label: p.name ?? p.id }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const roleOpts = roles.value.roles
      .map((r) => ({ value: r.id, label: r.name ?? r.id }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const grant = formBox(
      ctx,
      'grant',
      'Grant a role on a project',
      [
        field('User', 'user_id', select('user_id', userOpts)),
        field('Project', 'project_id', select('project_id', projectOpts)),
        field('Role', 'role_id', select('role_id', roleOpts)),
      ],
      'Grant',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a user',
      [
        field('Name', 'name', input('name', { required: true })),
        field('Password', 'password', input('password', { type: 'password', required: true })),
        field('Email', 'email', input('email', { type: 'email' })),
        field('Primary project (gets the member role)', 'project_id', select('project_id', projectOpts, { blank: '(none)' })),
      ],
      'Create',
    );
    return html`${notice(assignments.error, 'role assignments')}${list}${grant}${create}`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const password = form.password ?? '';
      if (!password) bad('Password is required.');
      const user: Record<string, unknown> = { name, password, enabled: true };
      const email = opt(form, 'email');
      if (email) user.email = email;
      const pid = opt(form, 'project_id') ? id(form, 'project_id', 'Primary project') : undefined;
      if (pid) user.default_project_id = pid;
      const { user: made } = await ctx.api.post<{ user: UserDoc }>('identity', '/v3/users', { user });
      if (pid) {
        try {
          const { roles } = await ctx.api.get<{ roles: Named[] }>('identity', '/v3/roles?name=member');
          const member = roles.find((r) => r.name === 'member');
          if (!member) bad('There is no member role to grant.');
          await ctx.api.put('identity', `/v3/projects/${pid}/users/${made.id}/roles/${member.id}`);
        } catch (err) {
          // Nothing half-made: a user who could not join its project goes again.
          await ctx.api.delete('identity', `/v3/users/${made.id}`).catch(() => undefined);
          throw err;
        }
      }
      return { redirect: to(ctx, '/identity/users'), message: `User ${name} created.` };
    },
    async grant(ctx, form) {
      const [u, p, r] = [id(form, 'user_id', 'User'), id(form, 'project_id', 'Project'), id(form, 'role_id', 'Role')];
      await ctx.api.put('identity', `/v3/projects/${p}/users/${u}/roles/${r}`);
      return { redirect: to(ctx, '/identity/users'), message: 'Role granted.' };
    },
    async revoke(ctx, form) {
      const [u, p, r] = [id(form, 'user_id', 'User'), id(form, 'project_id', 'Project'), id(form, 'role_id', 'Role')];
      await ctx.api.delete('identity', `/v3/projects/${p}/users/${u}/roles/${r}`);
      return { redirect: to(ctx, '/identity/users'), message: 'Role revoked.' };
    },
    async delete(ctx, form) {
      const uid = id(form, 'id', 'User');
      if (uid === ctx.session.userId) bad('You cannot delete yourself.');
      await ctx.api.delete('identity', `/v3/users/${uid}`);
      return { redirect: to(ctx, '/identity/users'), message: 'User deleted.' };
    },
  },
};
