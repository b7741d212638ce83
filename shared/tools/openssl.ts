import type { Runner } from '../exec/run.js';

/**
 * openssl, the one module that runs it (house style 3.5): the cloud's CA (controller/pki)
 * makes its keys and signs certificates with it. Chosen over an npm X.509 library because
 * the tool is on every Debian host already, GnuTLS (libvirt, QEMU) was verified against
 * certificates made this way (shared/docs/live-migration-recipe.md §4), and it brings no
 * dependency tree nor a global reflect polyfill (@peculiar/x509 needs one). Reading
 * certificates back (expiry, SANs, chain checks) uses Node's own `crypto.X509Certificate`.
 *
 * Every file is passed by path; keys never cross argv or stdout. Configuration (subject
 * alternative names, key usage) goes through small config files the caller names.
 */

const PATH_RE = /^\/[^\0\n\r]*$/;
const SUBJECT_RE = /^(\/[A-Za-z]{1,8}=[A-Za-z0-9 ._@:-]{1,64})+$/;

function checkPath(p: string): string {
  if (!PATH_RE.test(p)) throw new Error(`bad path for openssl: ${JSON.stringify(p)}`);
  return p;
}

/** An X.509 subject as openssl's `-subj` wants it: /O=Homestack/CN=host-a. */
export function subject(parts: Array<[string, string]>): string {
  const s = parts.map(([k, v]) => `/${k}=${v}`).join('');
  if (!SUBJECT_RE.test(s)) throw new Error(`bad certificate subject ${JSON.stringify(s)}`);
  return s;
}

export const openssl = (run: Runner) => ({
  /** A new ECDSA P-256 private key (PKCS#8 PEM) at `out`; openssl creates it 0600. */
  genEcKey: async (out: string): Promise<void> => {
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', checkPath(out)]);
  },

  /** A self-signed certificate for `key` (the CA), extensions from section `ext` of `config`. */
  selfSigned: async (o: { key: string; subj: string; days: number; config: string; ext: string; out: string }) => {
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-sha256',
      '-key',
      checkPath(o.key),
      '-subj',
      o.subj,
      '-days',
      String(Math.max(1, Math.floor(o.days))),
      '-config',
      checkPath(o.config),
      '-extensions',
      o.ext,
      '-out',
      checkPath(o.out),
    ]);
  },

  /** A certificate request for `key`. */
  csr: async (o: { key: string; subj: string; config: string; out: string }) => {
    await run('openssl', [
      'req',
      '-new',
      '-sha256',
      '-key',
      checkPath(o.key),
      '-subj',
      o.subj,
      '-config',
      checkPath(o.config),
      '-out',
      checkPath(o.out),
    ]);
  },

  /** Signs a request with the CA; extensions from section `ext` of `extfile`; serial as hex. */
  sign: async (o: {
    csr: string;
    caCert: string;
    caKey: string;
    serialHex: string;
    days: number;
    extfile: string;
    ext: string;
    out: string;
  }) => {
    if (!/^[0-9a-f]{2,40}$/.test(o.serialHex)) throw new Error(`bad serial ${o.serialHex}`);
    await run('openssl', [
      'x509',
      '-req',
      '-sha256',
      '-in',
      checkPath(o.csr),
      '-CA',
      checkPath(o.caCert),
      '-CAkey',
      checkPath(o.caKey),
      '-set_serial',
      `0x${o.serialHex}`,
      '-days',
      String(Math.max(1, Math.floor(o.days))),
      '-extfile',
      checkPath(o.extfile),
      '-extensions',
      o.ext,
      '-out',
      checkPath(o.out),
    ]);
  },
});

export type OpenSsl = ReturnType<typeof openssl>;
