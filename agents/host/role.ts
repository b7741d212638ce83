import type { FastifyBaseLogger } from 'fastify';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { AgentApp } from './app.js';

/**
 * What a role module (agents/compute, agents/network, agents/volume) receives.
 * Nothing is module-level: drivers are built from `config` inside `register()`.
 */
export interface RoleContext {
  config: AgentConfig;
  log: FastifyBaseLogger;
  /** The only way to run host tools (shared/exec/run.ts). */
  run: Runner;
  hostname: string;
  dataDir: string;
  /** For roles that call the controller's internal API (same bearer secret). */
  controller: { url: string; secret: string };
}

/** What a role reports back; every field optional. */
export interface RoleHandle {
  /** Merged into the registration's capabilities.roles[<role>]. */
  capabilities?: Record<string, string | number | boolean>;
  /** compute: "QEMU" (reported as the host's hypervisor_type). */
  hypervisorType?: string;
  /** Overrides of the host totals (e.g. compute: vCPUs and memory minus reserved). */
  totals?: () => Promise<Partial<{ vcpus: number; memory_mb: number; disk_gb: number }>>;
  /** Sampled at each heartbeat into usage.roles[<role>]. */
  usage?: () => Promise<Record<string, number>>;
  /** network: the VXLAN endpoint address. */
  tunnelIp?: string;
  /** Called when the agent stops. */
  close?: () => Promise<void>;
}

/**
 * A role: `register` builds its driver from config (fail fast: `driver.init()`), then
 * registers its routes with `agent.route(Descriptor, handler)`. Throwing makes the
 * agent start without that role and report why (capabilities.unavailable_roles).
 */
export interface RoleModule {
  register(agent: AgentApp, ctx: RoleContext): Promise<RoleHandle | void>;
}
