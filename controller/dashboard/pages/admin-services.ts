import { html } from '../html.js';
import type { Page } from '../page.js';
import { notice, status, table, tryGet } from './ui-kit.js';

interface ServiceDoc {
  binary: string;
  host: string;
  zone?: string;
  status: string;
  state: string;
  updated_at?: string | null;
  disabled_reason?: string | null;
}
interface AgentDoc {
  id: string;
  agent_type: string;
  binary: string;
  host: string;
  alive: boolean;
  admin_state_up: boolean;
  heartbeat_timestamp?: string | null;
}

/** Hosts and agents: every service of every host, up or down, from the three APIs. */
export const adminServicesPage: Page = {
  path: '/admin/services',
  title: 'Hosts and agents',
  nav: { section: 'admin', label: 'Hosts and Agents', order: 20 },
  adminOnly: true,
  async render(ctx) {
    const [compute, network, volume] = await Promise.all([
      tryGet(ctx.api.get<{ services: ServiceDoc[] }>('compute', '/v2.1/os-services'), { services: [] }),
      tryGet(ctx.api.get<{ agents: AgentDoc[] }>('network', '/v2.0/agents'), { agents: [] }),
      tryGet(ctx.api.get<{ services: ServiceDoc[] }>('volume', `/v3/${encodeURIComponent(ctx.session.projectId)}/os-services`), {
        services: [],
      }),
    ]);
    const bySvc = (a: ServiceDoc, b: ServiceDoc) => a.host.localeCompare(b.host) || a.binary.localeCompare(b.binary);
    const svcCols = [
      { label: 'Host', cell: (s: ServiceDoc) => s.host },
      { label: 'Service', cell: (s: ServiceDoc) => s.binary },
      { label: 'Zone', cell: (s: ServiceDoc) => s.zone ?? '' },
      {
        label: 'Status',
        cell: (s: ServiceDoc) => html`${status(s.status)}${s.disabled_reason ? html` (${s.disabled_reason})` : ''}`,
      },
      { label: 'State', cell: (s: ServiceDoc) => status(s.state) },
      { label: 'Last seen', cell: (s: ServiceDoc) => s.updated_at ?? '' },
    ];
    const agents = [...network.value.agents].sort(
      (a, b) => a.host.localeCompare(b.host) || a.agent_type.localeCompare(b.agent_type),
    );
    const all = [...compute.value.services, ...volume.value.services]
      .map((s) => s.state)
      .concat(agents.map((a) => (a.alive ? 'up' : 'down')));
    const down = all.filter((s) => s !== 'up').length;
    return html`
<p class="status ${down ? 'bad' : 'ok'}">${all.length - down} up, ${down} down.</p>
<h3>Compute services</h3>${notice(compute.error, 'compute services')}${table([...compute.value.services].sort(bySvc), svcCols, 'No compute services.')}
<h3>Network agents</h3>${notice(network.error, 'network agents')}${table(
      agents,
      [
        { label: 'Host', cell: (a) => a.host },
        { label: 'Agent', cell: (a) => a.agent_type },
        { label: 'Binary', cell: (a) => a.binary },
        { label: 'Admin state', cell: (a) => status(a.admin_state_up ? 'UP' : 'DOWN') },
        { label: 'Alive', cell: (a) => status(a.alive ? 'up' : 'down') },
        { label: 'Last heartbeat', cell: (a) => a.heartbeat_timestamp ?? '' },
      ],
      'No network agents.',
    )}
<h3>Block storage services</h3>${notice(volume.error, 'volume services')}${table([...volume.value.services].sort(bySvc), svcCols, 'No volume services.')}`;
  },
};
