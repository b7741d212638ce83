import { html, raw } from '../html.js';
import type { Page, PageContext } from '../page.js';
import { layoutTopology, renderTopologySvg, type TopoInput, type TopoNode } from './topology-layout.js';
import { link, notice, tryGet } from './ui-kit.js';

/** Everything the picture needs, fetched in parallel; a failed source leaves its part out. */
export async function loadTopology(ctx: PageContext): Promise<{ input: TopoInput; errors: string[] }> {
  const [n, s, r, p, v, f] = await Promise.all([
    tryGet(ctx.api.get<{ networks: TopoInput['networks'] }>('network', '/v2.0/networks'), { networks: [] }),
    tryGet(ctx.api.get<{ subnets: TopoInput['subnets'] }>('network', '/v2.0/subnets'), { subnets: [] }),
    tryGet(ctx.api.get<{ routers: TopoInput['routers'] }>('network', '/v2.0/routers'), { routers: [] }),
    tryGet(ctx.api.get<{ ports: TopoInput['ports'] }>('network', '/v2.0/ports'), { ports: [] }),
    tryGet(ctx.api.get<{ servers: TopoInput['servers'] }>('compute', '/v2.1/servers/detail'), { servers: [] }),
    tryGet(ctx.api.get<{ floatingips: NonNullable<TopoInput['floatingips']> }>('network', '/v2.0/floatingips'), {
      floatingips: [],
    }),
  ]);
  const errors = [
    n.error && `networks: ${n.error}`,
    s.error && `subnets: ${s.error}`,
    r.error && `routers: ${r.error}`,
    p.error && `ports: ${p.error}`,
    v.error && `instances: ${v.error}`,
    f.error && `floating IPs: ${f.error}`,
  ].filter((x): x is string => !!x);
  return {
    input: {
      networks: n.value.networks,
      subnets: s.value.subnets,
      routers: r.value.routers,
      ports: p.value.ports,
      servers: v.value.servers,
      floatingips: f.value.floatingips,
    },
    errors,
  };
}

export const topologyPage: Page = {
  path: '/project/network-topology',
  title: 'Network topology',
  nav: { section: 'project', label: 'Network Topology', order: 200 },
  async render(ctx) {
    const { input, errors } = await loadTopology(ctx);
    const t = layoutTopology(input);
    const href = (n: TopoNode): string | null => {
      const id = encodeURIComponent(n.id);
      if (n.kind === 'network') return input.networks.some((x) => x.id === n.id) ? `${ctx.base}/project/networks/${id}` : null;
      if (n.kind === 'router') return `${ctx.base}/project/routers/${id}`;
      return `${ctx.base}/project/instances/${id}`;
    };
    const empty = t.nodes.length === 0;
    return html`
${notice(errors.join('; ') || undefined, 'part of the topology')}
<p class="hint">Networks are the vertical bars (external ones in purple, first); routers and instances are boxes, joined to each network they have an address on. A dashed line is a router's external gateway.</p>
${empty ? html`<p class="empty">No networks, routers or instances yet. ${link(ctx, '/project/networks', 'Create a network')}.</p>` : html`<div class="topology-wrap">${raw(renderTopologySvg(t, href))}</div>`}`;
  },
};
