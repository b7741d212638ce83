import { html } from '../html.js';
import type { Page } from '../page.js';
import { externalNetworks } from './routers.js';
import { buttonForm, field, formBox, formHeader, id, link, nameOr, notice, select, status, table, to, tryGet } from './ui-kit.js';

interface FloatingIpDoc {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  fixed_ip_address: string | null;
  port_id: string | null;
  status: string;
}
interface PortDoc {
  id: string;
  device_id: string;
  device_owner: string;
  fixed_ips: Array<{ ip_address: string }>;
}

export const floatingIpsPage: Page = {
  path: '/project/floating-ips',
  title: 'Floating IPs',
  nav: { section: 'project', label: 'Floating IPs', order: 240 },
  async render(ctx) {
    const [fips, ext, ports, servers] = await Promise.all([
      ctx.api.get<{ floatingips: FloatingIpDoc[] }>('network', '/v2.0/floatingips'),
      externalNetworks(ctx),
      tryGet(ctx.api.get<{ ports: PortDoc[] }>('network', '/v2.0/ports'), { ports: [] }),
      tryGet(ctx.api.get<{ servers: Array<{ id: string; name: string }> }>('compute', '/v2.1/servers/detail'), { servers: [] }),
    ]);
    const server = new Map(servers.value.servers.map((s) => [s.id, s]));
    const pool = new Map(ext.value.map((n) => [n.id, n]));
    const instancePorts = ports.value.ports.filter((p) => p.device_owner.startsWith('compute:') && server.has(p.device_id));
    const portOwner = new Map(instancePorts.map((p) => [p.id, p]));
    const taken = new Set(fips.floatingips.map((f) => f.port_id).filter(Boolean));
    const targets = instancePorts
      .filter((p) => !taken.has(p.id))
      .map((p) => ({
        value: p.id,
        label: `${nameOr(server.get(p.device_id)!)}: ${p.fixed_ips.map((f) => f.ip_address).join(', ')}`,
      }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const mapped = (f: FloatingIpDoc) => {
      if (!f.port_id) return html`—`;
      const p = portOwner.get(f.port_id);
      const s = p ? server.get(p.device_id) : undefined;
      return html`${s ? link(ctx, `/project/instances/${encodeURIComponent(s.id)}`, nameOr(s)) : ''} ${f.fixed_ip_address ?? ''}`;
    };
    const actions = (f: FloatingIpDoc) =>
      f.port_id
        ? buttonForm(ctx, 'disassociate', 'Disassociate', { id: f.id })
        : html`${targets.length ? html`<form method="post" class="inline">${formHeader(ctx, 'associate')}<input type="hidden" name="id" value="${f.id}">${select('port_id', targets)}<button type="submit">Associate</button></form>` : ''} ${buttonForm(ctx, 'release', 'Release', { id: f.id }, true)}`;
    const rows = [...fips.floatingips].sort((a, b) =>
      a.floating_ip_address.localeCompare(b.floating_ip_address, undefined, { numeric: true }),
    );
    const list = table(
      rows,
      [
        { label: 'Address', cell: (f) => f.floating_ip_address },
        { label: 'Mapped to', cell: mapped },
        {
          label: 'Pool',
          cell: (f) => {
            const n = pool.get(f.floating_network_id);
            return n ? nameOr(n) : f.floating_network_id;
          },
        },
        { label: 'Status', cell: (f) => status(f.status) },
        { label: '', cell: actions },
      ],
      'No floating IPs allocated.',
    );
    const allocate = ext.value.length
      ? formBox(
          ctx,
          'allocate',
          'Allocate a floating IP',
          [
            field(
              'Pool (external network)',
              'network_id',
              select(
                'network_id',
                ext.value.map((n) => ({ value: n.id, label: nameOr(n) })),
              ),
            ),
          ],
          'Allocate',
        )
      : html`<p class="hint">No external network to allocate from.</p>`;
    return html`${notice(ext.error, 'external networks')}${notice(ports.error, 'ports')}${notice(servers.error, 'instances')}${list}${allocate}`;
  },
  actions: {
    async allocate(ctx, form) {
      const { floatingip } = await ctx.api.post<{ floatingip: FloatingIpDoc }>('network', '/v2.0/floatingips', {
        floatingip: { floating_network_id: id(form, 'network_id', 'Pool') },
      });
      return {
        redirect: to(ctx, '/project/floating-ips'),
        message: `Allocated ${floatingip?.floating_ip_address ?? 'a floating IP'}.`,
      };
    },
    async associate(ctx, form) {
      const fid = id(form, 'id', 'Floating IP');
      await ctx.api.put('network', `/v2.0/floatingips/${fid}`, { floatingip: { port_id: id(form, 'port_id', 'Port') } });
      return { redirect: to(ctx, '/project/floating-ips'), message: 'Floating IP associated.' };
    },
    async disassociate(ctx, form) {
      await ctx.api.put('network', `/v2.0/floatingips/${id(form, 'id', 'Floating IP')}`, { floatingip: { port_id: null } });
      return { redirect: to(ctx, '/project/floating-ips'), message: 'Floating IP disassociated.' };
    },
    async release(ctx, form) {
      await ctx.api.delete('network', `/v2.0/floatingips/${id(form, 'id', 'Floating IP')}`);
      return { redirect: to(ctx, '/project/floating-ips'), message: 'Floating IP released.' };
    },
  },
};
