import { join } from 'node:path';
import type { CertificateAuthority } from './ca.js';
import {
  certStillGood,
  hasConfKeys,
  hostCertRequest,
  LIBVIRT_TLS_PORT,
  LIBVIRTD_KEYS,
  libvirtTlsFiles,
  QEMU_KEYS,
  SERVER_CERT_PATH,
  setConfKeys,
  type InstallFile,
} from './libvirt-tls.js';

/**
 * What installing libvirt's TLS needs from a host: the local machine (enrol-local,
 * local-host.ts) or one reached over SSH (host add, controller/enrol). Paths are the
 * host's real paths; `prefix` (tests) is applied by the caller before they reach here.
 */
export interface HostOps {
  read(path: string): Promise<string | null>;
  write(f: InstallFile): Promise<void>;
  /** Whether something listens on this TCP port in the host's network namespace. */
  listening(port: number): Promise<boolean>;
  /** Restarts libvirtd so it listens with the new settings; says how. Never called with a prefix. */
  restartLibvirtd(): Promise<string>;
}

export interface LibvirtTlsResult {
  issued: boolean;
  configChanged: boolean;
  restarted: string | null;
  listening: boolean;
  notAfter: Date | null;
}

/**
 * Makes the host's libvirt speak TLS with a certificate of the cloud's CA: issues one
 * (only when the installed one is missing, from another CA, near expiry, or lacks a name
 * or address), writes the files and the libvirtd.conf/qemu.conf settings, and restarts
 * libvirtd when something changed or it does not listen on 16514 yet. Idempotent: a
 * second run on a configured host changes nothing. `prefix` ≠ "/" (tests) writes under it
 * and never restarts anything.
 */
export async function installLibvirtTls(
  ca: CertificateAuthority,
  host: { name: string; addresses: string[] },
  ops: HostOps,
  prefix = '/',
): Promise<LibvirtTlsResult> {
  const at = (p: string) => (prefix === '/' ? p : join(prefix, p));
  const want = hostCertRequest(host.name, host.addresses);
  const have = await ops.read(at(SERVER_CERT_PATH));
  let issued = false;
  let notAfter: Date | null = null;
  if (!certStillGood(ca, have, want)) {
    const c = await ca.issue({ ...want, usages: [...want.usages] });
    for (const f of libvirtTlsFiles(ca.certPem, c)) await ops.write({ ...f, path: at(f.path) });
    issued = true;
    notAfter = c.notAfter;
  }
  let configChanged = false;
  for (const [file, keys] of [
    ['/etc/libvirt/libvirtd.conf', LIBVIRTD_KEYS],
    ['/etc/libvirt/qemu.conf', QEMU_KEYS],
  ] as const) {
    const text = (await ops.read(at(file))) ?? '';
    if (hasConfKeys(text, keys)) continue;
    await ops.write({ path: at(file), content: setConfKeys(text, keys), mode: 0o644 });
    configChanged = true;
  }
  let restarted: string | null = null;
  let listening = prefix === '/' ? await ops.listening(LIBVIRT_TLS_PORT) : false;
  if (prefix === '/' && (issued || configChanged || !listening)) {
    restarted = await ops.restartLibvirtd();
    listening = await ops.listening(LIBVIRT_TLS_PORT);
  }
  return { issued, configChanged, restarted, listening, notAfter };
}

/** The addresses of a host worth naming in its certificate (IPs only; 0.0.0.0 and :: skipped). */
export function certAddresses(...candidates: Array<string | undefined | null>): string[] {
  return [...new Set(candidates.filter((a): a is string => Boolean(a) && a !== '0.0.0.0' && a !== '::'))];
}
