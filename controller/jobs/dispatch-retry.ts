import type { Dispatcher } from '../agents/dispatch.js';
import type { Job } from './cron.js';

/** Sends operations whose backoff has expired (enqueue and host-up kick it sooner). */
export function dispatchRetryJob(dispatcher: Dispatcher): Job {
  return { name: 'dispatch-retry', schedule: '* * * * * *', run: () => dispatcher.pump() };
}
