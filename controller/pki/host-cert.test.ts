import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { altNamesOf, CertificateAuthority } from './ca.js';
import { hostTlsPaths, installHostCertificate } from './host-cert.js';
import type { HostOps } from './install.js';
import { localHostOps } from './local-host.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-hostcert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = makeRunner();

/** A host as a map of files, recording each write. */
function memoryHost() {
  const files = new Map<string, { content: string; mode: number }>();
  const writes: string[] = [];
  const ops: Pick<HostOps, 'read' | 'write'> = {
    read: async (p) => files.get(p)?.content ?? null,
    write: async (f) => {
      writes.push(f.path);
      files.set(f.path, { content: f.content, mode: f.mode });
    },
  };
  return { files, writes, ops };
}

describe('installHostCertificate', () => {
  it("writes the CA, the host's key (0600) and certificate on this machine, for server and client use", async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const etc = join(dir, 'etc-local');
    const r = await installHostCertificate(ca, { name: 'host-a', addresses: ['192.0.2.11'] }, localHostOps(run), etc);
    expect(r).toMatchObject({ issued: true, caWritten: true, ...hostTlsPaths(etc) });
    expect(statSync(r.keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(r.certFile).mode & 0o777).toBe(0o644);
    expect(readFileSync(r.caFile, 'utf8')).toBe(ca.certPem);
    const pem = readFileSync(r.certFile, 'utf8');
    const x = new X509Certificate(pem);
    expect(x.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(x.subject).toContain('CN=host-a');
    expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(altNamesOf(pem)).toEqual({ dns: ['host-a'], ips: ['192.0.2.11'] });
    expect(x.checkPrivateKey(createPrivateKey(readFileSync(r.keyFile)))).toBe(true);
    const again = await installHostCertificate(ca, { name: 'host-a', addresses: ['192.0.2.11'] }, localHostOps(run), etc);
    expect(again).toMatchObject({ issued: false, caWritten: false, notAfter: null });
    expect(readFileSync(r.certFile, 'utf8')).toBe(pem);
  });

  it('under a prefix (host add tests), re-issues for a new address, a foreign certificate or a key that does not match', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const h = memoryHost();
    const first = await installHostCertificate(
      ca,
      { name: 'host-b', addresses: ['192.0.2.12'] },
      h.ops,
      '/etc/homestack',
      '/srv/t1',
    );
    expect(h.writes).toEqual([
      '/srv/t1/etc/homestack/tls/ca.pem',
      '/srv/t1/etc/homestack/tls/host.key',
      '/srv/t1/etc/homestack/tls/host.pem',
    ]);
    expect(h.files.get('/srv/t1/etc/homestack/tls/host.key')?.mode).toBe(0o600);
    expect(first.certFile).toBe('/etc/homestack/tls/host.pem'); // the host's own path, without the prefix
    h.writes.length = 0;
    const moved = await installHostCertificate(
      ca,
      { name: 'host-b', addresses: ['192.0.2.12', '198.51.100.12'] },
      h.ops,
      '/etc/homestack',
      '/srv/t1',
    );
    expect(moved.issued).toBe(true);
    expect(h.writes).toEqual(['/srv/t1/etc/homestack/tls/host.key', '/srv/t1/etc/homestack/tls/host.pem']);
    expect(altNamesOf(h.files.get('/srv/t1/etc/homestack/tls/host.pem')!.content).ips).toEqual(['192.0.2.12', '198.51.100.12']);
    // the key of another certificate: re-issued
    const other = await ca.issue({ commonName: 'x', usages: ['client'] });
    h.files.set('/srv/t1/etc/homestack/tls/host.key', { content: other.keyPem, mode: 0o600 });
    expect(
      (await installHostCertificate(ca, { name: 'host-b', addresses: ['192.0.2.12'] }, h.ops, '/etc/homestack', '/srv/t1'))
        .issued,
    ).toBe(true);
    // another CA's certificate (and CA file): both replaced
    const rogue = await CertificateAuthority.ensure(join(dir, 'rogue'), run, { name: 'Rogue CA' });
    const fake = await rogue.issue({
      commonName: 'host-b',
      dnsNames: ['host-b'],
      ipAddresses: ['192.0.2.12'],
      usages: ['server', 'client'],
    });
    h.files.set('/srv/t1/etc/homestack/tls/host.pem', { content: fake.certPem, mode: 0o644 });
    h.files.set('/srv/t1/etc/homestack/tls/host.key', { content: fake.keyPem, mode: 0o600 });
    h.files.set('/srv/t1/etc/homestack/tls/ca.pem', { content: rogue.certPem, mode: 0o644 });
    const fixed = await installHostCertificate(
      ca,
      { name: 'host-b', addresses: ['192.0.2.12'] },
      h.ops,
      '/etc/homestack',
      '/srv/t1',
    );
    expect(fixed).toMatchObject({ issued: true, caWritten: true });
    expect(ca.isCurrent(h.files.get('/srv/t1/etc/homestack/tls/host.pem')!.content)).toBe(true);
  });

  it('refuses a host name that could inject into the subject', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const h = memoryHost();
    await expect(installHostCertificate(ca, { name: 'a/CN=evil', addresses: [] }, h.ops, '/etc/homestack')).rejects.toThrow(
      /bad/,
    );
    expect(h.writes).toEqual([]);
  });
});
