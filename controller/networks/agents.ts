import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ctxOf } from '../http/auth.js';
import { listResponse, showResponse } from './common.js';
import { enforce, type HostLite, type Svc } from './context.js';
import { AgentNotFound } from './errors.js';
import { networkHosts } from './binding.js';

/**
 * GET /v2.0/agents: Neutron's view of the network agents. Every host with the network
 * role runs one Homestack network agent that does the Open vSwitch (L2), DHCP and L3
 * work; it is shown as the three Neutron agents it stands in for, alive from the
 * host's heartbeats. Ids are stable (derived from the host id and the agent type).
 */
const KINDS = [
  { agent_type: 'Open vSwitch agent', binary: 'neutron-openvswitch-agent', topic: 'N/A' },
  { agent_type: 'DHCP agent', binary: 'neutron-dhcp-agent', topic: 'dhcp_agent' },
  { agent_type: 'L3 agent', binary: 'neutron-l3-agent', topic: 'l3_agent' },
] as const;

function agentId(hostId: string, type: string): string {
  const h = createHash('sha256').update(`${hostId}/${type}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What the agent reported at registration (capabilities.roles.network): datapath and the provider mapping. */
function netCaps(h: HostLite): Record<string, unknown> {
  const c = (h.capabilities as { roles?: Record<string, Record<string, unknown>> }).roles?.network ?? {};
  return {
    datapath_type: c.datapath ?? 'system',
    bridge_mappings: typeof c.physical_network === 'string' && c.physical_network ? { [c.physical_network]: 'br-ex' } : {},
  };
}

const neutronTime = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : null);

export function agentDocs(s: Svc): Array<Record<string, unknown>> {
  return networkHosts(s.hosts()).flatMap((h: HostLite) =>
    KINDS.map((k) => ({
      id: agentId(h.id, k.agent_type),
      agent_type: k.agent_type,
      binary: k.binary,
      topic: k.topic,
      host: h.name,
      admin_state_up: h.enabled,
      alive: h.state === 'up',
      availability_zone: k.agent_type === 'Open vSwitch agent' ? null : 'nova',
      description: null,
      configurations:
        k.agent_type === 'Open vSwitch agent'
          ? { tunnel_types: ['vxlan'], tunneling_ip: h.tunnel_ip, l2_population: true, ...netCaps(h) }
          : {},
      created_at: neutronTime(h.created_at),
      started_at: neutronTime(h.registered_at),
      heartbeat_timestamp: neutronTime(h.last_heartbeat_at),
      resources_synced: null,
      ha_state: null,
      resource_versions: {},
    })),
  );
}

export function agentRoutes(app: FastifyInstance, s: Svc): void {
  app.get('/v2.0/agents', async (req) => {
    enforce(s, 'network:get_agent', ctxOf(req), { project_id: '' });
    return listResponse(req, 'agents', agentDocs(s));
  });
  app.get<{ Params: { id: string } }>('/v2.0/agents/:id', async (req) => {
    enforce(s, 'network:get_agent', ctxOf(req), { project_id: '' });
    const a = agentDocs(s).find((x) => x.id === req.params.id);
    if (!a) throw new AgentNotFound(req.params.id);
    return showResponse(req, 'agent', a);
  });
}
