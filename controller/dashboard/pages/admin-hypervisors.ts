import { html, type SafeHtml } from '../html.js';
import type { Page } from '../page.js';
import { buttonForm, need, status, table, to } from './ui-kit.js';

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
  service?: { host?: string };
}

interface ServerDoc {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-SRV-ATTR:host'?: string | null;
}

/** os-migrateLive at 2.30 (the scheduler chooses the destination), as `homestack host drain` sends it. */
const MV = { 'OpenStack-API-Version': 'compute 2.30', 'X-OpenStack-Nova-API-Version': '2.30' };
const movable = (s: ServerDoc) => (s.status === 'ACTIVE' || s.status === 'PAUSED') && !s['OS-EXT-STS:task_state'];
const hostOf = (h: HypervisorDoc) => h.service?.host || h.hypervisor_hostname;
const liveMigrate = (ctx: { api: { post: (...a: any[]) => Promise<unknown> } }, id: string) =>
  ctx.api.post(
    'compute',
    `/v2.1/servers/${encodeURIComponent(id)}/action`,
    { 'os-migrateLive': { host: null, block_migration: 'auto' } },
    MV,
  );

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
    const { servers } = await ctx.api.get<{ servers: ServerDoc[] }>('compute', '/v2.1/servers/detail?all_tenants=1');
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
        {
          label: '',
          cell: (h) =>
            html`${buttonForm(ctx, 'drain', 'Drain', { host: hostOf(h) }, true)}${
              h.status === 'disabled' ? buttonForm(ctx, 'enable', 'Enable', { host: hostOf(h) }) : ''
            }`,
        },
      ],
      'No compute hosts registered.',
    );
    const guests = [...servers].sort(
      (a, b) =>
        String(a['OS-EXT-SRV-ATTR:host'] ?? '').localeCompare(String(b['OS-EXT-SRV-ATTR:host'] ?? '')) ||
        a.name.localeCompare(b.name),
    );
    const instances = table(
      guests,
      [
        { label: 'Host', cell: (g) => g['OS-EXT-SRV-ATTR:host'] ?? '' },
        { label: 'Instance', cell: (g) => g.name },
        {
          label: 'Status',
          cell: (g) => html`${status(g.status)}${g['OS-EXT-STS:task_state'] ? ` (${g['OS-EXT-STS:task_state']})` : ''}`,
        },
        { label: '', cell: (g) => (movable(g) ? buttonForm(ctx, 'migrate', 'Migrate', { id: g.id, name: g.name }) : '') },
      ],
      'No instances.',
    );
    return html`${summary}${list}<h2>Instances by host</h2>${instances}`;
  },
  actions: {
    /** Live migration of one instance; the scheduler picks the destination. */
    async migrate(ctx, form) {
      const id = need(form, 'id', 'Instance');
      await liveMigrate(ctx, id);
      return { redirect: to(ctx, '/admin/hypervisors'), message: `Live migration of ${form.name || id} started.` };
    },
    /**
     * Drain: the host disabled (the scheduler places nothing new there), then a live
     * migration requested for each of its running instances; the controller moves them
     * while the page shows their state. (`homestack host drain` does them one at a time
     * and waits for each.)
     */
    async drain(ctx, form) {
      const host = need(form, 'host', 'Host');
      await ctx.api.put('compute', '/v2.1/os-services/disable-log-reason', {
        host,
        binary: 'nova-compute',
        disabled_reason: 'drained from the dashboard',
      });
      const { servers } = await ctx.api.get<{ servers: ServerDoc[] }>(
        'compute',
        `/v2.1/servers/detail?all_tenants=1&host=${encodeURIComponent(host)}`,
      );
      const started: string[] = [];
      const refused: string[] = [];
      for (const s of servers.filter(movable)) {
        try {
          await liveMigrate(ctx, s.id);
          started.push(s.name);
        } catch (e) {
          refused.push(`${s.name}: ${(e as Error).message}`);
        }
      }
      const left = servers.filter((s) => !movable(s)).map((s) => `${s.name} (${s.status})`);
      return {
        redirect: to(ctx, '/admin/hypervisors'),
        message:
          `${host} disabled; live migration started for ${started.length} instance(s)` +
          (refused.length ? `; refused: ${refused.join('; ')}` : '') +
          (left.length ? `; not running, left there: ${left.join(', ')}` : '') +
          '.',
      };
    },
    async enable(ctx, form) {
      const host = need(form, 'host', 'Host');
      await ctx.api.put('compute', '/v2.1/os-services/enable', { host, binary: 'nova-compute' });
      return { redirect: to(ctx, '/admin/hypervisors'), message: `${host} enabled.` };
    },
  },
};
