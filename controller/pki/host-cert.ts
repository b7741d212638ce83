import { createPrivateKey, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { CertificateAuthority } from './ca.js';
import type { HostOps } from './install.js';
import { certStillGood, hostCertRequest, type InstallFile } from './libvirt-tls.js';

/**
 * The host's own certificate for the controller↔agent channel (issue 17, item 3): one per
 * host, issued by the cloud's CA at enrolment (`host enrol-local`, `host add`), CN and DNS
 * name = the enrolled host name (what the controller will match an agent's client
 * certificate against), IP SANs = the addresses the controller and peers reach it at,
 * usable as server (the agent's port) and client (register, heartbeat, downloads). Kept
 * apart from libvirt's certificate (its key is readable by QEMU's group) and installed on
 * every host whatever its roles, beside the host credential:
 *
 *   <etc>/tls/ca.pem    the cloud's CA, 0644: what the agent will trust the controller by
 *   <etc>/tls/host.pem  the host's certificate, 0644
 *   <etc>/tls/host.key  its key, 0600
 *
 * (`<etc>` is /etc/homestack, the directory of the agent's credential_file.)
 */

export interface HostTlsPaths {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export const hostTlsPaths = (etcDir: string): HostTlsPaths => ({
  caFile: join(etcDir, 'tls', 'ca.pem'),
  certFile: join(etcDir, 'tls', 'host.pem'),
  keyFile: join(etcDir, 'tls', 'host.key'),
});

export interface HostCertResult extends HostTlsPaths {
  issued: boolean;
  caWritten: boolean;
  notAfter: Date | null;
}

function keyMatches(certPem: string, keyPem: string | null): boolean {
  if (!keyPem) return false;
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * Installs the host's certificate through `ops` (this machine or one over SSH): issues a
 * new one only when the installed one is missing, from another CA, within 30 days of
 * expiry, lacks the name or an address, or does not match the installed key; rewrites
 * the CA file when it differs. The key is written before the certificate. Idempotent.
 * `prefix` ≠ "/" (tests) writes under it.
 */
export async function installHostCertificate(
  ca: CertificateAuthority,
  host: { name: string; addresses: string[] },
  ops: Pick<HostOps, 'read' | 'write'>,
  etcDir: string,
  prefix = '/',
): Promise<HostCertResult> {
  const at = (p: string) => (prefix === '/' ? p : join(prefix, p));
  const paths = hostTlsPaths(etcDir);
  const want = hostCertRequest(host.name, host.addresses);
  const have = await ops.read(at(paths.certFile));
  const files: InstallFile[] = [];
  let notAfter: Date | null = null;
  const issued = !certStillGood(ca, have, want) || !keyMatches(have!, await ops.read(at(paths.keyFile)));
  if (issued) {
    const c = await ca.issue({ ...want, usages: [...want.usages] });
    files.push(
      { path: paths.keyFile, content: c.keyPem, mode: 0o600 },
      { path: paths.certFile, content: c.certPem, mode: 0o644 },
    );
    notAfter = c.notAfter;
  }
  const caWritten = (await ops.read(at(paths.caFile))) !== ca.certPem;
  if (caWritten) files.unshift({ path: paths.caFile, content: ca.certPem, mode: 0o644 });
  for (const f of files) await ops.write({ ...f, path: at(f.path) });
  return { ...paths, issued, caWritten, notAfter };
}
