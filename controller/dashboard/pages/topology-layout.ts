import { escapeHtml } from '../html.js';

/**
 * The network topology picture, drawn on the server: networks are vertical bars (external
 * ones first, then by name), routers and instances are boxes, one per row, placed just
 * right of the leftmost network they are on, with a horizontal line to each network they
 * have a port on (labelled with the addresses). The layout is a pure function of the
 * API documents, so the same cloud always gives the same picture (and tests can check it).
 */

export interface TopoInput {
  networks: Array<{ id: string; name?: string; 'router:external'?: boolean; status?: string }>;
  subnets: Array<{ id: string; network_id: string; cidr: string }>;
  routers: Array<{
    id: string;
    name?: string;
    status?: string;
    external_gateway_info?: { network_id?: string; external_fixed_ips?: Array<{ ip_address?: string }> } | null;
  }>;
  ports: Array<{
    id: string;
    network_id: string;
    device_id?: string;
    device_owner?: string;
    fixed_ips?: Array<{ ip_address?: string }>;
  }>;
  servers: Array<{ id: string; name?: string; status?: string }>;
  /** Optional: floating IPs, shown beside the fixed address of the port they map to. */
  floatingips?: Array<{ port_id?: string | null; fixed_ip_address?: string | null; floating_ip_address?: string }>;
}

export type NodeKind = 'network' | 'router' | 'instance';

export interface TopoNode {
  id: string;
  kind: NodeKind;
  /** Full name (the drawing truncates it; the tooltip shows it all). */
  name: string;
  /** Second line: CIDRs for a network, status for a box. */
  detail: string;
  /** A box's addresses on all its networks (its third line); '' for a network. */
  addrs: string;
  x: number;
  y: number;
  w: number;
  h: number;
  external?: boolean;
}

export interface TopoEdge {
  /** Router or instance id. */
  from: string;
  /** Network id. */
  to: string;
  kind: 'gateway' | 'interface' | 'port';
  /** Addresses on that network, comma-separated. */
  label: string;
  x1: number;
  x2: number;
  y: number;
}

export interface Topology {
  width: number;
  height: number;
  nodes: TopoNode[];
  edges: TopoEdge[];
}

export const LAYOUT = { margin: 20, top: 64, col: 230, bar: 18, row: 72, boxW: 150, boxH: 54, gap: 24 } as const;

const byNameThenId = (a: { name?: string; id: string }, b: { name?: string; id: string }): number =>
  (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id);

interface Device {
  id: string;
  kind: 'router' | 'instance';
  name: string;
  detail: string;
  links: Map<string, { kind: TopoEdge['kind']; addrs: string[] }>;
}

function addrsOf(p: { fixed_ips?: Array<{ ip_address?: string }> }): string[] {
  return (p.fixed_ips ?? []).map((f) => f.ip_address ?? '').filter(Boolean);
}

function link(d: Device, networkId: string, kind: TopoEdge['kind'], addrs: string[]): void {
  const have = d.links.get(networkId);
  if (have) have.addrs.push(...addrs);
  else d.links.set(networkId, { kind, addrs: [...addrs] });
}

export function layoutTopology(input: TopoInput): Topology {
  const L = LAYOUT;
  // Networks: the visible ones, plus a placeholder for any a device links to that the
  // user cannot see (an external network of another project, for instance).
  const nets = new Map(input.networks.map((n) => [n.id, { id: n.id, name: n.name ?? '', external: !!n['router:external'] }]));
  const devices: Device[] = [];
  for (const r of [...input.routers].sort(byNameThenId)) {
    const d: Device = { id: r.id, kind: 'router', name: r.name ?? '', detail: r.status ?? '', links: new Map() };
    const gw = r.external_gateway_info;
    if (gw?.network_id) {
      link(d, gw.network_id, 'gateway', (gw.external_fixed_ips ?? []).map((f) => f.ip_address ?? '').filter(Boolean));
      if (!nets.has(gw.network_id)) nets.set(gw.network_id, { id: gw.network_id, name: '', external: true });
    }
    for (const p of input.ports)
      if (p.device_id === r.id && p.device_owner === 'network:router_interface') link(d, p.network_id, 'interface', addrsOf(p));
    devices.push(d);
  }
  const floating = new Map<string, string>();
  for (const f of input.floatingips ?? [])
    if (f.port_id && f.fixed_ip_address && f.floating_ip_address)
      floating.set(`${f.port_id} ${f.fixed_ip_address}`, f.floating_ip_address);
  const withFloating = (p: TopoInput['ports'][number]) =>
    addrsOf(p).map((a) => (floating.has(`${p.id} ${a}`) ? `${a} (${floating.get(`${p.id} ${a}`)})` : a));
  for (const s of [...input.servers].sort(byNameThenId)) {
    const d: Device = { id: s.id, kind: 'instance', name: s.name ?? '', detail: s.status ?? '', links: new Map() };
    for (const p of input.ports)
      if (p.device_id === s.id && (p.device_owner ?? '').startsWith('compute:')) link(d, p.network_id, 'port', withFloating(p));
    devices.push(d);
  }
  for (const d of devices)
    for (const nid of d.links.keys()) if (!nets.has(nid)) nets.set(nid, { id: nid, name: '', external: false });

  const netOrder = [...nets.values()].sort((a, b) => Number(b.external) - Number(a.external) || byNameThenId(a, b));
  const col = new Map(netOrder.map((n, i) => [n.id, i]));
  const leftmost = (d: Device): number => Math.min(...[...d.links.keys()].map((k) => col.get(k)!));
  // Boxes grouped by the network they hang from, routers before instances, then by name.
  const kindRank = { router: 0, instance: 1 } as const;
  devices.sort(
    (a, b) =>
      (a.links.size ? leftmost(a) : Infinity) - (b.links.size ? leftmost(b) : Infinity) ||
      kindRank[a.kind] - kindRank[b.kind] ||
      byNameThenId(a, b),
  );

  const loose = devices.some((d) => d.links.size === 0);
  const rows = Math.max(devices.length, 1);
  const height = L.top + L.gap + rows * L.row + L.margin;
  const width = L.margin * 2 + Math.max(netOrder.length, 1) * L.col + (loose ? L.col : 0);
  const barX = (i: number) => L.margin + i * L.col;

  const cidrs = new Map<string, string[]>();
  for (const s of [...input.subnets].sort((a, b) => a.cidr.localeCompare(b.cidr)))
    cidrs.set(s.network_id, [...(cidrs.get(s.network_id) ?? []), s.cidr]);
  const nodes: TopoNode[] = netOrder.map((n, i) => ({
    id: n.id,
    kind: 'network',
    name: n.name,
    detail: (cidrs.get(n.id) ?? []).join(', '),
    addrs: '',
    x: barX(i),
    y: L.top,
    w: L.bar,
    h: height - L.top - L.margin,
    ...(n.external ? { external: true } : {}),
  }));
  const edges: TopoEdge[] = [];
  devices.forEach((d, row) => {
    const y = L.top + L.gap + row * L.row;
    const x = d.links.size ? barX(leftmost(d)) + L.bar + L.gap : barX(netOrder.length) + L.gap;
    const links = [...d.links.entries()].sort((a, b) => col.get(a[0])! - col.get(b[0])!);
    const addrs = links.flatMap(([, l]) => l.addrs).join(', ');
    nodes.push({ id: d.id, kind: d.kind, name: d.name, detail: d.detail, addrs, x, y, w: L.boxW, h: L.boxH });
    const mid = y + L.boxH / 2;
    for (const [nid, l] of links) {
      const bx = barX(col.get(nid)!);
      const toLeft = bx < x;
      edges.push({
        from: d.id,
        to: nid,
        kind: l.kind,
        label: l.addrs.join(', '),
        x1: toLeft ? x : x + L.boxW,
        x2: toLeft ? bx + L.bar : bx,
        y: mid,
      });
    }
  });
  return { width, height, nodes, edges };
}

/** Cuts a label to `max` characters (before escaping, so no entity is split). */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

const COLOURS = { network: '#4a7fb5', external: '#8a5a9e', router: '#e8a33d', instance: '#5b9a5b' } as const;

/**
 * The SVG markup for a layout. Every text from the API goes through escapeHtml; `href`
 * gives each node a link (or none). The result is markup this module made: wrap it in raw().
 */
export function renderTopologySvg(t: Topology, href: (n: TopoNode) => string | null = () => null): string {
  const e = escapeHtml;
  const label = (n: TopoNode) => n.name || `(${n.id.slice(0, 8)})`;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="topology" width="${t.width}" height="${t.height}" viewBox="0 0 ${t.width} ${t.height}" role="img" aria-label="Network topology">`,
  );
  for (const ed of t.edges) {
    const dash = ed.kind === 'gateway' ? ' stroke-dasharray="6 3"' : '';
    out.push(
      `<g class="edge ${ed.kind}" data-from="${e(ed.from)}" data-to="${e(ed.to)}"><line x1="${ed.x1}" y1="${ed.y}" x2="${ed.x2}" y2="${ed.y}" stroke="#555" stroke-width="2"${dash}/>`,
    );
    // The addresses ride on the line where it is long enough for them (they are in the box anyway).
    if (ed.label && Math.abs(ed.x2 - ed.x1) - 8 >= ed.label.length * 6) {
      const left = Math.min(ed.x1, ed.x2);
      const toRight = ed.x2 > ed.x1;
      const tx = toRight ? ed.x2 - 4 : left + 4;
      out.push(
        `<text x="${tx}" y="${ed.y - 5}" font-size="10" text-anchor="${toRight ? 'end' : 'start'}" font-family="sans-serif">${e(ed.label)}</text>`,
      );
    }
    out.push('</g>');
  }
  for (const n of t.nodes) {
    const h = href(n);
    const open = h ? `<a href="${e(h)}">` : '';
    const close = h ? '</a>' : '';
    const full = `${n.kind}: ${label(n)}${n.detail ? ` (${n.detail})` : ''}${n.addrs ? ` ${n.addrs}` : ''}`;
    out.push(`<g class="node ${n.kind}${n.external ? ' external' : ''}" data-id="${e(n.id)}">${open}<title>${e(full)}</title>`);
    if (n.kind === 'network') {
      const fill = n.external ? COLOURS.external : COLOURS.network;
      out.push(`<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="4" fill="${fill}"/>`);
      out.push(
        `<text x="${n.x}" y="${n.y - 26}" font-size="12" font-weight="bold" font-family="sans-serif">${e(clip(label(n), 24))}</text>`,
      );
      out.push(`<text x="${n.x}" y="${n.y - 10}" font-size="10" font-family="sans-serif">${e(clip(n.detail, 28))}</text>`);
    } else {
      out.push(
        `<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="6" fill="#fff" stroke="${COLOURS[n.kind]}" stroke-width="2"/>`,
      );
      out.push(`<text x="${n.x + 8}" y="${n.y + 16}" font-size="12" font-family="sans-serif">${e(clip(label(n), 20))}</text>`);
      out.push(
        `<text x="${n.x + 8}" y="${n.y + 30}" font-size="10" fill="#666" font-family="sans-serif">${e(n.kind)}${n.detail ? ` · ${e(clip(n.detail, 14))}` : ''}</text>`,
      );
      if (n.addrs)
        out.push(`<text x="${n.x + 8}" y="${n.y + 45}" font-size="10" font-family="monospace">${e(clip(n.addrs, 22))}</text>`);
    }
    out.push(`${close}</g>`);
  }
  out.push('</svg>');
  return out.join('');
}
