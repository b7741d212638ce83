import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { CertificateAuthority } from './ca.js';
import {
  agentConnectOptions,
  CONTROLLER_CLIENT_CN,
  controllerClientPaths,
  ensureControllerClientCert,
  readAgentChannelTls,
} from './controller-cert.js';
import { hostCertRequest } from './libvirt-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-ctlcert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = makeRunner();

describe("the controller's client certificate for the agent channel", () => {
  it('is issued once beside the CA (client use only, key 0600), kept while good, re-issued for a new CA', async () => {
    const pki = join(dir, 'data', 'pki');
    expect(readAgentChannelTls(join(dir, 'data'))).toBeNull();
    const ca = await CertificateAuthority.ensure(pki, run);
    expect(await ensureControllerClientCert(ca)).toBe(true);
    const p = controllerClientPaths(pki);
    expect(statSync(p.keyFile).mode & 0o777).toBe(0o600);
    const x = new X509Certificate(readFileSync(p.certFile, 'utf8'));
    expect(x.subject).toContain(`CN=${CONTROLLER_CLIENT_CN}`);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only: it cannot serve as an agent
    expect(x.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(await ensureControllerClientCert(ca)).toBe(false);
    const tls = readAgentChannelTls(join(dir, 'data'))!;
    expect(tls.ca).toBe(ca.certPem);
    expect(tls.cert).toBe(readFileSync(p.certFile, 'utf8'));

    // a restored or rotated CA: the certificate of the old one is replaced
    rmSync(join(pki, 'ca.pem'));
    rmSync(join(pki, 'ca.key'));
    const ca2 = await CertificateAuthority.ensure(pki, run);
    expect(await ensureControllerClientCert(ca2)).toBe(true);
    expect(new X509Certificate(readFileSync(p.certFile, 'utf8')).checkIssued(new X509Certificate(ca2.certPem))).toBe(true);
  }, 30_000);

  it("checks the agent's certificate against the enrolled host name, not the address dialled", async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'pki2'), run);
    const want = hostCertRequest('host-a', ['192.0.2.11']);
    const host = await ca.issue({ ...want, usages: [...want.usages] });
    const peer = new X509Certificate(host.certPem).toLegacyObject();
    const tls = { ca: ca.certPem, cert: '', key: '' };
    expect(agentConnectOptions(tls, 'host-a').checkServerIdentity('192.0.2.11', peer)).toBeUndefined();
    const wrong = agentConnectOptions(tls, 'host-b').checkServerIdentity('192.0.2.11', peer);
    expect((wrong as Error & { code?: string })?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  }, 30_000);
});
