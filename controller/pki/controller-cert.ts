import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateAuthority } from './ca.js';

/**
 * The controller's own client certificate for mutual TLS on the agent channel (issue 17,
 * item 3): CN `homestack-controller`, client use only, issued by the cloud's CA and kept
 * beside it (`<data_dir>/pki/controller.pem`, key `controller.key` 0600). Agents serving
 * their port with their host certificate accept only connections presenting a certificate
 * of the cloud's CA; the controller presents this one and checks that the agent's
 * certificate names the host it enrolled (not merely the address it dials).
 */
export const CONTROLLER_CLIENT_CN = 'homestack-controller';

export interface AgentChannelTls {
  /** The cloud's CA (the only one an agent's certificate may chain to). */
  ca: string;
  cert: string;
  key: string;
}

export const controllerClientPaths = (pkiDir: string) => ({
  caFile: join(pkiDir, 'ca.pem'),
  certFile: join(pkiDir, 'controller.pem'),
  keyFile: join(pkiDir, 'controller.key'),
});

function pairGood(ca: CertificateAuthority, certFile: string, keyFile: string): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  try {
    const pem = readFileSync(certFile, 'utf8');
    return ca.isCurrent(pem) && new X509Certificate(pem).checkPrivateKey(createPrivateKey(readFileSync(keyFile)));
  } catch {
    return false;
  }
}

/**
 * Issues the controller's client certificate when it is missing, from another CA, within
 * 30 days of its end, or does not match its key. Idempotent; the key is written first,
 * each file through a rename. True when a new one was issued.
 */
export async function ensureControllerClientCert(ca: CertificateAuthority): Promise<boolean> {
  const p = controllerClientPaths(ca.dir);
  if (pairGood(ca, p.certFile, p.keyFile)) return false;
  const c = await ca.issue({ commonName: CONTROLLER_CLIENT_CN, usages: ['client'] });
  for (const [file, content, mode] of [
    [p.keyFile, c.keyPem, 0o600],
    [p.certFile, c.certPem, 0o644],
  ] as const) {
    writeFileSync(`${file}.new`, content, { mode });
    chmodSync(`${file}.new`, mode);
    renameSync(`${file}.new`, file);
  }
  return true;
}

/**
 * What the controller connects to `https://` agents with, read from `<data_dir>/pki`;
 * null when the CA or the client certificate is not there (no host was ever enrolled by
 * this release: agents then serve plain HTTP).
 */
export function readAgentChannelTls(dataDir: string): AgentChannelTls | null {
  const p = controllerClientPaths(join(dataDir, 'pki'));
  if (![p.caFile, p.certFile, p.keyFile].every((f) => existsSync(f))) return null;
  return { ca: readFileSync(p.caFile, 'utf8'), cert: readFileSync(p.certFile, 'utf8'), key: readFileSync(p.keyFile, 'utf8') };
}

/**
 * TLS options for a connection to the agent of host `hostName` (undici `connect`, `ws`):
 * the cloud's CA alone, the controller's client certificate, and the agent's certificate
 * must name the enrolled host (a certificate of another host of the same cloud is refused).
 */
export function agentConnectOptions(t: AgentChannelTls, hostName: string) {
  return {
    ca: [t.ca],
    cert: t.cert,
    key: t.key,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(hostName, cert),
  };
}

/**
 * The renewal check of the controller's client certificate without a restart (the daily
 * job and SIGHUP, controller/main.ts): re-issued as at start when it is missing, another
 * CA's or within 30 days of its end. Nothing to do (false) where the cloud has no CA.
 */
export async function renewControllerClientCert(pkiDir: string, ensureCa: () => Promise<CertificateAuthority>): Promise<boolean> {
  if (!existsSync(controllerClientPaths(pkiDir).caFile)) return false;
  return ensureControllerClientCert(await ensureCa());
}
