import { AGENT_API_VERSION } from '../../shared/agent/contract.js';
import { Echo, EchoLog, Health, type Role } from '../../shared/agent/host.js';
import { CloudError } from '../../shared/errors/index.js';
import type { AgentApp } from './app.js';

export interface HostRouteInfo {
  hostname: string;
  agentVersion: string;
  roles: () => Role[];
  unavailableRoles: () => Record<string, string>;
}

/**
 * Routes every agent serves whatever its roles: health, and the diagnostic echo used
 * to observe the dispatcher from outside (it records each real execution in memory;
 * a repeated op id is answered from the idempotency store and not recorded again).
 */
export function registerHostRoutes(agent: AgentApp, info: HostRouteInfo): void {
  const started = Date.now();
  const calls: Array<{ message: string; op_id: string | null; executed_at: string }> = [];
  agent.route(Health, async () => ({
    hostname: info.hostname,
    agent_version: info.agentVersion,
    api_version: AGENT_API_VERSION,
    roles: info.roles(),
    unavailable_roles: info.unavailableRoles(),
    uptime_s: Math.floor((Date.now() - started) / 1000),
  }));
  agent.route(Echo, async (body, req) => {
    if (body.delay_ms) await new Promise((r) => setTimeout(r, body.delay_ms));
    const opId = req.headers['x-homestack-op-id'];
    const rec = { message: body.message, op_id: typeof opId === 'string' ? opId : null, executed_at: new Date().toISOString() };
    calls.push(rec);
    if (calls.length > 1000) calls.shift();
    if (body.fail_code) throw new CloudError(409, `echo asked to fail with ${body.fail_code}`, body.fail_code);
    return rec;
  });
  agent.route(EchoLog, async () => ({ calls: [...calls] }));
}
