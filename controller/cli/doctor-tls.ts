import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { readTlsPair } from '../http/tls.js';

const DAY = 86_400_000;

/**
 * `homestack doctor` on the controller's host: how the API port is served (issue 17).
 * WARN for plain HTTP (passwords and tokens in clear text on the LAN) and for a
 * certificate within 30 days of its end; FAIL for one that has ended, cannot be read,
 * or whose key does not match.
 */
export function apiTlsCheck(
  config: Pick<ControllerConfig, 'tls' | 'data_dir'>,
  now = Date.now(),
): { name: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string } {
  const name = 'API TLS';
  if (!config.tls.enabled)
    return {
      name,
      status: 'warn',
      detail: 'plain HTTP: passwords, tokens and host credentials cross the network in clear text',
      fix: "set [tls] enabled = true in controller.toml (the cloud's CA issues the certificate; or tls.cert_file/key_file), restart the controller, give clients OS_CACERT",
    };
  const ca = !config.tls.cert_file;
  const certFile = ca ? join(config.data_dir, 'pki', 'api.pem') : config.tls.cert_file;
  const keyFile = ca ? join(config.data_dir, 'pki', 'api.key') : config.tls.key_file;
  if (ca && !existsSync(certFile))
    return { name, status: 'ok', detail: "HTTPS with the cloud CA's certificate (issued when the controller starts)" };
  try {
    const p = readTlsPair(certFile, keyFile);
    const days = Math.floor((p.notAfter.getTime() - now) / DAY);
    const renew = ca
      ? 'homestack ca api-cert --force, then systemctl reload homestack-controller'
      : `renew ${certFile}, then systemctl reload homestack-controller`;
    if (days < 0)
      return { name, status: 'fail', detail: `${certFile} ended on ${p.notAfter.toISOString().slice(0, 10)}`, fix: renew };
    if (days < 30)
      return {
        name,
        status: 'warn',
        detail: `${certFile} ends in ${days} days (${p.notAfter.toISOString().slice(0, 10)})`,
        fix: renew,
      };
    return { name, status: 'ok', detail: `HTTPS with ${certFile}, until ${p.notAfter.toISOString().slice(0, 10)}` };
  } catch (e) {
    return { name, status: 'fail', detail: (e as Error).message, fix: `check tls.cert_file and tls.key_file in controller.toml` };
  }
}
