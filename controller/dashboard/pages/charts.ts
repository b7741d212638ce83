import { html, type SafeHtml } from '../html.js';

/**
 * Usage charts drawn on the server as SVG (no chart library, no script): a ring showing
 * used of the limit, with the figures under it. An unlimited quota (-1) draws an empty
 * ring and says "no limit".
 */
export function usageRing(label: string, used: number, limit: number, unit = ''): SafeHtml {
  const r = 40;
  const c = 2 * Math.PI * r;
  const frac = limit > 0 ? Math.min(1, used / limit) : 0;
  const colour = frac >= 0.9 ? '#b42318' : frac >= 0.7 ? '#9a6700' : '#2458c5';
  const dash = `${(frac * c).toFixed(1)} ${c.toFixed(1)}`;
  const figures = limit < 0 ? `${used}${unit} used, no limit` : `${used}${unit} of ${limit}${unit}`;
  return html`<figure class="chart" data-chart="${label}"><svg viewBox="0 0 100 100" width="120" height="120" role="img" aria-label="${label}: ${figures}">
<circle cx="50" cy="50" r="${r}" fill="none" stroke="#e3e6ec" stroke-width="12"/>
<circle cx="50" cy="50" r="${r}" fill="none" stroke="${colour}" stroke-width="12" stroke-dasharray="${dash}" transform="rotate(-90 50 50)"/>
<text x="50" y="55" text-anchor="middle" font-size="16">${limit > 0 ? `${Math.round(frac * 100)}%` : '∞'}</text></svg>
<figcaption><strong>${label}</strong><br>${figures}</figcaption></figure>`;
}
