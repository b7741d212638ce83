import type { FastifyBaseLogger } from 'fastify';
import type { HostRegistry } from '../agents/registry.js';
import type { Job } from './cron.js';

/**
 * Marks hosts down after `agents.down_after_missed` missed heartbeats. Runs every 2 s,
 * so a host is down at most heartbeat_s × down_after_missed + 2 s after its last beat
 * (defaults: 10 × 3 + 2 = 32 s).
 */
export const AGENT_HEALTH_EVERY_S = 2;

export function agentHealthJob(hosts: HostRegistry, log: FastifyBaseLogger): Job {
  return {
    name: 'agent-health',
    schedule: `*/${AGENT_HEALTH_EVERY_S} * * * * *`,
    run() {
      for (const h of hosts.markStale()) {
        log.warn(
          { host: h.name, hostId: h.id, lastHeartbeat: h.last_heartbeat_at, downAfterS: hosts.downAfterS() },
          'host is down: heartbeats missed',
        );
      }
    },
  };
}

/** Worst-case seconds from an agent's death to its host being marked down. */
export function worstCaseDownS(heartbeatS: number, downAfterMissed: number): number {
  return heartbeatS * downAfterMissed + AGENT_HEALTH_EVERY_S;
}
