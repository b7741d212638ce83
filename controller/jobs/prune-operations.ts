import type { FastifyBaseLogger } from 'fastify';
import { OperationsRepo } from '../agents/operations.repo.js';
import type { Db } from '../db/open.js';
import type { Job } from './cron.js';

/**
 * Deletes finished operations: done ones after `doneDays`, failed ones after
 * `failedDays` (kept longer for debugging). Pending and sending rows are never touched.
 * Returns how many rows it deleted.
 */
export function pruneOperations(db: Db, now = new Date(), doneDays = 7, failedDays = 30): number {
  const before = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
  const ops = new OperationsRepo(db);
  return ops.deleteFinished('done', before(doneDays)) + ops.deleteFinished('failed', before(failedDays));
}

/** Hourly, at minute 17. */
export function pruneOperationsJob(db: Db, log: FastifyBaseLogger): Job {
  return {
    name: 'prune-operations',
    schedule: '0 17 * * * *',
    run() {
      const n = pruneOperations(db);
      if (n) log.info({ deleted: n }, 'pruned finished operations');
    },
  };
}
