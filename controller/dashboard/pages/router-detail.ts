import { html } from '../html.js';
import type { Page } from '../page.js';
import type { NetworkDoc, SubnetDoc } from './networks.js';
import { INTERFACE_OWNER, type RouterDoc } from './routers.js';
import { buttonForm, field, formBox, id, link, nameOr, notice, pathId, select, status, table, to, tryGet } from './ui-kit.js';

interface PortDoc {
  id: string;
  network_id: string;
  status: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
}

/** One router: its gateway and interfaces; add or remove an interface on a subnet. */
export const routerDetailPage: Page = {
  path: '/project/routers/:id',
  title: 'Router',
  async render(ctx) {
    const rid = pathId(ctx.params.id, 'router');
    const [{ router: r }, ports, subs, nets] = await Promise.all([
      ctx.api.get<{ router: RouterDoc }>('network', `/v2.0/routers/${rid}`),
      tryGet(
        ctx.api.get<{ ports: PortDoc[] }>(
          'network',
          `/v2.0/ports?device_id=${rid}&device_owner=${encodeURIComponent(INTERFACE_OWNER)}`,
        ),
        { ports: [] },
      ),
      tryGet(ctx.api.get<{ subnets: SubnetDoc[] }>('network', '/v2.0/subnets'), { subnets: [] }),
      tryGet(ctx.api.get<{ networks: NetworkDoc[] }>('network', '/v2.0/networks'), { networks: [] }),
    ]);
    const subnet = new Map(subs.value.subnets.map((s) => [s.id, s]));
    const net = new Map(nets.value.networks.map((n) => [n.id, n]));
    const rows = ports.value.ports.flatMap((p) => p.fixed_ips.map((f) => ({ port: p, ip: f })));
    const list = table(
      rows,
      [
        {
          label: 'Network',
          cell: ({ port }) => {
            const n = net.get(port.network_id);
            return n ? link(ctx, `/project/networks/${encodeURIComponent(n.id)}`, nameOr(n)) : port.network_id;
          },
        },
        {
          label: 'Subnet',
          cell: ({ ip }) => {
            const s = subnet.get(ip.subnet_id);
            return s ? `${nameOr(s)} ${s.cidr}` : ip.subnet_id;
          },
        },
        { label: 'Address', cell: ({ ip }) => ip.ip_address },
        { label: 'Status', cell: ({ port }) => status(port.status) },
        { label: '', cell: ({ ip }) => buttonForm(ctx, 'remove_interface', 'Remove', { subnet_id: ip.subnet_id }, true) },
      ],
      'No interfaces.',
    );
    const attached = new Set(rows.map((x) => x.ip.subnet_id));
    // Subnets of internal networks not on this router yet.
    const candidates = subs.value.subnets
      .filter((s) => !attached.has(s.id) && !net.get(s.network_id)?.['router:external'])
      .map((s) => ({
        value: s.id,
        label: `${net.get(s.network_id) ? nameOr(net.get(s.network_id)!) : s.network_id}: ${nameOr(s)} ${s.cidr}`,
      }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const gw = r.external_gateway_info;
    const gwNet = gw?.network_id ? net.get(gw.network_id) : undefined;
    return html`<h2>Router ${nameOr(r)}</h2>
<p>${link(ctx, '/project/routers', '← Routers')}</p>
<dl class="props"><dt>ID</dt><dd>${r.id}</dd><dt>Status</dt><dd>${status(r.status)}</dd>
<dt>External gateway</dt><dd>${gw?.network_id ? html`${gwNet ? nameOr(gwNet) : gw.network_id} ${(gw.external_fixed_ips ?? []).map((f) => f.ip_address).join(', ')}` : 'none'}</dd></dl>
<h3>Interfaces</h3>${notice(ports.error, 'interfaces')}${notice(subs.error, 'subnets')}${list}
${candidates.length ? formBox(ctx, 'add_interface', 'Add an interface', [field('Subnet', 'subnet_id', select('subnet_id', candidates))], 'Add interface') : html`<p class="hint">No other subnet to attach.</p>`}`;
  },
  actions: {
    async add_interface(ctx, form) {
      const rid = pathId(ctx.params.id, 'router');
      await ctx.api.put('network', `/v2.0/routers/${rid}/add_router_interface`, { subnet_id: id(form, 'subnet_id', 'Subnet') });
      return { redirect: to(ctx, `/project/routers/${rid}`), message: 'Interface added.' };
    },
    async remove_interface(ctx, form) {
      const rid = pathId(ctx.params.id, 'router');
      await ctx.api.put('network', `/v2.0/routers/${rid}/remove_router_interface`, {
        subnet_id: id(form, 'subnet_id', 'Subnet'),
      });
      return { redirect: to(ctx, `/project/routers/${rid}`), message: 'Interface removed.' };
    },
  },
};
