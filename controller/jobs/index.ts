import type { FastifyBaseLogger } from 'fastify';
import type { AgentLayer } from '../agents/index.js';
import { agentHealthJob } from './agent-health.js';
import type { Job } from './cron.js';
import { dispatchRetryJob } from './dispatch-retry.js';
import { pruneOperationsJob } from './prune-operations.js';
import type { Db } from '../db/open.js';
import type { VolumeCtx } from '../volumes/context.js';
import type { ComputeCtx } from '../compute/context.js';
import { backupSchedulesJob } from './backup-schedules.js';

export { startJobs, everySeconds, type Job, type RunningJobs } from './cron.js';

/**
 * The controller's periodic jobs. Services with their own (token expiry,
 * reconciliation) add them here: one file per job under controller/jobs/.
 */
export function controllerJobs(o: {
  agents: AgentLayer;
  db: Db;
  log: FastifyBaseLogger;
  volumes?: VolumeCtx;
  compute?: ComputeCtx;
}): Job[] {
  return [
    agentHealthJob(o.agents.hosts, o.log),
    dispatchRetryJob(o.agents.dispatcher),
    pruneOperationsJob(o.db, o.log),
    ...(o.volumes ? [backupSchedulesJob(o.volumes, o.compute ?? null)] : []),
  ];
}
