import { html } from '../html.js';
import type { Page } from '../page.js';
import { link, nameOr, notice, shortId, status, table, tryGet } from './ui-kit.js';

interface ServerDoc {
  id: string;
  name: string;
  status: string;
  tenant_id: string;
  'OS-EXT-SRV-ATTR:host'?: string | null;
  flavor?: { id?: string; original_name?: string };
  addresses?: Record<string, Array<{ addr: string }>>;
  created?: string;
}

/** Every instance of every project (servers/detail?all_tenants=1). */
export const adminInstancesPage: Page = {
  path: '/admin/instances',
  title: 'All instances',
  nav: { section: 'admin', label: 'Instances', order: 30 },
  adminOnly: true,
  async render(ctx) {
    const [{ servers }, projects, flavors] = await Promise.all([
      ctx.api.get<{ servers: ServerDoc[] }>('compute', '/v2.1/servers/detail?all_tenants=1'),
      tryGet(ctx.api.get<{ projects: Array<{ id: string; name: string }> }>('identity', '/v3/projects'), { projects: [] }),
      tryGet(ctx.api.get<{ flavors: Array<{ id: string; name: string }> }>('compute', '/v2.1/flavors/detail?is_public=None'), {
        flavors: [],
      }),
    ]);
    const project = new Map(projects.value.projects.map((p) => [p.id, p.name]));
    const flavor = new Map(flavors.value.flavors.map((f) => [f.id, f.name]));
    const rows = [...servers].sort(
      (a, b) =>
        (project.get(a.tenant_id) ?? a.tenant_id).localeCompare(project.get(b.tenant_id) ?? b.tenant_id) ||
        a.name.localeCompare(b.name) ||
        a.id.localeCompare(b.id),
    );
    const list = table(
      rows,
      [
        { label: 'Project', cell: (s) => project.get(s.tenant_id) ?? shortId(s.tenant_id) },
        { label: 'Name', cell: (s) => link(ctx, `/project/instances/${encodeURIComponent(s.id)}`, nameOr(s)) },
        { label: 'Host', cell: (s) => s['OS-EXT-SRV-ATTR:host'] ?? '' },
        {
          label: 'Flavor',
          cell: (s) => (s.flavor?.id ? (flavor.get(s.flavor.id) ?? s.flavor.id) : (s.flavor?.original_name ?? '')),
        },
        {
          label: 'Addresses',
          cell: (s) =>
            Object.entries(s.addresses ?? {})
              .map(([net, as]) => `${net}: ${as.map((a) => a.addr).join(', ')}`)
              .join('; '),
        },
        { label: 'Status', cell: (s) => status(s.status) },
        { label: 'Created', cell: (s) => s.created ?? '' },
      ],
      'No instances in any project.',
    );
    return html`${notice(projects.error, 'projects')}<p>${servers.length} instance${servers.length === 1 ? '' : 's'}.</p>${list}`;
  },
};
