import type { FastifyBaseLogger } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { readAgentChannelTls } from '../pki/controller-cert.js';
import { AgentClients, type AgentClientsOptions } from './client.js';
import { Dispatcher } from './dispatch.js';
import { HostRegistry } from './registry.js';

export { AgentClients, AgentClient, type CallOptions } from './client.js';
export { Dispatcher, type Operation, type EnqueueRequest, type CompletionHandler } from './dispatch.js';
export { AgentError, AgentUnavailable, type OpOutcome } from './errors.js';
export { HostRegistry, type Host } from './registry.js';

/**
 * How services reach agents (compute, network and volume engineers: read this).
 *
 * `buildApp` puts one AgentLayer in `ServiceDeps.extras` (keys `hosts`, `agents`,
 * `dispatcher`); get it typed with `agentLayerOf(deps)`:
 *
 * ```ts
 * import { agentLayerOf } from '../agents/index.js';
 * import { SpawnInstance } from '../../shared/agent/compute.js';
 * const { hosts, agents, dispatcher } = agentLayerOf(deps);
 *
 * // Durable, asynchronous work (the usual case). Synchronous, so it may sit inside
 * // your db.transaction(): the row commits with your state; nothing is sent before.
 * dispatcher.enqueue({ hostId, route: SpawnInstance, body, resource: { type: 'server', id }, requestId: req.id });
 * // React to results (also for operations resumed after a controller restart).
 * // Register once when your plugin is built:
 * dispatcher.onComplete(SpawnInstance, (op, out) => { out.ok ? markActive(op.resource_id) : markError(op.resource_id, out.error) });
 * // Or await it: resolves with the validated reply, rejects with AgentError. A promise
 * // does not survive a controller restart (the operation does): state that must move
 * // on when the work finishes belongs in an onComplete handler.
 * // send(): resolves with the validated reply, rejects with AgentError
 * // (`{ waitMs }` gives up waiting with AgentUnavailable; the operation stays queued).
 * const reply = await dispatcher.send({ hostId, route: SpawnInstance, body });
 * // Operations on one resource go out in order, and a pending one is retried until its
 * // agent answers: a delete should supersede what is still pending for that resource
 * // (those fail with code 'Cancelled'), or it waits behind them.
 * dispatcher.enqueue({ hostId, route: DestroyInstance, body, resource: { type: 'server', id }, supersede: true });
 *
 * // Synchronous calls that need no durability (console, stats): AgentUnavailable
 * // (503) when the agent cannot be reached, AgentError for the agent's error document.
 * const c = await agents.forHost(hostId).call(GetConsole, { id }, { requestId: req.id });
 *
 * hosts.list() / hosts.find(idOrName) → Host rows (state 'up' | 'down', roles, vcpus,
 * memory_mb, disk_gb, tunnel_ip, usage, capabilities, enabled).
 * ```
 *
 * In unit tests buildApp creates a layer whose dispatcher is not started (rows are
 * written, nothing is sent until you call `dispatcher.pump()`); pass
 * `extras: { agentLayer: createAgentLayer({ ..., clientOptions: { dispatcher: mockAgent } }) }`
 * to talk to an undici MockAgent instead, and `hosts.rememberSecret(id, secret)` so the
 * client has a credential.
 */
export interface AgentLayer {
  hosts: HostRegistry;
  agents: AgentClients;
  dispatcher: Dispatcher;
}

export function createAgentLayer(o: {
  config: ControllerConfig;
  db: Db;
  log: FastifyBaseLogger;
  clientOptions?: AgentClientsOptions;
  backoffBaseMs?: number;
}): AgentLayer {
  const hosts = new HostRegistry(o.db, o.config);
  // Agents enrolled by this release serve mutual TLS: the controller's client certificate
  // (controller/pki/controller-cert.ts), read again for each new pool (issued at enrolment).
  const agents = new AgentClients(hosts, { tls: () => readAgentChannelTls(o.config.data_dir), ...o.clientOptions });
  const dispatcher = new Dispatcher({
    db: o.db,
    hosts,
    agents,
    log: o.log,
    maxAttempts: o.config.agents.dispatch_max_attempts,
    backoffBaseMs: o.backoffBaseMs ?? 1000,
    backoffMaxMs: o.config.agents.dispatch_backoff_max_s * 1000,
  });
  return { hosts, agents, dispatcher };
}

/** The agent layer buildApp placed in `deps.extras`. */
export function agentLayerOf(deps: Pick<ServiceDeps, 'extras'>): AgentLayer {
  const l = deps.extras.agentLayer as AgentLayer | undefined;
  if (!l) throw new Error('the agent layer is not wired (buildApp sets extras.agentLayer)');
  return l;
}
