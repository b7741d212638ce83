import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Runner } from '../../shared/exec/run.js';
import { openssl, subject } from '../../shared/tools/openssl.js';

/**
 * The cloud's own certificate authority: an ECDSA P-256 key (`ca.key`, 0600) and a
 * self-signed certificate (`ca.pem`) in `<controller data_dir>/pki/`, made the first time
 * it is needed and kept. It issues leaf certificates (server, client or both) with the
 * subject alternative names given; callers install them (libvirt's TLS at enrolment, the
 * API certificate and agent mTLS in issue 17). Keys and certificates are PEM text.
 *
 * Signing runs `openssl` (shared/tools/openssl.ts); reading and checking certificates
 * uses Node's `crypto.X509Certificate`. Not safe against two processes creating the CA at
 * the same instant on first use: the files are written to temporary names and renamed,
 * and the second one to rename wins (both CAs are complete, only the winner is kept).
 */

export type Usage = 'server' | 'client';

export interface IssueRequest {
  /** The subject's CN (a host name, "homestack-api"...). */
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  usages: Usage[];
  /** Validity (default 825 days, the longest browsers accept for a server certificate). */
  days?: number;
}

export interface Issued {
  certPem: string;
  keyPem: string;
  serial: string;
  notAfter: Date;
}

export interface CaInfo {
  subject: string;
  notAfter: Date;
  fingerprint256: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const DNS_RE = /^[A-Za-z0-9*]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
const ORG = 'Homestack';

export class CertificateAuthority {
  private constructor(
    readonly dir: string,
    private readonly run: Runner,
    readonly certPem: string,
  ) {}

  get certPath(): string {
    return join(this.dir, 'ca.pem');
  }
  private get keyPath(): string {
    return join(this.dir, 'ca.key');
  }

  /** Opens the CA in `dir`, creating it (key 0600, certificate) when absent. */
  static async ensure(dir: string, run: Runner, o: { name?: string; days?: number } = {}): Promise<CertificateAuthority> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const cert = join(dir, 'ca.pem');
    const key = join(dir, 'ca.key');
    if (!existsSync(cert) || !existsSync(key)) {
      const name = o.name ?? `${ORG} CA`;
      if (!NAME_RE.test(name)) throw new Error(`bad CA name ${JSON.stringify(name)}`);
      const work = mkdtempSync(join(dir, '.new-'));
      try {
        const ossl = openssl(run);
        const cfg = join(work, 'ca.cnf');
        writeFileSync(
          cfg,
          [
            '[req]',
            'distinguished_name = dn',
            'prompt = no',
            '[dn]',
            '[ca_ext]',
            'basicConstraints = critical, CA:TRUE, pathlen:0',
            'keyUsage = critical, keyCertSign, cRLSign',
            'subjectKeyIdentifier = hash',
            '',
          ].join('\n'),
        );
        await ossl.genEcKey(join(work, 'ca.key'));
        chmodSync(join(work, 'ca.key'), 0o600);
        await ossl.selfSigned({
          key: join(work, 'ca.key'),
          subj: subject([
            ['O', ORG],
            ['CN', name],
          ]),
          days: o.days ?? 3650,
          config: cfg,
          ext: 'ca_ext',
          out: join(work, 'ca.pem'),
        });
        renameSync(join(work, 'ca.key'), key);
        renameSync(join(work, 'ca.pem'), cert);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    chmodSync(key, 0o600);
    const pem = readFileSync(cert, 'utf8');
    // Fail now on a key that does not match the certificate (a half-restored backup).
    const x = new X509Certificate(pem);
    if (!x.checkPrivateKey(createPrivateKey(readFileSync(key)))) throw new Error(`${key} is not the key of ${cert}`);
    return new CertificateAuthority(dir, run, pem);
  }

  info(): CaInfo {
    const x = new X509Certificate(this.certPem);
    return { subject: x.subject, notAfter: new Date(x.validTo), fingerprint256: x.fingerprint256 };
  }

  /** A new key and a certificate for it, signed by this CA. */
  async issue(req: IssueRequest): Promise<Issued> {
    if (!NAME_RE.test(req.commonName)) throw new Error(`bad certificate name ${JSON.stringify(req.commonName)}`);
    const dns = [...new Set(req.dnsNames ?? [])];
    const ips = [...new Set(req.ipAddresses ?? [])];
    for (const d of dns) if (!DNS_RE.test(d) || d.length > 253) throw new Error(`bad DNS name ${JSON.stringify(d)}`);
    for (const a of ips) if (!isIP(a)) throw new Error(`bad IP address ${JSON.stringify(a)}`);
    if (!req.usages.length) throw new Error('a certificate needs a usage (server or client)');
    const ossl = openssl(this.run);
    const work = mkdtempSync(join(this.dir, '.issue-'));
    try {
      const eku = [...new Set(req.usages)].map((u) => (u === 'server' ? 'serverAuth' : 'clientAuth')).join(', ');
      const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((a) => `IP:${a}`)].join(', ');
      writeFileSync(
        join(work, 'leaf.cnf'),
        [
          '[req]',
          'distinguished_name = dn',
          'prompt = no',
          '[dn]',
          '[leaf_ext]',
          'basicConstraints = critical, CA:FALSE',
          // keyEncipherment too: libvirt and QEMU check both bits on ECDSA certificates as well
          'keyUsage = critical, digitalSignature, keyEncipherment',
          `extendedKeyUsage = ${eku}`,
          'subjectKeyIdentifier = hash',
          'authorityKeyIdentifier = keyid:always',
          ...(san ? [`subjectAltName = ${san}`] : []),
          '',
        ].join('\n'),
      );
      const key = join(work, 'leaf.key');
      await ossl.genEcKey(key);
      await ossl.csr({
        key,
        subj: subject([
          ['O', ORG],
          ['CN', req.commonName],
        ]),
        config: join(work, 'leaf.cnf'),
        out: join(work, 'leaf.csr'),
      });
      const serial = randomBytes(16)
        .toString('hex')
        .replace(/^[89a-f]/, '1');
      await ossl.sign({
        csr: join(work, 'leaf.csr'),
        caCert: this.certPath,
        caKey: this.keyPath,
        serialHex: serial,
        days: req.days ?? 825,
        extfile: join(work, 'leaf.cnf'),
        ext: 'leaf_ext',
        out: join(work, 'leaf.pem'),
      });
      const certPem = readFileSync(join(work, 'leaf.pem'), 'utf8');
      const keyPem = readFileSync(key, 'utf8');
      return { certPem, keyPem, serial, notAfter: new Date(new X509Certificate(certPem).validTo) };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /**
   * True when `certPem` was signed by this CA and is valid now and for at least
   * `minDays` more days (callers re-issue otherwise).
   */
  isCurrent(certPem: string, minDays = 30): boolean {
    try {
      const x = new X509Certificate(certPem);
      const ca = new X509Certificate(this.certPem);
      if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) return false;
      const now = Date.now();
      return Date.parse(x.validFrom) <= now && Date.parse(x.validTo) - now > minDays * 86_400_000;
    } catch {
      return false;
    }
  }
}

/** The subject alternative names a certificate carries (DNS names and IP addresses). */
export function altNamesOf(certPem: string): { dns: string[]; ips: string[] } {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  const out = { dns: [] as string[], ips: [] as string[] };
  for (const part of san.split(', ')) {
    if (part.startsWith('DNS:')) out.dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) out.ips.push(part.slice(11));
  }
  return out;
}
