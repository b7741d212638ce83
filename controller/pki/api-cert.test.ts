import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { apiCertNames, ensureApiCertificate, readExtraSans, apiCertPaths } from './api-cert.js';
import { altNamesOf, CertificateAuthority } from './ca.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-apicert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = makeRunner();

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;
const env = {
  hostname: 'ctl.home.lan',
  interfaces: {
    lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
    eth0: [nic('192.0.2.10', 'IPv4'), nic('fe80::1', 'IPv6'), nic('2001:db8::10', 'IPv6')],
  },
};
const cfg = (o: { public_url?: string; host?: string; san?: string[] } = {}) => ({
  public_url: o.public_url ?? '',
  listen: { host: o.host ?? '0.0.0.0', port: 8000, headers_timeout_s: 30, idle_timeout_s: 120 },
  tls: { enabled: true, cert_file: '', key_file: '', san: o.san ?? [], plain_agents: false },
});

describe('apiCertNames', () => {
  it("names public_url's host and, for 0.0.0.0, the machine's name, localhost and its IPv4 addresses", () => {
    expect(apiCertNames(cfg({ public_url: 'https://Cloud.Example.org:8443/' }), [], env)).toEqual({
      dnsNames: ['cloud.example.org', 'ctl', 'localhost'],
      ipAddresses: ['127.0.0.1', '192.0.2.10'],
    });
  });

  it('for :: adds the IPv6 addresses but never link-local ones; an IPv6 public_url loses its brackets', () => {
    const n = apiCertNames(cfg({ public_url: 'https://[2001:db8::99]:8000', host: '::' }), [], env);
    expect(n.ipAddresses).toEqual(['2001:db8::99', '127.0.0.1', '::1', '192.0.2.10', '2001:db8::10']);
    expect(n.ipAddresses).not.toContain('fe80::1');
  });

  it('names only the listen address when it is one, plus tls.san and the extra names', () => {
    expect(apiCertNames(cfg({ host: '198.51.100.5', san: ['api.lan', '203.0.113.7'] }), ['vip.lan'], env)).toEqual({
      dnsNames: ['api.lan', 'vip.lan'],
      ipAddresses: ['198.51.100.5', '203.0.113.7'],
    });
    expect(apiCertNames(cfg({ host: '127.0.0.1' }), [], env)).toEqual({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  });
});

describe('ensureApiCertificate', () => {
  it('issues a server certificate from the CA once, key 0600, with every name; keeps it while it is good', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const r = await ensureApiCertificate(ca, cfg({ public_url: 'https://cloud.lan:8000' }), env);
    expect(r.issued).toBe(true);
    expect(statSync(r.keyFile).mode & 0o777).toBe(0o600);
    const pem = readFileSync(r.certFile, 'utf8');
    const x = new X509Certificate(pem);
    expect(x.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(x.subject).toContain('CN=homestack-api');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(altNamesOf(pem)).toEqual({ dns: ['cloud.lan', 'ctl', 'localhost'], ips: ['127.0.0.1', '192.0.2.10'] });
    const again = await ensureApiCertificate(ca, cfg({ public_url: 'https://cloud.lan:8000' }), env);
    expect(again.issued).toBe(false);
    expect(readFileSync(r.certFile, 'utf8')).toBe(pem);
  });

  it('--san adds a name for good: recorded once the certificate carries it, kept by later re-issues', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const r = await ensureApiCertificate(ca, cfg({ public_url: 'https://cloud.lan:8000' }), {
      ...env,
      addSans: ['nas.lan', '203.0.113.9'],
    });
    expect(r.issued).toBe(true);
    expect(readExtraSans(apiCertPaths(ca.dir))).toEqual(['nas.lan', '203.0.113.9']);
    // a new listen address re-issues; the --san names stay
    const moved = await ensureApiCertificate(ca, cfg({ host: '198.51.100.5' }), env);
    expect(moved.issued).toBe(true);
    expect(altNamesOf(readFileSync(moved.certFile, 'utf8'))).toEqual({ dns: ['nas.lan'], ips: ['198.51.100.5', '203.0.113.9'] });
    // a name openssl's config could be tricked with is refused and not recorded
    await expect(ensureApiCertificate(ca, cfg(), { ...env, addSans: ['x\nbasicConstraints=CA:TRUE'] })).rejects.toThrow(
      /bad DNS name/,
    );
    expect(readExtraSans(apiCertPaths(ca.dir))).toEqual(['nas.lan', '203.0.113.9']);
  });

  it("re-issues a certificate of another CA, or one whose key is not the certificate's", async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const paths = apiCertPaths(ca.dir);
    const other = await CertificateAuthority.ensure(join(dir, 'other'), run, { name: 'Other CA' });
    const foreign = await other.issue({
      commonName: 'homestack-api',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usages: ['server'],
    });
    writeFileSync(paths.certFile, foreign.certPem);
    writeFileSync(paths.keyFile, foreign.keyPem);
    expect((await ensureApiCertificate(ca, cfg({ host: '127.0.0.1' }), env)).issued).toBe(true);
    writeFileSync(paths.keyFile, foreign.keyPem);
    expect((await ensureApiCertificate(ca, cfg({ host: '127.0.0.1' }), env)).issued).toBe(true);
    expect((await ensureApiCertificate(ca, cfg({ host: '127.0.0.1' }), env)).issued).toBe(false);
  });
});
