import { describe, expect, it } from 'vitest';
import { checkSafe, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { LAYOUT, layoutTopology, renderTopologySvg, type TopoInput } from './topology-layout.js';
import { topologyPage } from './topology.js';

const input = (): TopoInput => ({
  networks: [
    { id: 'net-b', name: 'beta' },
    { id: 'net-pub', name: 'public', 'router:external': true },
    { id: 'net-a', name: 'alpha' },
  ],
  subnets: [
    { id: 's-a', network_id: 'net-a', cidr: '10.0.1.0/24' },
    { id: 's-b', network_id: 'net-b', cidr: '10.0.2.0/24' },
    { id: 's-p', network_id: 'net-pub', cidr: '198.51.100.0/24' },
  ],
  routers: [
    {
      id: 'r1',
      name: 'edge',
      status: 'ACTIVE',
      external_gateway_info: { network_id: 'net-pub', external_fixed_ips: [{ ip_address: '198.51.100.10' }] },
    },
  ],
  ports: [
    {
      id: 'p1',
      network_id: 'net-a',
      device_id: 'r1',
      device_owner: 'network:router_interface',
      fixed_ips: [{ ip_address: '10.0.1.1' }],
    },
    { id: 'p2', network_id: 'net-a', device_id: 'vm1', device_owner: 'compute:nova', fixed_ips: [{ ip_address: '10.0.1.5' }] },
    { id: 'p3', network_id: 'net-b', device_id: 'vm1', device_owner: 'compute:nova', fixed_ips: [{ ip_address: '10.0.2.7' }] },
    { id: 'p4', network_id: 'net-a', device_id: 'dhcp', device_owner: 'network:dhcp', fixed_ips: [{ ip_address: '10.0.1.2' }] },
    {
      id: 'p5',
      network_id: 'net-pub',
      device_id: 'r1',
      device_owner: 'network:router_gateway',
      fixed_ips: [{ ip_address: '198.51.100.10' }],
    },
  ],
  servers: [
    { id: 'vm2', name: 'lonely', status: 'SHUTOFF' },
    { id: 'vm1', name: 'web', status: 'ACTIVE' },
  ],
});

describe('topology layout', () => {
  it('puts external networks first, then by name, as bars one column apart', () => {
    const t = layoutTopology(input());
    const nets = t.nodes.filter((n) => n.kind === 'network');
    expect(nets.map((n) => n.id)).toEqual(['net-pub', 'net-a', 'net-b']);
    expect(nets.map((n) => n.x)).toEqual([LAYOUT.margin, LAYOUT.margin + LAYOUT.col, LAYOUT.margin + 2 * LAYOUT.col]);
    expect(nets[0]!.external).toBe(true);
    expect(nets[1]!.detail).toBe('10.0.1.0/24');
    for (const n of nets) expect(n.y + n.h).toBe(t.height - LAYOUT.margin);
  });

  it('draws one box per router and instance, right of its leftmost network, and edges per network', () => {
    const t = layoutTopology(input());
    const boxes = t.nodes.filter((n) => n.kind !== 'network');
    // Grouped by leftmost network: the router hangs off public, web off alpha, lonely has none.
    expect(boxes.map((b) => [b.id, b.kind])).toEqual([
      ['r1', 'router'],
      ['vm1', 'instance'],
      ['vm2', 'instance'],
    ]);
    const [r1, vm1, vm2] = boxes;
    expect(r1!.x).toBe(LAYOUT.margin + LAYOUT.bar + LAYOUT.gap);
    expect(vm1!.x).toBe(LAYOUT.margin + LAYOUT.col + LAYOUT.bar + LAYOUT.gap);
    expect(vm2!.x).toBe(LAYOUT.margin + 3 * LAYOUT.col + LAYOUT.gap); // past the last bar
    expect(new Set(boxes.map((b) => b.y)).size).toBe(3); // one row each
    expect(t.width).toBe(2 * LAYOUT.margin + 4 * LAYOUT.col);

    const edges = t.edges.map((e) => [e.from, e.to, e.kind, e.label]);
    expect(edges).toEqual([
      ['r1', 'net-pub', 'gateway', '198.51.100.10'],
      ['r1', 'net-a', 'interface', '10.0.1.1'],
      ['vm1', 'net-a', 'port', '10.0.1.5'],
      ['vm1', 'net-b', 'port', '10.0.2.7'],
    ]);
    // The gateway runs left from the box to the public bar's right edge; the interface runs right to alpha's bar.
    const gw = t.edges[0]!;
    expect([gw.x1, gw.x2]).toEqual([r1!.x, LAYOUT.margin + LAYOUT.bar]);
    const ifc = t.edges[1]!;
    expect([ifc.x1, ifc.x2]).toEqual([r1!.x + LAYOUT.boxW, LAYOUT.margin + LAYOUT.col]);
    expect(gw.y).toBe(r1!.y + LAYOUT.boxH / 2);
  });

  it('is deterministic whatever the order of the API lists', () => {
    const a = input();
    const b = input();
    b.networks.reverse();
    b.ports.reverse();
    b.servers.reverse();
    b.subnets.reverse();
    expect(layoutTopology(b)).toEqual(layoutTopology(a));
  });

  it('adds a placeholder for a gateway network the user cannot see', () => {
    const t = layoutTopology({
      networks: [],
      subnets: [],
      ports: [],
      servers: [],
      routers: [{ id: 'r', name: 'r', external_gateway_info: { network_id: 'hidden-ext' } }],
    });
    expect(t.nodes.map((n) => [n.id, n.kind, n.external ?? false])).toEqual([
      ['hidden-ext', 'network', true],
      ['r', 'router', false],
    ]);
    expect(t.edges).toHaveLength(1);
  });

  it('labels an instance edge with the floating IP mapped to that address', () => {
    const t = layoutTopology({
      ...input(),
      floatingips: [
        { port_id: 'p3', fixed_ip_address: '10.0.2.7', floating_ip_address: '198.51.100.8' },
        { port_id: null, floating_ip_address: '198.51.100.9' },
      ],
    });
    expect(t.edges.find((e) => e.from === 'vm1' && e.to === 'net-b')!.label).toBe('10.0.2.7 (198.51.100.8)');
    expect(t.edges.find((e) => e.from === 'vm1' && e.to === 'net-a')!.label).toBe('10.0.1.5');
  });

  it('renders escaped labels, including in tooltips and links', () => {
    const i = input();
    i.networks[2]!.name = XSS;
    i.servers[1]!.name = `${XSS}"'`;
    const svg = renderTopologySvg(layoutTopology(i), (n) => `/x?id=${n.id}&"`);
    expect(svg).not.toContain(XSS);
    expect(svg).toContain(XSS_ESCAPED);
    expect(svg).toContain('href="/x?id=net-a&amp;&quot;"');
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/<g class="node /g) ?? []).length).toBe(6);
    expect((svg.match(/<line /g) ?? []).length).toBe(4);
  });

  it('clips long names in the drawing but keeps them whole in the tooltip', () => {
    const i = input();
    i.servers[1]!.name = 'a-very-long-instance-name-indeed';
    const svg = renderTopologySvg(layoutTopology(i));
    expect(svg).toContain('>a-very-long-instanc…<');
    expect(svg).toContain('<title>instance: a-very-long-instance-name-indeed (ACTIVE) 10.0.1.5, 10.0.2.7</title>');
  });
});

describe('topology page', () => {
  const api = () => {
    const d = input();
    d.servers[1]!.name = XSS;
    return new FakeCloudApi()
      .on('GET', 'network', '/v2.0/networks', { networks: d.networks })
      .on('GET', 'network', '/v2.0/subnets', { subnets: d.subnets })
      .on('GET', 'network', '/v2.0/routers', { routers: d.routers })
      .on('GET', 'network', '/v2.0/ports', { ports: d.ports })
      .on('GET', 'compute', '/v2.1/servers/detail', { servers: d.servers })
      .on('GET', 'network', '/v2.0/floatingips', {
        floatingips: [{ port_id: 'p2', fixed_ip_address: '10.0.1.5', floating_ip_address: '198.51.100.44' }],
      });
  };

  it('draws the picture from the five API lists with links to each node', async () => {
    const s = checkSafe(await topologyPage.render(fakeContext(api())));
    expect(s).toContain('<svg');
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('href="/dashboard/project/networks/net-a"');
    expect(s).toContain('href="/dashboard/project/routers/r1"');
    expect(s).toContain('href="/dashboard/project/instances/vm1"');
    expect(s).toContain('10.0.1.5 (198.51.100.44)');
  });

  it('shows what it can when a source fails', async () => {
    const a = api().on('GET', 'compute', '/v2.1/servers/detail', () => {
      throw new (class extends Error {})('compute down');
    });
    const s = await topologyPage.render(fakeContext(a));
    expect(s.toString()).toContain('instances: compute down');
    expect(s.toString()).toContain('data-id="net-a"');
  });
});
