import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { altNamesOf } from '../pki/ca.js';
import { enrolLocal } from './hosts.js';

/**
 * `homestack host enrol-local` installs the host's certificate from the cloud's CA beside
 * the credential (issue 17), for every host, whatever its roles, and keeps it next time.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-enrol-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('host enrol-local', () => {
  it("writes the CA and the host's certificate (CN = host name, its addresses) beside the credential", async () => {
    writeFileSync(join(dir, 'controller.toml'), `data_dir = "${dir}/ctl"\n`);
    writeFileSync(
      join(dir, 'agent.toml'),
      [
        'host = "tel-host"',
        'roles = ["compute"]',
        `data_dir = "${dir}/agent"`,
        `credential_file = "${dir}/etc/agent.key"`,
        '[listen]',
        'host = "192.0.2.31"',
        '[compute]',
        'driver = "fake"',
        '',
      ].join('\n'),
    );
    const argv = ['--config', join(dir, 'controller.toml'), '--agent-config', join(dir, 'agent.toml')];
    const said: string[] = [];
    const first = await enrolLocal(argv, (m) => said.push(m));
    expect(first.name).toBe('tel-host');
    expect(first.libvirtTls).toBeNull(); // fake driver: no libvirt
    expect(first.hostTls).toMatchObject({ issued: true, certFile: join(dir, 'etc/tls/host.pem') });
    expect(said.join('\n')).toMatch(/host certificate: issued \(until \d{4}-\d\d-\d\d\) in .*etc\/tls/);
    expect(statSync(join(dir, 'etc/tls/host.key')).mode & 0o777).toBe(0o600);
    const ca = readFileSync(join(dir, 'ctl/pki/ca.pem'), 'utf8');
    expect(readFileSync(join(dir, 'etc/tls/ca.pem'), 'utf8')).toBe(ca);
    const pem = readFileSync(join(dir, 'etc/tls/host.pem'), 'utf8');
    expect(new X509Certificate(pem).checkIssued(new X509Certificate(ca))).toBe(true);
    expect(new X509Certificate(pem).subject).toContain('CN=tel-host');
    expect(altNamesOf(pem)).toEqual({ dns: ['tel-host'], ips: ['192.0.2.31'] });
    const again = await enrolLocal(argv);
    expect(again.hostTls.issued).toBe(false);
    expect(readFileSync(join(dir, 'etc/tls/host.pem'), 'utf8')).toBe(pem);
  });
});
