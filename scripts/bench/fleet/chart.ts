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
