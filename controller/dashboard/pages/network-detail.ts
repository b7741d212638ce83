import { html } from '../html.js';
import type { Page } from '../page.js';
import type { NetworkDoc, SubnetDoc } from './networks.js';
import { subnetBody, subnetFields } from './networks.js';
import { buttonForm, formBox, id, link, nameOr, notice, pathId, shortId, status, table, to, tryGet } from './ui-kit.js';

interface PortDoc {
  id: string;
  name: string;
  mac_address: string;
  status: string;
  device_owner: string;
  device_id: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
}

export const networkDetailPage: Page = {
  path: '/project/networks/:id',
  title: 'Network',
  async render(ctx) {
    const nid = pathId(ctx.params.id, 'network');
    const [{ network: n }, subs, ports] = await Promise.all([
      ctx.api.get<{ network: NetworkDoc }>('network', `/v2.0/networks/${nid}`),
      tryGet(ctx.api.get<{ subnets: SubnetDoc[] }>('network', `/v2.0/subnets?network_id=${nid}`), { subnets: [] }),
      tryGet(ctx.api.get<{ ports: PortDoc[] }>('network', `/v2.0/ports?network_id=${nid}`), { ports: [] }),
    ]);
    const subnets = table(
      subs.value.subnets,
      [
        { label: 'Name', cell: (s) => nameOr(s) },
        { label: 'CIDR', cell: (s) => s.cidr },
        { label: 'Gateway', cell: (s) => s.gateway_ip ?? 'none' },
        { label: 'DHCP', cell: (s) => (s.enable_dhcp ? 'on' : 'off') },
        { label: 'DNS', cell: (s) => (s.dns_nameservers ?? []).join(', ') },
        { label: 'Pools', cell: (s) => (s.allocation_pools ?? []).map((p) => `${p.start}–${p.end}`).join(', ') },
        { label: '', cell: (s) => buttonForm(ctx, 'delete_subnet', 'Delete', { subnet_id: s.id }, true) },
      ],
      'No subnets.',
    );
    const device = (p: PortDoc) => {
      if (p.device_owner.startsWith('compute:'))
        return link(ctx, `/project/instances/${encodeURIComponent(p.device_id)}`, `instance ${shortId(p.device_id)}`);
      if (p.device_owner === 'network:router_interface' || p.device_owner === 'network:router_gateway') {
        return link(ctx, `/project/routers/${encodeURIComponent(p.device_id)}`, `router ${shortId(p.device_id)}`);
      }
      return p.device_id ? shortId(p.device_id) : '';
    };
    const portList = table(
      ports.value.ports,
      [
        { label: 'Name', cell: (p) => nameOr(p) },
        { label: 'Addresses', cell: (p) => p.fixed_ips.map((f) => f.ip_address).join(', ') },
        { label: 'MAC', cell: (p) => p.mac_address },
        { label: 'Owner', cell: (p) => p.device_owner },
        { label: 'Device', cell: device },
        { label: 'Status', cell: (p) => status(p.status) },
      ],
      'No ports.',
    );
    return html`<h2>Network ${nameOr(n)}</h2>
<p>${link(ctx, '/project/networks', '← Networks')}</p>
<dl class="props"><dt>ID</dt><dd>${n.id}</dd><dt>Status</dt><dd>${status(n.status)}</dd><dt>MTU</dt><dd>${n.mtu ?? ''}</dd>
<dt>Shared</dt><dd>${n.shared ? 'yes' : 'no'}</dd><dt>External</dt><dd>${n['router:external'] ? 'yes' : 'no'}</dd></dl>
<h3>Subnets</h3>${notice(subs.error, 'subnets')}${subnets}
${formBox(ctx, 'add_subnet', 'Add a subnet', subnetFields(), 'Add subnet')}
<h3>Ports</h3>${notice(ports.error, 'ports')}${portList}`;
  },
  actions: {
    async add_subnet(ctx, form) {
      const nid = pathId(ctx.params.id, 'network');
      await ctx.api.post('network', '/v2.0/subnets', subnetBody(form, nid));
      return { redirect: to(ctx, `/project/networks/${nid}`), message: 'Subnet added.' };
    },
    async delete_subnet(ctx, form) {
      const nid = pathId(ctx.params.id, 'network');
      await ctx.api.delete('network', `/v2.0/subnets/${id(form, 'subnet_id', 'Subnet')}`);
      return { redirect: to(ctx, `/project/networks/${nid}`), message: 'Subnet deleted.' };
    },
  },
};
