import { html } from '../html.js';
import type { Page } from '../page.js';
import { usageRing } from './charts.js';
import { notice, tryGet } from './ui-kit.js';

type Abs = Record<string, number>;

/** Quota usage of the current project: compute limits, volume limits, network quotas. */
export const overviewPage: Page = {
  path: '/project/overview',
  title: 'Overview',
  nav: { section: 'project', label: 'Overview', order: 10 },
  async render(ctx) {
    const pid = encodeURIComponent(ctx.session.projectId);
    const [compute, volume, quota, fips] = await Promise.all([
      tryGet(ctx.api.get<{ limits: { absolute: Abs } }>('compute', '/v2.1/limits'), { limits: { absolute: {} as Abs } }),
      tryGet(ctx.api.get<{ limits: { absolute: Abs } }>('volume', `/v3/${pid}/limits`), { limits: { absolute: {} as Abs } }),
      tryGet(ctx.api.get<{ quota: Record<string, number> }>('network', `/v2.0/quotas/${pid}`), {
        quota: {} as Record<string, number>,
      }),
      tryGet(ctx.api.get<{ floatingips: unknown[] }>('network', `/v2.0/floatingips?project_id=${pid}`), { floatingips: [] }),
    ]);
    const c = compute.value.limits.absolute;
    const v = volume.value.limits.absolute;
    const n = (x: number | undefined) => (typeof x === 'number' ? x : 0);
    return html`<p>Project <strong>${ctx.session.projectName}</strong>: what it uses of its quotas.</p>
${notice(compute.error, 'compute limits')}${notice(volume.error, 'volume limits')}${notice(quota.error, 'network quotas')}
<div class="charts">
${usageRing('Instances', n(c.totalInstancesUsed), n(c.maxTotalInstances))}
${usageRing('vCPUs', n(c.totalCoresUsed), n(c.maxTotalCores))}
${usageRing('RAM', n(c.totalRAMUsed), n(c.maxTotalRAMSize), ' MB')}
${usageRing('Volumes', n(v.totalVolumesUsed), n(v.maxTotalVolumes))}
${usageRing('Volume storage', n(v.totalGigabytesUsed), n(v.maxTotalVolumeGigabytes), ' GB')}
${usageRing('Floating IPs', fips.value.floatingips.length, quota.value.quota.floatingip ?? -1)}
</div>`;
  },
};
