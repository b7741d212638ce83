import { mkdirSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { FastifyBaseLogger } from 'fastify';
import { AGENT_API_VERSION } from '../../shared/agent/contract.js';
import type { RegisterBody, Role } from '../../shared/agent/host.js';
import type { AgentConfig } from '../../shared/config/agent.js';
import { makeRunner } from '../../shared/exec/run.js';
import { agentUrl } from '../../shared/util/agent-url.js';
import { buildAgentApp, type AgentApp } from './app.js';
import { installAgentMetrics } from './metrics.js';
import { metricSourcesFor } from './metrics-sources.js';
import { registerHostRoutes } from './host-routes.js';
import { ControllerLink, everySeconds } from './link.js';
import { agentServerTls } from './agent-tls.js';
import { controllerTrust, trustForUndici } from './controller-trust.js';
import { OpStore } from './op-store.repo.js';
import { hostTotals, sampleUsage } from './resources.js';
import { UsageSampler } from './usage-sampler.js';
import type { RoleHandle, RoleModule } from './role.js';
import { AGENT_VERSION } from './version.js';

export interface RunningAgent {
  agent: AgentApp;
  link: ControllerLink;
  roles: Role[];
  unavailable: Record<string, string>;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts an agent: op store → app → host routes → roles (those that fail are logged and
 * reported, the others served) → listen → register → heartbeat every heartbeat_s
 * (node-cron). Used by agents/main.ts; tests call it with their own role map.
 */
export async function startAgent(o: {
  config: AgentConfig;
  secret: string;
  roleModules: Partial<Record<Role, RoleModule>>;
  logger?: FastifyBaseLogger | false;
}): Promise<RunningAgent> {
  const { config } = o;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const hostname = config.host || osHostname().split('.')[0]!;
  const opStore = new OpStore(join(config.data_dir, 'operations.db'));
  // Mutual TLS on the agent's port when enrolment installed the host's certificate (agent-tls.ts).
  const serverTls = agentServerTls(config);
  const agent = buildAgentApp({
    ...(serverTls ? { https: serverTls } : {}),
    secret: o.secret,
    opStore,
    logLevel: config.log.level,
    logger: o.logger,
    headersTimeoutS: config.listen.headers_timeout_s,
    idleTimeoutS: config.listen.idle_timeout_s,
  });
  const log = agent.log;
  const handles = new Map<Role, RoleHandle>();
  const unavailable: Record<string, string> = {};
  registerHostRoutes(agent, {
    hostname,
    agentVersion: AGENT_VERSION,
    roles: () => [...handles.keys()],
    unavailableRoles: () => ({ ...unavailable }),
  });

  // The controller over HTTPS: trusted by the cloud's CA too, before any role calls it.
  const controllerCa = controllerTrust(config);
  if (controllerCa) await trustForUndici(controllerCa, serverTls ?? undefined);
  const run = makeRunner(log);
  for (const role of config.roles) {
    const mod = o.roleModules[role];
    if (!mod) {
      unavailable[role] = 'this role is not built into this agent yet';
      log.warn({ role }, 'role not available in this build; serving the others');
      continue;
    }
    try {
      const h = await mod.register(agent, {
        config,
        log: log.child({ role }),
        run,
        hostname,
        dataDir: config.data_dir,
        controller: { url: config.controller_url, secret: o.secret },
      });
      handles.set(role, h ?? {});
      log.info({ role }, 'role loaded');
    } catch (e) {
      unavailable[role] = (e as Error).message;
      log.error({ role, err: e }, 'role failed to load; serving the others');
    }
  }

  // GET /metrics (behind the host credential) for the roles that loaded.
  installAgentMetrics(agent.fastify, metricSourcesFor(config, run, [...handles.keys()]));
  const listenHost = config.listen.host;
  await agent.fastify.listen({ host: listenHost, port: config.listen.port });
  const url = agentUrl(config, serverTls ? 'https' : 'http');

  // A heartbeat waits at most half an interval (2 s at most) for the roles' samplers.
  const sampler = new UsageSampler(
    [...handles].flatMap(([role, h]) =>
      h.usage ? [[role, h.usage.bind(h)] as [string, () => Promise<Record<string, number>>]] : [],
    ),
    Math.min(2000, (config.heartbeat_s * 1000) / 2),
    log,
  );
  const usage = async () => sampleUsage(config.data_dir, await sampler.sample());
  const registration = async (): Promise<RegisterBody> => {
    let totals = hostTotals(config.data_dir);
    const caps: Record<string, Record<string, string | number | boolean>> = {};
    let hypervisorType = '';
    let tunnelIp = config.network.tunnel_ip || '';
    for (const [role, h] of handles) {
      caps[role] = h.capabilities ?? {};
      if (h.hypervisorType) hypervisorType = h.hypervisorType;
      if (h.tunnelIp) tunnelIp = h.tunnelIp;
      if (h.totals) totals = { ...totals, ...(await h.totals()) };
    }
    return {
      hostname,
      roles: [...handles.keys()],
      ...totals,
      hypervisor_type: hypervisorType,
      agent_version: AGENT_VERSION,
      api_version: AGENT_API_VERSION,
      agent_url: url,
      tunnel_ip: tunnelIp,
      capabilities: { roles: caps, unavailable_roles: { ...unavailable } },
      usage: await usage(),
    };
  };
  const link = new ControllerLink({
    controllerUrl: config.controller_url,
    secret: o.secret,
    log,
    heartbeatS: config.heartbeat_s,
    ...(controllerCa ? { ca: controllerCa } : {}),
    registration,
    heartbeat: async () => ({ hostname, api_version: AGENT_API_VERSION, usage: await usage() }),
  });
  await link.tick();
  // Controller not there yet (both starting): retry every second until the first
  // scheduled heartbeat instead of waiting a whole interval.
  let quick: NodeJS.Timeout | null = null;
  const retryStart = Date.now();
  const quickRetry = () => {
    quick = null;
    if (link.registered || Date.now() - retryStart > config.heartbeat_s * 1000) return;
    void link.tick().finally(() => {
      if (!link.registered) quick = setTimeout(quickRetry, 1000);
    });
  };
  if (!link.registered) quick = setTimeout(quickRetry, 1000);
  const task: ScheduledTask = cron.schedule(everySeconds(config.heartbeat_s), () => link.tick(), {
    noOverlap: true,
    name: 'heartbeat',
  });
  log.info(
    { url, mutualTls: Boolean(serverTls), roles: [...handles.keys()], unavailable, heartbeat_s: config.heartbeat_s },
    'agent started',
  );

  return {
    agent,
    link,
    roles: [...handles.keys()],
    unavailable,
    url,
    async close() {
      if (quick) clearTimeout(quick);
      await task.stop();
      await task.destroy?.();
      await agent.fastify.close();
      for (const h of handles.values()) await h.close?.().catch(() => {});
      opStore.close();
    },
  };
}
