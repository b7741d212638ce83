import { html, type SafeHtml } from '../html.js';
import type { Page } from '../page.js';
import { status, table } from './ui-kit.js';

interface HypervisorDoc {
  id: number | string;
  hypervisor_hostname: string;
  hypervisor_type?: string;
  host_ip?: string;
  state: string;
  status: string;
  vcpus: number;
  vcpus_used: number;
  memory_mb: number;
  memory_mb_used: number;
  local_gb: number;
  local_gb_used: number;
  running_vms: number;
}

/** A usage bar: a native <meter> (no script, no inline style), with the figures beside it. */
export function usageBar(used: number, total: number, unit = ''): SafeHtml {
  const u = unit ? ` ${unit}` : '';
  const pct = total > 0 ? Math.round((used / total) * 100) : 0;
  return html`<meter min="0" max="${total}" low="${total * 0.7}" high="${total * 0.9}" optimum="0" value="${Math.min(used, total)}" title="${pct}%">${pct}%</meter> <span class="usage">${used}${u} of ${total}${u}</span>`;
}

export const adminHypervisorsPage: Page = {
  path: '/admin/hypervisors',
  title: 'Hypervisors',
  nav: { section: 'admin', label: 'Hypervisors', order: 10 },
  adminOnly: true,
  async render(ctx) {
    const { hypervisors } = await ctx.api.get<{ hypervisors: HypervisorDoc[] }>('compute', '/v2.1/os-hypervisors/detail');
    const rows = [...hypervisors].sort((a, b) => a.hypervisor_hostname.localeCompare(b.hypervisor_hostname));
    const sum = (k: keyof HypervisorDoc) => rows.reduce((n, h) => n + (Number(h[k]) || 0), 0);
    const summary = rows.length
      ? html`<div class="summary">
<p>vCPUs ${usageBar(sum('vcpus_used'), sum('vcpus'))}</p>
<p>Memory ${usageBar(sum('memory_mb_used'), sum('memory_mb'), 'MB')}</p>
<p>Local disk ${usageBar(sum('local_gb_used'), sum('local_gb'), 'GB')}</p>
<p>Instances: ${sum('running_vms')}</p></div>`
      : '';
    const list = table(
      rows,
      [
        { label: 'Host', cell: (h) => h.hypervisor_hostname },
        { label: 'Type', cell: (h) => h.hypervisor_type ?? '' },
        { label: 'IP', cell: (h) => h.host_ip ?? '' },
        { label: 'State', cell: (h) => html`${status(h.state)} ${status(h.status)}` },
        { label: 'vCPUs', cell: (h) => usageBar(h.vcpus_used, h.vcpus) },
        { label: 'Memory', cell: (h) => usageBar(h.memory_mb_used, h.memory_mb, 'MB') },
        { label: 'Disk', cell: (h) => usageBar(h.local_gb_used, h.local_gb, 'GB') },
        { label: 'Instances', cell: (h) => h.running_vms },
      ],
      'No compute hosts registered.',
    );
    return html`${summary}${list}`;
  },
};
