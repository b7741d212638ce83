import type { Row } from './measure.js';

/** The figures charted against the number of hosts, each with its goal at 1,000 hosts. */
const SERIES: Array<{ key: keyof Row; label: string; unit: string; goal: number }> = [
  { key: 'createP99', label: 'create p99', unit: 'ms', goal: 100 },
  { key: 'listP99', label: 'list p99 (1,000/page)', unit: 'ms', goal: 200 },
  { key: 'convergeP99', label: 'change converged', unit: 'ms', goal: 1000 },
  { key: 'rssMb', label: 'controller RSS', unit: 'MB', goal: 500 },
  { key: 'idleCpu', label: 'idle CPU', unit: '% core', goal: 10 },
];

/** A text chart for the README: one bar per step and figure, scaled to the figure's goal (| marks the goal). */
export function textChart(rows: Row[]): string {
  const width = 40;
  const out: string[] = [];
  for (const s of SERIES) {
    out.push(`${s.label} (${s.unit}, goal ${s.goal}):`);
    for (const r of rows) {
      const v = Number(r[s.key]);
      const n = Math.min(width * 2, Math.round((v / s.goal) * width));
      const bar = Array.from({ length: Math.max(n, width + 1) }, (_, i) => (i === width ? '|' : i < n ? '#' : ' ')).join('');
      out.push(
        `  ${String(r.hosts).padStart(5)} hosts ${bar.trimEnd()} ${v.toFixed(s.unit === 'ms' || s.unit === 'MB' ? 0 : 1)}`,
      );
    }
  }
  return out.join('\n');
}

/** The same figures as an SVG: one small panel per figure, hosts on x, the goal dashed. */
export function svgChart(rows: Row[]): string {
  const W = 260;
  const H = 170;
  const pad = { l: 44, r: 10, t: 22, b: 28 };
  const xs = rows.map((r) => r.hosts);
  const xMax = Math.max(...xs);
  const panels = SERIES.map((s, k) => {
    const vs = rows.map((r) => Number(r[s.key]));
    const yMax = Math.max(s.goal * 1.1, ...vs.filter(Number.isFinite)) || 1;
    const x = (v: number) => pad.l + (v / xMax) * (W - pad.l - pad.r);
    const y = (v: number) => H - pad.b - (Math.min(v, yMax) / yMax) * (H - pad.t - pad.b);
    const pts = rows.map((r, i) => `${x(r.hosts).toFixed(1)},${y(vs[i]!).toFixed(1)}`).join(' ');
    const dots = rows.map((r, i) => `<circle cx="${x(r.hosts).toFixed(1)}" cy="${y(vs[i]!).toFixed(1)}" r="2.5"/>`).join('');
    const ticks = xs.map((h) => `<text x="${x(h).toFixed(1)}" y="${H - 12}" text-anchor="middle">${h}</text>`).join('');
    return (
      `<g transform="translate(${(k % 3) * W},${Math.floor(k / 3) * H})">` +
      `<text x="${pad.l}" y="14" font-weight="bold">${s.label} (${s.unit})</text>` +
      `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#888"/>` +
      `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#888"/>` +
      `<text x="${pad.l - 4}" y="${pad.t + 4}" text-anchor="end">${yMax.toFixed(0)}</text>` +
      `<line x1="${pad.l}" y1="${y(s.goal).toFixed(1)}" x2="${W - pad.r}" y2="${y(s.goal).toFixed(1)}" stroke="#c33" stroke-dasharray="4 3"/>` +
      `<polyline fill="none" stroke="#246" stroke-width="1.5" points="${pts}"/>${dots}${ticks}</g>`
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${3 * W}" height="${2 * H}" font-family="sans-serif" font-size="10">` +
    `${panels.join('')}<text x="${2 * W}" y="${2 * H - 4}">x: simulated hosts; dashed: goal at 1,000 hosts</text></svg>\n`
  );
}

/** The README's table. */
export function markdownTable(rows: Row[]): string {
  const head =
    '| hosts | instances | join s | create p50/p99 ms | ACTIVE/s | list p50/p99 ms | show p99 | ports p99 | token p99 | converge p99 ms | rss MB | idle cpu % | load cpu % | db MB | db write KB/s idle | B/heartbeat | B/sync avg (max) | hosts marked down | load1 |';
  const sep = `|${head
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const f = (x: number, d = 0) => x.toFixed(d);
  return [
    head,
    sep,
    ...rows.map(
      (r) =>
        `| ${r.hosts} | ${r.instances} | ${f(r.joinS, 1)} | ${f(r.createP50)}/${f(r.createP99)} | ${f(r.activePerS, 1)} | ${f(r.listP50)}/${f(r.listP99)} | ${f(r.showP99)} | ${f(r.portsP99)} | ${f(r.tokenP99)} | ${f(r.convergeP99)} | ${f(r.rssMb)} | ${f(r.idleCpu, 1)} | ${f(r.loadCpu)} | ${f(r.dbMb, 1)} | ${f(r.idleWriteKbS)} | ${f(r.hbBytes)} | ${f(r.syncBytes)} (${f(r.syncMaxBytes)}) | ${r.flaps} | ${f(r.load1, 1)} |`,
    ),
  ].join('\n');
}
