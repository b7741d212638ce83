import { html } from '../html.js';
import type { Page } from '../page.js';
import { bad, buttonForm, checkbox, checked, field, formBox, input, int, need, opt, table, to } from './ui-kit.js';

interface FlavorDoc {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  'os-flavor-access:is_public'?: boolean;
  description?: string | null;
}

export const adminFlavorsPage: Page = {
  path: '/admin/flavors',
  title: 'Flavors',
  nav: { section: 'admin', label: 'Flavors', order: 40 },
  adminOnly: true,
  async render(ctx) {
    const { flavors } = await ctx.api.get<{ flavors: FlavorDoc[] }>('compute', '/v2.1/flavors/detail?is_public=None');
    const rows = [...flavors].sort(
      (a, b) => a.vcpus - b.vcpus || a.ram - b.ram || a.disk - b.disk || a.name.localeCompare(b.name),
    );
    const list = table(
      rows,
      [
        { label: 'Name', cell: (f) => f.name },
        { label: 'ID', cell: (f) => f.id },
        { label: 'vCPUs', cell: (f) => f.vcpus },
        { label: 'RAM', cell: (f) => `${f.ram} MB` },
        { label: 'Disk', cell: (f) => `${f.disk} GB` },
        { label: 'Public', cell: (f) => (f['os-flavor-access:is_public'] === false ? 'no' : 'yes') },
        { label: 'Description', cell: (f) => f.description ?? '' },
        { label: '', cell: (f) => buttonForm(ctx, 'delete', 'Delete', { id: f.id }, true) },
      ],
      'No flavors.',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a flavor',
      [
        field('Name', 'name', input('name', { required: true })),
        field('ID (empty: generated)', 'id', input('id')),
        field('vCPUs', 'vcpus', input('vcpus', { type: 'number', value: '1', min: 1, required: true })),
        field('RAM (MB)', 'ram', input('ram', { type: 'number', value: '512', min: 1, required: true })),
        field('Root disk (GB)', 'disk', input('disk', { type: 'number', value: '1', min: 0, required: true })),
        field('Public', 'public', checkbox('public', true)),
        field('Description', 'description', input('description')),
      ],
      'Create',
    );
    return html`${list}${create}`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const flavor: Record<string, unknown> = {
        name,
        vcpus: int(form, 'vcpus', 'vCPUs', 1),
        ram: int(form, 'ram', 'RAM (MB)', 1),
        disk: int(form, 'disk', 'Root disk (GB)', 0),
        'os-flavor-access:is_public': checked(form, 'public'),
      };
      const fid = opt(form, 'id');
      if (fid) {
        if (!/^[a-zA-Z0-9._-]+$/.test(fid)) bad('ID may contain letters, digits, ".", "_" and "-" only.');
        flavor.id = fid;
      }
      const description = opt(form, 'description');
      if (description) flavor.description = description;
      await ctx.api.post('compute', '/v2.1/flavors', { flavor });
      return { redirect: to(ctx, '/admin/flavors'), message: `Flavor ${name} created.` };
    },
    async delete(ctx, form) {
      const fid = need(form, 'id', 'Flavor');
      if (!/^[a-zA-Z0-9._ -]+$/.test(fid) || fid.includes('..')) bad('Flavor is not a valid id.');
      await ctx.api.delete('compute', `/v2.1/flavors/${encodeURIComponent(fid)}`);
      return { redirect: to(ctx, '/admin/flavors'), message: 'Flavor deleted.' };
    },
  },
};
