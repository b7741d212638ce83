import { html } from '../html.js';
import type { Page } from '../page.js';
import { buttonForm, field, formBox, id, input, link, nameOr, need, opt, table, to } from './ui-kit.js';

export interface RuleDoc {
  id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description?: string | null;
}
export interface GroupDoc {
  id: string;
  name: string;
  description: string;
  project_id?: string;
  security_group_rules?: RuleDoc[];
}

export const securityGroupsPage: Page = {
  path: '/project/security-groups',
  title: 'Security groups',
  nav: { section: 'project', label: 'Security Groups', order: 230 },
  async render(ctx) {
    const { security_groups: groups } = await ctx.api.get<{ security_groups: GroupDoc[] }>('network', '/v2.0/security-groups');
    const rows = [...groups].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (g) => link(ctx, `/project/security-groups/${encodeURIComponent(g.id)}`, nameOr(g)) },
        { label: 'Description', cell: (g) => g.description },
        {
          label: 'Rules',
          cell: (g) =>
            link(ctx, `/project/security-groups/${encodeURIComponent(g.id)}`, `${g.security_group_rules?.length ?? 0} (edit)`),
        },
        { label: '', cell: (g) => (g.name === 'default' ? '' : buttonForm(ctx, 'delete', 'Delete', { id: g.id }, true)) },
      ],
      'No security groups.',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a security group',
      [field('Name', 'name', input('name', { required: true })), field('Description', 'description', input('description'))],
      'Create',
    );
    return html`${list}${create}`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const { security_group: g } = await ctx.api.post<{ security_group: GroupDoc }>('network', '/v2.0/security-groups', {
        security_group: { name, description: opt(form, 'description') ?? '' },
      });
      // Straight to the rule editor of the new group.
      return {
        redirect: to(ctx, g?.id ? `/project/security-groups/${encodeURIComponent(g.id)}` : '/project/security-groups'),
        message: `Security group ${name} created.`,
      };
    },
    async delete(ctx, form) {
      await ctx.api.delete('network', `/v2.0/security-groups/${id(form, 'id', 'Security group')}`);
      return { redirect: to(ctx, '/project/security-groups'), message: 'Security group deleted.' };
    },
  },
};
