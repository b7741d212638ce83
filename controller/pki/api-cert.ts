import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname as osHostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { altNamesOf, type CertificateAuthority } from './ca.js';

/**
 * The API's certificate from the cloud's CA (issue 17): `<data_dir>/pki/api.pem` and
 * `api.key` (0600), used by the controller when `tls.enabled` and no `tls.cert_file` is
 * configured. Its subject alternative names: the host of `public_url`, the listen address
 * (for a wildcard, the machine's name, `localhost` and every address of its interfaces
 * but link-local ones), `tls.san`, and the names added with `homestack ca api-cert --san`
 * (kept one a line in `<data_dir>/pki/api-sans.txt`, so a later re-issue keeps them).
 */

export const API_CN = 'homestack-api';

export interface ApiCertPaths {
  certFile: string;
  keyFile: string;
  sansFile: string;
}

export const apiCertPaths = (pkiDir: string): ApiCertPaths => ({
  certFile: join(pkiDir, 'api.pem'),
  keyFile: join(pkiDir, 'api.key'),
  sansFile: join(pkiDir, 'api-sans.txt'),
});

export interface Names {
  dnsNames: string[];
  ipAddresses: string[];
}

/** Splits names into DNS names and IP addresses (brackets of an IPv6 URL host dropped), without repeats. */
export function splitNames(names: Iterable<string>): Names {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const raw of names) {
    const n = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (!n) continue;
    if (isIP(n)) ips.add(n);
    else dns.add(n.toLowerCase());
  }
  return { dnsNames: [...dns], ipAddresses: [...ips] };
}

const linkLocal = (a: NetworkInterfaceInfo) => a.family === 'IPv6' && /^fe[89ab]/i.test(a.address);

/** What the API certificate must name for this configuration (see the module comment). */
export function apiCertNames(
  config: Pick<ControllerConfig, 'public_url' | 'listen' | 'tls'>,
  extra: readonly string[] = [],
  env: { hostname?: string; interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]> } = {},
): Names {
  const names: string[] = [];
  if (config.public_url) names.push(new URL(config.public_url).hostname);
  const host = config.listen.host;
  if (host === '0.0.0.0' || host === '::') {
    names.push((env.hostname ?? osHostname()).split('.')[0]!, 'localhost');
    for (const list of Object.values(env.interfaces ?? networkInterfaces()))
      for (const a of list ?? []) if (!linkLocal(a) && (host === '::' || a.family === 'IPv4')) names.push(a.address);
  } else {
    names.push(host);
    if (host === '127.0.0.1' || host === '::1') names.push('localhost');
  }
  return splitNames([...names, ...config.tls.san, ...extra]);
}

/** The names added with `--san` (api-sans.txt), one a line. */
export function readExtraSans(paths: ApiCertPaths): string[] {
  if (!existsSync(paths.sansFile)) return [];
  return readFileSync(paths.sansFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

export interface ApiCertResult extends ApiCertPaths {
  issued: boolean;
  notAfter: Date;
  names: Names;
}

/** Whether `certPem` (with `keyPem`) can stay: our CA's, valid 30 more days, naming everything wanted. */
export function apiCertStillGood(ca: CertificateAuthority, certPem: string | null, keyPem: string | null, want: Names): boolean {
  if (!certPem || !keyPem || !ca.isCurrent(certPem)) return false;
  try {
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) return false;
  } catch {
    return false;
  }
  const have = altNamesOf(certPem);
  return want.dnsNames.every((d) => have.dns.includes(d)) && want.ipAddresses.every((a) => have.ips.includes(a));
}

const readOrNull = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : null);

/**
 * Makes sure `<pki>/api.pem` and `api.key` name everything `apiCertNames` wants (plus
 * `addSans`, recorded in api-sans.txt once issued); issues a new pair only when the
 * one there is missing, from another CA, within 30 days of expiry, not matching its key,
 * or lacking a name. Each file is written to a temporary name and renamed; a reload that
 * reads the pair between the two renames finds them mismatched and keeps the pair it
 * serves (controller/http/tls.ts). Idempotent.
 */
export async function ensureApiCertificate(
  ca: CertificateAuthority,
  config: Pick<ControllerConfig, 'public_url' | 'listen' | 'tls'>,
  o: { addSans?: readonly string[]; hostname?: string; interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>; force?: boolean } = {},
): Promise<ApiCertResult> {
  const paths = apiCertPaths(ca.dir);
  const known = readExtraSans(paths);
  const add = splitNames(o.addSans ?? []);
  const fresh = [...add.dnsNames, ...add.ipAddresses].filter((n) => !known.includes(n));
  const names = apiCertNames(config, [...known, ...fresh], o);
  const certPem = readOrNull(paths.certFile);
  const keyPem = readOrNull(paths.keyFile);
  if (!o.force && apiCertStillGood(ca, certPem, keyPem, names)) {
    return { ...paths, issued: false, notAfter: new Date(new X509Certificate(certPem!).validTo), names };
  }
  // ca.issue refuses a bad name, so a name is recorded only once a certificate carries it.
  const c = await ca.issue({ commonName: API_CN, ...names, usages: ['server'] });
  writeFileSync(`${paths.keyFile}.new`, c.keyPem, { mode: 0o600 });
  chmodSync(`${paths.keyFile}.new`, 0o600);
  writeFileSync(`${paths.certFile}.new`, c.certPem, { mode: 0o644 });
  renameSync(`${paths.keyFile}.new`, paths.keyFile);
  renameSync(`${paths.certFile}.new`, paths.certFile);
  if (fresh.length) writeFileSync(paths.sansFile, `${[...known, ...fresh].join('\n')}\n`, { mode: 0o644 });
  return { ...paths, issued: true, notAfter: c.notAfter, names };
}
