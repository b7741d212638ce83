import type { TlsReloader } from '../http/tls.js';
import type { Job } from './cron.js';

/**
 * Once a day (03:17, off the hour), the API certificate's renewal check: the CA's one is
 * re-issued 30 days before its end and served with no restart; a configured one is
 * re-read (an ACME client that renewed the files without a reload hook) and warned about
 * in its last 30 days (controller/http/tls.ts, `renew`).
 */
export function tlsRenewJob(tls: Pick<TlsReloader, 'renew'>): Job {
  return { name: 'tls-renew', schedule: '0 17 3 * * *', run: async () => void (await tls.renew()) };
}
