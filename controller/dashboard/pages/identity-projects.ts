import { html } from '../html.js';
import type { Page } from '../page.js';
import { buttonForm, field, formBox, id, input, need, opt, status, table, to } from './ui-kit.js';

interface ProjectDoc {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  domain_id: string;
}

export const identityProjectsPage: Page = {
  path: '/identity/projects',
  title: 'Projects',
  nav: { section: 'identity', label: 'Projects', order: 10 },
  adminOnly: true,
  async render(ctx) {
    const { projects } = await ctx.api.get<{ projects: ProjectDoc[] }>('identity', '/v3/projects');
    const rows = [...projects].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (p) => p.name },
        { label: 'ID', cell: (p) => p.id },
        { label: 'Description', cell: (p) => p.description ?? '' },
        { label: 'Domain', cell: (p) => p.domain_id },
        { label: 'Enabled', cell: (p) => status(p.enabled ? 'enabled' : 'disabled') },
        {
          label: '',
          cell: (p) =>
            p.id === ctx.session.projectId
              ? html`(current)`
              : html`${
                  p.enabled
                    ? buttonForm(ctx, 'disable', 'Disable', { id: p.id })
                    : buttonForm(ctx, 'enable', 'Enable', { id: p.id })
                } ${buttonForm(ctx, 'delete', 'Delete', { id: p.id }, true)}`,
        },
      ],
      'No projects.',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a project',
      [field('Name', 'name', input('name', { required: true })), field('Description', 'description', input('description'))],
      'Create',
    );
    return html`${list}${create}<p class="hint">Members and their roles are on the Users page.</p>`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      await ctx.api.post('identity', '/v3/projects', {
        project: { name, description: opt(form, 'description') ?? '', enabled: true },
      });
      return { redirect: to(ctx, '/identity/projects'), message: `Project ${name} created.` };
    },
    async enable(ctx, form) {
      await ctx.api.patch('identity', `/v3/projects/${id(form, 'id', 'Project')}`, { project: { enabled: true } });
      return { redirect: to(ctx, '/identity/projects'), message: 'Project enabled.' };
    },
    async disable(ctx, form) {
      await ctx.api.patch('identity', `/v3/projects/${id(form, 'id', 'Project')}`, { project: { enabled: false } });
      return { redirect: to(ctx, '/identity/projects'), message: 'Project disabled.' };
    },
    async delete(ctx, form) {
      await ctx.api.delete('identity', `/v3/projects/${id(form, 'id', 'Project')}`);
      return { redirect: to(ctx, '/identity/projects'), message: 'Project deleted.' };
    },
  },
};
