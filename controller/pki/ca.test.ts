import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { altNamesOf, CertificateAuthority } from './ca.js';
import { certStillGood, hasConfKeys, hostCertRequest, libvirtTlsFiles, LIBVIRTD_KEYS, setConfKeys } from './libvirt-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = makeRunner();

describe('CertificateAuthority (openssl)', () => {
  it('creates an ECDSA P-256 CA with a 0600 key once, and reopens it', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    expect(statSync(join(dir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'pki')).mode & 0o777).toBe(0o700);
    const x = new X509Certificate(ca.certPem);
    expect(x.ca).toBe(true);
    expect(x.subject).toContain('O=Homestack');
    const key = createPrivateKey(readFileSync(join(dir, 'pki', 'ca.key')));
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const again = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    expect(again.certPem).toBe(ca.certPem);
  });

  it('issues host certificates for server and client use with the names asked for', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const req = hostCertRequest('host-a', ['198.51.100.11', '192.0.2.1', 'not-an-ip']);
    const c = await ca.issue({ ...req, usages: [...req.usages] });
    const x = new X509Certificate(c.certPem);
    expect(x.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.subject).toContain('CN=host-a');
    expect(altNamesOf(c.certPem)).toEqual({ dns: ['host-a'], ips: ['198.51.100.11', '192.0.2.1'] });
    expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(x.checkPrivateKey(createPrivateKey(c.keyPem))).toBe(true);
    expect(c.notAfter.getTime() - Date.now()).toBeGreaterThan(800 * 86_400_000);
    expect(ca.isCurrent(c.certPem)).toBe(true);
    expect(certStillGood(ca, c.certPem, req)).toBe(true);
    // a new address means a new certificate; so does another CA's certificate
    expect(certStillGood(ca, c.certPem, hostCertRequest('host-a', ['198.51.100.99']))).toBe(false);
    const other = await CertificateAuthority.ensure(join(dir, 'other'), run, { name: 'Other CA' });
    const foreign = await other.issue({ ...req, usages: [...req.usages] });
    expect(ca.isCurrent(foreign.certPem)).toBe(false);
    expect(certStillGood(ca, null, req)).toBe(false);
  });

  it('refuses names that could inject into the subject or the config', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    await expect(ca.issue({ commonName: 'a/CN=evil', usages: ['server'] })).rejects.toThrow(/bad certificate name/);
    await expect(ca.issue({ commonName: 'a', dnsNames: ['x\nbasicConstraints=CA:TRUE'], usages: ['server'] })).rejects.toThrow(
      /bad DNS name/,
    );
    await expect(ca.issue({ commonName: 'a', ipAddresses: ['1.2.3'], usages: ['server'] })).rejects.toThrow(/bad IP/);
  });
});

describe('libvirt TLS files and settings', () => {
  it('puts the key where QEMU (group libvirt-qemu) and libvirtd (root only) read it', () => {
    const files = libvirtTlsFiles('CA', { certPem: 'CERT', keyPem: 'KEY' });
    const mode = (p: string) => files.find((f) => f.path === p);
    expect(mode('/etc/pki/libvirt/private/serverkey.pem')).toMatchObject({ mode: 0o600, content: 'KEY' });
    expect(mode('/etc/pki/qemu/server-key.pem')).toMatchObject({ mode: 0o640, group: 'libvirt-qemu' });
    expect(mode('/etc/pki/CA/cacert.pem')).toMatchObject({ mode: 0o644, content: 'CA' });
  });

  it('sets keys in place (commented examples or live lines) and appends the missing ones', () => {
    const text = '# comment\n#listen_tls = 0\n#listen_tcp = 1\nlisten_tcp = 1\nmax_clients = 5000\n';
    const out = setConfKeys(text, LIBVIRTD_KEYS);
    expect(out).toBe('# comment\nlisten_tls = 1\n#listen_tcp = 1\nlisten_tcp = 0\nmax_clients = 5000\n');
    expect(hasConfKeys(out, LIBVIRTD_KEYS)).toBe(true);
    expect(setConfKeys(out, LIBVIRTD_KEYS)).toBe(out);
    const appended = setConfKeys('a = 1\n', { migrate_tls_force: '1' });
    expect(appended).toBe('a = 1\n# Homestack: libvirt TLS for live migration\nmigrate_tls_force = 1\n');
    expect(hasConfKeys('listen_tls = 0\n', LIBVIRTD_KEYS)).toBe(false);
  });
});
