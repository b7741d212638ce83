import { createConsole } from '../../console/index.js';
import { html, type SafeHtml } from '../html.js';
import { ApiError, type Page, type PageContext } from '../page.js';
import { fetchSchedules, schedulesTable } from './backup-schedules.js';
import { addressList, instancesPage, serverStatus, type ServerDoc } from './instances.js';
import { buttonForm, link, nameOr, pathId, table, tryGet } from './ui-kit.js';

interface ActionDoc {
  action: string;
  request_id: string;
  start_time: string;
  message: string | null;
}
interface EventDoc {
  event: string;
  start_time: string;
  finish_time: string | null;
  result: string | null;
  traceback?: string | null;
}

async function actionLog(ctx: PageContext, sid: string): Promise<SafeHtml> {
  const list = await tryGet(
    ctx.api.get<{ instanceActions: ActionDoc[] }>('compute', `/v2.1/servers/${sid}/os-instance-actions`),
    { instanceActions: [] },
  );
  const rows = await Promise.all(
    list.value.instanceActions.slice(0, 20).map(async (a) => {
      const d = await tryGet(
        ctx.api.get<{ instanceAction: { events?: EventDoc[] } }>(
          'compute',
          `/v2.1/servers/${sid}/os-instance-actions/${encodeURIComponent(a.request_id)}`,
        ),
        { instanceAction: { events: [] } },
      );
      return { a, events: d.value.instanceAction.events ?? [] };
    }),
  );
  return table(
    rows,
    [
      { label: 'Action', cell: (r) => r.a.action },
      { label: 'Started', cell: (r) => r.a.start_time },
      { label: 'Message', cell: (r) => r.a.message ?? '' },
      {
        label: 'Steps',
        cell: (r) =>
          html`${r.events.map((e) => html`<div>${e.event}: <span class="status ${e.result === 'Error' ? 'bad' : e.result ? 'ok' : 'busy'}">${e.result ?? 'running'}</span>${e.traceback ? html` <code>${e.traceback}</code>` : ''}</div>`)}`,
      },
    ],
    'No actions recorded.',
  );
}

async function consoleLog(ctx: PageContext, sid: string): Promise<SafeHtml> {
  const r = await tryGet(
    ctx.api.post<{ output: string }>('compute', `/v2.1/servers/${sid}/action`, { 'os-getConsoleOutput': { length: 100 } }),
    { output: '' },
  );
  if (r.error) return html`<p class="empty">No console log: ${r.error}</p>`;
  return html`<pre class="console" id="console-log">${r.value.output}</pre>`;
}

async function vnc(ctx: PageContext, s: ServerDoc): Promise<SafeHtml> {
  if (s.status !== 'ACTIVE' && s.status !== 'PAUSED')
    return html`<p class="empty">The console is available while the instance runs.</p>`;
  try {
    const c = await createConsole(ctx.api, s.id);
    return html`<iframe class="console" id="vnc-console" src="${c.path}" title="Console of ${s.name}" width="100%" height="480"></iframe>
<p><a href="${c.path}" target="_blank" rel="noopener">Open the console in its own tab</a> (each link opens one session; reload this page for a new one)</p>`;
  } catch (err) {
    if (err instanceof ApiError) return html`<p class="empty">No console: ${err.message}</p>`;
    throw err;
  }
}

/** One instance: properties, addresses, its backup schedules (next run, last result), the action log with each step's result, console log and VNC console. */
export const instanceDetailPage: Page = {
  path: '/project/instances/:id',
  title: 'Instance',
  async render(ctx) {
    const sid = pathId(ctx.params.id, 'instance');
    const { server: s } = await ctx.api.get<{ server: ServerDoc & Record<string, any> }>('compute', `/v2.1/servers/${sid}`);
    const flavorName =
      s.flavor?.original_name ??
      (s.flavor?.id
        ? (
            await tryGet(
              ctx.api.get<{ flavor: { name: string } }>('compute', `/v2.1/flavors/${encodeURIComponent(s.flavor.id)}`),
              null,
            )
          ).value?.flavor.name
        : undefined) ??
      s.flavor?.id ??
      '';
    const f = { id: s.id, next: 'detail' };
    const controls = html`${s.status === 'SHUTOFF' ? buttonForm(ctx, 'start', 'Start', f) : ''}${s.status === 'ACTIVE' ? html`${buttonForm(ctx, 'stop', 'Stop', f)}${buttonForm(ctx, 'reboot', 'Reboot', f)}` : ''}`;
    const [log, out, screen, schedules] = await Promise.all([
      actionLog(ctx, sid),
      consoleLog(ctx, sid),
      vnc(ctx, s),
      fetchSchedules(ctx, { server_id: sid }),
    ]);
    return html`<p>${link(ctx, '/project/instances', '← Instances')}</p>
<h2>${nameOr(s)}</h2>
<dl class="props"><dt>ID</dt><dd>${s.id}</dd><dt>Status</dt><dd>${serverStatus(s)}</dd><dt>Addresses</dt><dd>${addressList(s)}</dd>
<dt>Flavor</dt><dd>${flavorName}</dd><dt>Key pair</dt><dd>${s.key_name ?? ''}</dd><dt>Host</dt><dd>${s['OS-EXT-SRV-ATTR:host'] ?? ''}</dd>
<dt>Created</dt><dd>${s.created}</dd>${s.fault ? html`<dt>Fault</dt><dd class="status bad">${s.fault.message}</dd>` : ''}</dl>
<p>${controls}</p>
<h2>Usage</h2><section id="usage" data-server-id="${s.id}"><div class="charts" id="usage-charts"></div><p class="empty" id="usage-status">Collecting samples from the host every 5 s…</p></section>
<h2>Backup schedules</h2><section id="backup-schedules">${schedulesTable(schedules.value, schedules.error)}</section>
<h2>Action log</h2>${log}
<h2>Console log</h2>${out}
<h2>Console</h2>${screen}`;
  },
  // The buttons above post here; same handlers as the list (they come back to this page).
  actions: { start: instancesPage.actions!.start!, stop: instancesPage.actions!.stop!, reboot: instancesPage.actions!.reboot! },
};
