import { isIP } from 'node:net';
import { altNamesOf, type CertificateAuthority, type Issued } from './ca.js';

/**
 * libvirt's TLS transport for live migration (shared/docs/live-migration-recipe.md §4):
 * one certificate per host, issued by the cloud's CA at enrolment, used as libvirtd's
 * server and client certificate (peer-to-peer migration: the source libvirtd connects to
 * the destination with its client certificate) and as QEMU's for the memory stream and
 * the NBD disk copy (`--tls`). The files go to libvirt's and QEMU's default paths, so
 * `qemu+tls://<host>/system` needs no `pkipath`. libvirtd listens on 16514 (TLS) and never
 * on plain TCP; QEMU refuses migrations without TLS (`migrate_tls_force`).
 */

export interface InstallFile {
  path: string;
  content: string;
  mode: number;
  /** Group owner (QEMU runs as libvirt-qemu and must read its keys). */
  group?: string;
}

export const LIBVIRT_TLS_PORT = 16514;
export const CA_CERT_PATH = '/etc/pki/CA/cacert.pem';
export const SERVER_CERT_PATH = '/etc/pki/libvirt/servercert.pem';

/** What a host's certificate names: its name and every address peers may use for it. */
export function hostCertRequest(name: string, addresses: string[]) {
  const ips = [...new Set(addresses.filter((a) => isIP(a)))];
  return { commonName: name, dnsNames: [name], ipAddresses: ips, usages: ['server', 'client'] as const };
}

/** The files to write for libvirtd, virsh and QEMU. */
export function libvirtTlsFiles(caPem: string, c: Pick<Issued, 'certPem' | 'keyPem'>): InstallFile[] {
  return [
    { path: CA_CERT_PATH, content: caPem, mode: 0o644 },
    { path: SERVER_CERT_PATH, content: c.certPem, mode: 0o644 },
    { path: '/etc/pki/libvirt/private/serverkey.pem', content: c.keyPem, mode: 0o600 },
    { path: '/etc/pki/libvirt/clientcert.pem', content: c.certPem, mode: 0o644 },
    { path: '/etc/pki/libvirt/private/clientkey.pem', content: c.keyPem, mode: 0o600 },
    { path: '/etc/pki/qemu/ca-cert.pem', content: caPem, mode: 0o644 },
    { path: '/etc/pki/qemu/server-cert.pem', content: c.certPem, mode: 0o644 },
    { path: '/etc/pki/qemu/server-key.pem', content: c.keyPem, mode: 0o640, group: 'libvirt-qemu' },
    { path: '/etc/pki/qemu/client-cert.pem', content: c.certPem, mode: 0o644 },
    { path: '/etc/pki/qemu/client-key.pem', content: c.keyPem, mode: 0o640, group: 'libvirt-qemu' },
  ];
}

/** libvirtd.conf: TLS on 16514, no plain TCP. */
export const LIBVIRTD_KEYS: Record<string, string> = { listen_tls: '1', listen_tcp: '0' };
/** qemu.conf: QEMU checks the peer's certificate and refuses migrations without TLS. */
export const QEMU_KEYS: Record<string, string> = { default_tls_x509_verify: '1', migrate_tls_force: '1' };

/**
 * Sets `key = value` lines in a libvirt configuration file: an existing line (commented
 * out or not) is replaced in place, a missing key is appended. Other lines are kept.
 */
export function setConfKeys(text: string, keys: Record<string, string>): string {
  const lines = text.split('\n');
  const done = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*#?\s*([a-z_]+)\s*=/.exec(lines[i]!);
    const k = m?.[1];
    if (!k || !(k in keys)) continue;
    const commented = /^\s*#/.test(lines[i]!);
    if (done.has(k)) {
      if (!commented) lines[i] = `#${lines[i]}`; // a second live setting of the same key
      continue;
    }
    // Replace only a live line, or the first commented example when no live line exists.
    const live = lines.some((l) => new RegExp(`^\\s*${k}\\s*=`).test(l));
    if (commented && live) continue;
    lines[i] = `${k} = ${keys[k]}`;
    done.add(k);
  }
  const missing = Object.keys(keys).filter((k) => !done.has(k));
  if (missing.length) {
    if (lines.at(-1) === '') lines.pop();
    lines.push('# Homestack: libvirt TLS for live migration', ...missing.map((k) => `${k} = ${keys[k]}`), '');
  }
  return lines.join('\n');
}

/** True when a file already holds `keys` exactly (nothing to rewrite, no restart needed). */
export function hasConfKeys(text: string, keys: Record<string, string>): boolean {
  return Object.entries(keys).every(([k, v]) => new RegExp(`^\\s*${k}\\s*=\\s*${v}\\s*$`, 'm').test(text));
}

/**
 * Whether the host's installed certificate can stay: signed by this CA, valid for 30 more
 * days, naming the host and every address wanted.
 */
export function certStillGood(
  ca: CertificateAuthority,
  certPem: string | null,
  want: ReturnType<typeof hostCertRequest>,
): boolean {
  if (!certPem || !ca.isCurrent(certPem)) return false;
  const have = altNamesOf(certPem);
  return want.dnsNames.every((d) => have.dns.includes(d)) && want.ipAddresses.every((a) => have.ips.includes(a));
}
