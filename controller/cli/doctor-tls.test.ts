import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { CertificateAuthority } from '../pki/ca.js';
import { realDoctorDeps } from './doctor.js';
import { apiTlsCheck } from './doctor-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-doctor-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = makeRunner();
const tls = (o: Partial<{ enabled: boolean; cert_file: string; key_file: string }> = {}) => ({
  data_dir: dir,
  tls: { enabled: true, cert_file: '', key_file: '', san: [], plain_agents: false, ...o },
});

describe('doctor: the API port', () => {
  it('warns about plain HTTP with the fix', () => {
    expect(apiTlsCheck(tls({ enabled: false }))).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/plain HTTP/),
      fix: expect.stringMatching(/\[tls\] enabled = true/),
    });
  });

  it("the CA's certificate: ok before it is issued and after; warn within 30 days of its end, fail once it ended", async () => {
    expect(apiTlsCheck(tls()).status).toBe('ok');
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const c = await ca.issue({ commonName: 'homestack-api', ipAddresses: ['127.0.0.1'], usages: ['server'], days: 100 });
    writeFileSync(join(dir, 'pki', 'api.pem'), c.certPem);
    writeFileSync(join(dir, 'pki', 'api.key'), c.keyPem);
    expect(apiTlsCheck(tls())).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^HTTPS with .*api\.pem, until \d{4}/),
    });
    const end = c.notAfter.getTime();
    expect(apiTlsCheck(tls(), end - 10 * 86_400_000)).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/ends in (9|10) days/),
      fix: expect.stringMatching(/homestack ca api-cert --force/),
    });
    expect(apiTlsCheck(tls(), end + 1000)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/ended on/) });
  });

  it('a configured pair whose key is not the certificate’s, or missing, fails', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const a = await ca.issue({ commonName: 'a', usages: ['server'] });
    const b = await ca.issue({ commonName: 'b', usages: ['server'] });
    writeFileSync(join(dir, 'a.pem'), a.certPem);
    writeFileSync(join(dir, 'b.key'), b.keyPem);
    expect(apiTlsCheck(tls({ cert_file: join(dir, 'a.pem'), key_file: join(dir, 'b.key') }))).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/is not the key of/),
    });
    expect(apiTlsCheck(tls({ cert_file: join(dir, 'none.pem'), key_file: join(dir, 'b.key') })).status).toBe('fail');
  });
});

describe('doctor: the controller check over HTTPS', () => {
  it('reaches an https:// controller through the CA the agent trusts; without it the check fails', async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki'), run);
    const c = await ca.issue({ commonName: 'homestack-api', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const server = createServer({ cert: c.certPem, key: c.keyPem }, (_req, res) => res.writeHead(300).end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v3`;
    try {
      const r = await realDoctorDeps([ca.certPem]).fetch(url);
      expect(r.status).toBe(300);
      expect(Date.parse(r.date!)).toBeGreaterThan(0);
      await expect(realDoctorDeps().fetch(url)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    } finally {
      server.close();
    }
  });
});
