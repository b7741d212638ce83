import { html, type SafeHtml } from '../html.js';
import type { Page, PageContext } from '../page.js';
import type { NetworkDoc } from './networks.js';
import {
  buttonForm,
  field,
  formBox,
  formHeader,
  id,
  input,
  link,
  nameOr,
  need,
  notice,
  opt,
  select,
  status,
  table,
  to,
  tryGet,
  type Option,
} from './ui-kit.js';

export interface RouterDoc {
  id: string;
  name: string;
  status: string;
  project_id?: string;
  external_gateway_info: {
    network_id: string;
    enable_snat?: boolean;
    external_fixed_ips?: Array<{ subnet_id?: string; ip_address: string }>;
  } | null;
}

export const INTERFACE_OWNER = 'network:router_interface';

/** The external networks a router's gateway can be on. */
export async function externalNetworks(ctx: PageContext): Promise<{ value: NetworkDoc[]; error?: string }> {
  const r = await tryGet(ctx.api.get<{ networks: NetworkDoc[] }>('network', '/v2.0/networks?router:external=true'), {
    networks: [],
  });
  return { value: r.value.networks.filter((n) => n['router:external']), ...(r.error ? { error: r.error } : {}) };
}

function gatewayCell(ctx: PageContext, r: RouterDoc, ext: NetworkDoc[], options: Option[]): SafeHtml {
  const gw = r.external_gateway_info;
  if (gw?.network_id) {
    const net = ext.find((n) => n.id === gw.network_id);
    const ips = (gw.external_fixed_ips ?? []).map((f) => f.ip_address).join(', ');
    return html`${net ? nameOr(net) : gw.network_id} ${ips ? html`(${ips})` : ''} ${buttonForm(ctx, 'clear_gateway', 'Clear gateway', { id: r.id })}`;
  }
  if (options.length === 0) return html`none`;
  return html`<form method="post" class="inline">${formHeader(ctx, 'set_gateway')}<input type="hidden" name="id" value="${r.id}">${select('network_id', options)}<button type="submit">Set gateway</button></form>`;
}

export const routersPage: Page = {
  path: '/project/routers',
  title: 'Routers',
  nav: { section: 'project', label: 'Routers', order: 220 },
  async render(ctx) {
    const [routers, ext, ports] = await Promise.all([
      ctx.api.get<{ routers: RouterDoc[] }>('network', '/v2.0/routers'),
      externalNetworks(ctx),
      tryGet(
        ctx.api.get<{ ports: Array<{ device_id: string }> }>(
          'network',
          `/v2.0/ports?device_owner=${encodeURIComponent(INTERFACE_OWNER)}`,
        ),
        { ports: [] },
      ),
    ]);
    const options = ext.value.map((n) => ({ value: n.id, label: nameOr(n) }));
    const count = (rid: string) => ports.value.ports.filter((p) => p.device_id === rid).length;
    const rows = [...routers.routers].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (r) => link(ctx, `/project/routers/${encodeURIComponent(r.id)}`, nameOr(r)) },
        { label: 'Status', cell: (r) => status(r.status) },
        { label: 'External gateway', cell: (r) => gatewayCell(ctx, r, ext.value, options) },
        { label: 'Interfaces', cell: (r) => link(ctx, `/project/routers/${encodeURIComponent(r.id)}`, `${count(r.id)} (edit)`) },
        { label: '', cell: (r) => buttonForm(ctx, 'delete', 'Delete', { id: r.id }, true) },
      ],
      'No routers yet.',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a router',
      [
        field('Name', 'name', input('name', { required: true })),
        field('External network', 'network_id', select('network_id', options, { blank: '(none)' })),
      ],
      'Create',
    );
    return html`${notice(ext.error, 'external networks')}${notice(ports.error, 'interfaces')}${list}${create}`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const router: Record<string, unknown> = { name, admin_state_up: true };
      const net = opt(form, 'network_id');
      if (net) router.external_gateway_info = { network_id: id(form, 'network_id', 'External network') };
      await ctx.api.post('network', '/v2.0/routers', { router });
      return { redirect: to(ctx, '/project/routers'), message: `Router ${name} created.` };
    },
    async set_gateway(ctx, form) {
      const rid = id(form, 'id', 'Router');
      const external_gateway_info = { network_id: id(form, 'network_id', 'External network') };
      await ctx.api.put('network', `/v2.0/routers/${rid}`, { router: { external_gateway_info } });
      return { redirect: to(ctx, '/project/routers'), message: 'Gateway set.' };
    },
    async clear_gateway(ctx, form) {
      const rid = id(form, 'id', 'Router');
      await ctx.api.put('network', `/v2.0/routers/${rid}`, { router: { external_gateway_info: {} } });
      return { redirect: to(ctx, '/project/routers'), message: 'Gateway cleared.' };
    },
    async delete(ctx, form) {
      await ctx.api.delete('network', `/v2.0/routers/${id(form, 'id', 'Router')}`);
      return { redirect: to(ctx, '/project/routers'), message: 'Router deleted.' };
    },
  },
};
