import { html, type SafeHtml } from '../html.js';
import { ApiError, type Page, type PageContext } from '../page.js';
import {
  buttonForm,
  checkbox,
  checked,
  field,
  formBox,
  id,
  input,
  link,
  nameOr,
  need,
  notice,
  opt,
  status,
  table,
  to,
  tryGet,
} from './ui-kit.js';

export interface NetworkDoc {
  id: string;
  name: string;
  status: string;
  shared?: boolean;
  admin_state_up?: boolean;
  'router:external'?: boolean;
  subnets?: string[];
  project_id?: string;
  mtu?: number;
}
export interface SubnetDoc {
  id: string;
  name: string;
  network_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  dns_nameservers?: string[];
  allocation_pools?: Array<{ start: string; end: string }>;
}

/** Form fields of a subnet (shared by the create-network form and the network detail page). */
export function subnetFields(withName = true): SafeHtml[] {
  return [
    withName ? field('Subnet name', 'subnet_name', input('subnet_name')) : html``,
    field('Network address (CIDR)', 'cidr', input('cidr', { placeholder: '10.0.0.0/24' })),
    field('Gateway IP (empty: first address)', 'gateway_ip', input('gateway_ip', { placeholder: '10.0.0.1' })),
    field('No gateway', 'no_gateway', checkbox('no_gateway', false)),
    field('DHCP', 'enable_dhcp', checkbox('enable_dhcp', true)),
    field('DNS servers (comma-separated)', 'dns', input('dns', { placeholder: '192.0.2.53' })),
  ];
}

/** The Neutron subnet body for those fields. */
export function subnetBody(form: Record<string, string>, networkId: string): Record<string, unknown> {
  const cidr = need(form, 'cidr', 'Network address (CIDR)');
  const sub: Record<string, unknown> = {
    network_id: networkId,
    cidr,
    ip_version: cidr.includes(':') ? 6 : 4,
    enable_dhcp: checked(form, 'enable_dhcp'),
  };
  const name = opt(form, 'subnet_name');
  if (name) sub.name = name;
  if (checked(form, 'no_gateway')) sub.gateway_ip = null;
  else if (opt(form, 'gateway_ip')) sub.gateway_ip = opt(form, 'gateway_ip');
  const dns = (form.dns ?? '').split(/[\s,]+/).filter(Boolean);
  if (dns.length) sub.dns_nameservers = dns;
  return { subnet: sub };
}

async function render(ctx: PageContext): Promise<SafeHtml> {
  const [nets, subs] = await Promise.all([
    ctx.api.get<{ networks: NetworkDoc[] }>('network', '/v2.0/networks'),
    tryGet(ctx.api.get<{ subnets: SubnetDoc[] }>('network', '/v2.0/subnets'), { subnets: [] }),
  ]);
  const cidrs = new Map<string, string[]>();
  for (const s of subs.value.subnets) cidrs.set(s.network_id, [...(cidrs.get(s.network_id) ?? []), s.cidr]);
  const rows = [...nets.networks].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const list = table(
    rows,
    [
      { label: 'Name', cell: (n) => link(ctx, `/project/networks/${encodeURIComponent(n.id)}`, nameOr(n)) },
      { label: 'Subnets', cell: (n) => (cidrs.get(n.id) ?? []).join(', ') },
      { label: 'Shared', cell: (n) => (n.shared ? 'yes' : 'no') },
      { label: 'External', cell: (n) => (n['router:external'] ? 'yes' : 'no') },
      { label: 'Status', cell: (n) => status(n.status) },
      {
        label: '',
        cell: (n) =>
          n.project_id === ctx.session.projectId || ctx.session.isAdmin
            ? buttonForm(ctx, 'delete', 'Delete', { id: n.id }, true)
            : '',
      },
    ],
    'No networks yet.',
  );
  const adminFields = ctx.session.isAdmin
    ? [field('External network', 'external', checkbox('external', false)), field('Shared', 'shared', checkbox('shared', false))]
    : [];
  const create = formBox(
    ctx,
    'create',
    'Create a network',
    [
      field('Name', 'name', input('name', { required: true })),
      ...adminFields,
      html`<p class="hint">Subnet (leave the address empty for a network without one)</p>`,
      ...subnetFields(),
    ],
    'Create',
  );
  return html`${notice(subs.error, 'subnets')}${list}${create}
<p>${link(ctx, '/project/network-topology', 'See the topology picture')}</p>`;
}

export const networksPage: Page = {
  path: '/project/networks',
  title: 'Networks',
  nav: { section: 'project', label: 'Networks', order: 210 },
  render,
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const body: Record<string, unknown> = { name, admin_state_up: true };
      if (ctx.session.isAdmin && checked(form, 'external')) body['router:external'] = true;
      if (ctx.session.isAdmin && checked(form, 'shared')) body.shared = true;
      const wantSubnet = !!opt(form, 'cidr');
      const subnet = wantSubnet ? subnetBody(form, '') : null; // validate before creating anything
      const { network } = await ctx.api.post<{ network: NetworkDoc }>('network', '/v2.0/networks', { network: body });
      if (subnet) {
        (subnet.subnet as Record<string, unknown>).network_id = network.id;
        try {
          await ctx.api.post('network', '/v2.0/subnets', subnet);
        } catch (err) {
          // Nothing half-made: the network goes again if its subnet was refused.
          await ctx.api.delete('network', `/v2.0/networks/${network.id}`).catch(() => undefined);
          if (err instanceof ApiError) throw new ApiError(err.status, `Subnet: ${err.message} (the network was not created)`);
          throw err;
        }
      }
      return { redirect: to(ctx, '/project/networks'), message: `Network ${name} created${subnet ? ' with its subnet' : ''}.` };
    },
    async delete(ctx, form) {
      const nid = id(form, 'id', 'Network');
      await ctx.api.delete('network', `/v2.0/networks/${nid}`);
      return { redirect: to(ctx, '/project/networks'), message: 'Network deleted.' };
    },
  },
};
