import type { Role } from '../shared/agent/host.js';
import type { RoleModule } from './host/role.js';
import { computeRole } from './compute/main.js';
import { networkRole } from './network/main.js';
import { volumeRole } from './volume/main.js';

/**
 * The roles this build of the agent can serve, keyed by the config string (house style
 * 3.7 rule 5: a literal map, no import by name). A role listed in agent.toml but
 * absent here is reported as unavailable at registration and in the log; the agent
 * serves the others.
 *
 * To add a role: export `export const computeRole: RoleModule = { register: async (agent, ctx) => {...} }`
 * from agents/<role>/main.ts and add one line here.
 */
export const ROLE_MODULES: Partial<Record<Role, RoleModule>> = {
  compute: computeRole,
  network: networkRole,
  volume: volumeRole,
};
