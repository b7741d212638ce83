import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import { ConfigError } from '../../shared/config/load.js';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Runner } from '../../shared/exec/run.js';
import { ensureApiCertificate } from '../pki/api-cert.js';
import { CertificateAuthority } from '../pki/ca.js';

/**
 * HTTPS for the API port (issue 17). With `tls.enabled`, the controller serves the pair
 * named by `tls.cert_file`/`tls.key_file` (bring your own: your PKI or an ACME client),
 * or else the API certificate of the cloud's CA (controller/pki/api-cert.ts, issued or
 * re-issued at start when needed). SIGHUP re-reads the pair (and, for the CA's, re-checks
 * it) and swaps it into the listening server for new connections; a pair that cannot be
 * read or does not match is logged and the current one kept.
 */

export interface TlsPair {
  cert: string;
  key: string;
  notAfter: Date;
  fingerprint256: string;
}

export interface ServerTls {
  source: 'configured' | 'ca';
  certFile: string;
  keyFile: string;
  /** Reads the pair again (re-issuing the CA's one if it lacks a name or nears expiry). */
  load(): Promise<TlsPair>;
}

/** Reads a certificate and its key and checks they belong together. */
export function readTlsPair(certFile: string, keyFile: string): TlsPair {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`${certFile}: not a PEM certificate (${(e as Error).message})`);
  }
  let match = false;
  try {
    match = x.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new Error(`${keyFile}: not a PEM private key (${(e as Error).message})`);
  }
  if (!match) throw new Error(`${keyFile} is not the key of ${certFile}`);
  return { cert, key, notAfter: new Date(x.validTo), fingerprint256: x.fingerprint256 };
}

/** The API's TLS from the configuration; null when `tls.enabled` is false. */
export function serverTlsOf(config: ControllerConfig, run: Runner): ServerTls | null {
  const { enabled, cert_file, key_file } = config.tls;
  if (!enabled) {
    if (cert_file || key_file)
      throw new ConfigError(`key 'tls.${cert_file ? 'cert_file' : 'key_file'}': set, but tls.enabled is false`);
    return null;
  }
  if (Boolean(cert_file) !== Boolean(key_file))
    throw new ConfigError(
      `key 'tls.${cert_file ? 'key_file' : 'cert_file'}': needed with tls.${cert_file ? 'cert_file' : 'key_file'}`,
    );
  if (cert_file)
    return { source: 'configured', certFile: cert_file, keyFile: key_file, load: async () => readTlsPair(cert_file, key_file) };
  const pki = join(config.data_dir, 'pki');
  const paths = { certFile: join(pki, 'api.pem'), keyFile: join(pki, 'api.key') };
  return {
    source: 'ca',
    ...paths,
    async load() {
      const ca = await CertificateAuthority.ensure(pki, run);
      const r = await ensureApiCertificate(ca, config);
      return readTlsPair(r.certFile, r.keyFile);
    },
  };
}

export interface TlsReloader {
  /** What SIGHUP runs: re-read the pair and serve it to new connections. False (logged) when it cannot. */
  reload(): Promise<boolean>;
  /**
   * The daily renewal check (controller/jobs/tls-renew.ts): the same reading (the CA's
   * certificate is re-issued when within 30 days of its end), swapped in only when it
   * changed; a configured certificate within 30 days of its end is warned about.
   * True when a new certificate is now served.
   */
  renew(now?: number): Promise<boolean>;
  uninstall(): void;
}

const RENEW_WARN_MS = 30 * 86_400_000;

/**
 * Reloads the server's certificate on SIGHUP (and on `renew`). `served` is the pair the
 * server started with. Connections already open keep their session.
 */
export function reloadOnSighup(server: TlsServer, tls: ServerTls, log: FastifyBaseLogger, served?: TlsPair): TlsReloader {
  let current = served?.fingerprint256 ?? '';
  // One reading at a time: a SIGHUP during the daily check must not issue two certificates at once.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = queue.then(f, f);
    queue = next.catch(() => {});
    return next;
  };
  const swap = (p: TlsPair, msg: string) => {
    server.setSecureContext({ cert: p.cert, key: p.key });
    current = p.fingerprint256;
    log.info({ certFile: tls.certFile, notAfter: p.notAfter.toISOString(), fingerprint256: p.fingerprint256 }, msg);
  };
  const reload = (): Promise<boolean> =>
    serial(async () => {
      try {
        swap(await tls.load(), 'TLS certificate reloaded');
        return true;
      } catch (err) {
        log.error({ err, certFile: tls.certFile, keyFile: tls.keyFile }, 'TLS certificate reload failed: the current one stays');
        return false;
      }
    });
  const renew = (now = Date.now()): Promise<boolean> =>
    serial(async () => {
      let p: TlsPair;
      try {
        p = await tls.load();
      } catch (err) {
        log.error({ err, certFile: tls.certFile }, 'TLS renewal check failed: the current certificate stays');
        return false;
      }
      const changed = p.fingerprint256 !== current;
      if (changed) swap(p, 'TLS certificate renewed');
      if (p.notAfter.getTime() - now < RENEW_WARN_MS)
        log.warn(
          { certFile: tls.certFile, notAfter: p.notAfter.toISOString() },
          'TLS certificate ends within 30 days: renew it (then systemctl reload homestack-controller)',
        );
      return changed;
    });
  const onHup = () => void reload();
  process.on('SIGHUP', onHup);
  return { reload, renew, uninstall: () => process.removeListener('SIGHUP', onHup) };
}
