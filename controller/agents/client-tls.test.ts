import { writeFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { Echo } from '../../shared/agent/host.js';
import { makeRunner } from '../../shared/exec/run.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { CertificateAuthority } from '../pki/ca.js';
import {
  CONTROLLER_CLIENT_CN,
  controllerClientPaths,
  readAgentChannelTls,
  renewControllerClientCert,
} from '../pki/controller-cert.js';
import { AgentClients } from './client.js';
import { HostRegistry } from './registry.js';

/**
 * Renewing the controller's client certificate without a restart (issue 17): a real
 * mutual-TLS agent stand-in (node https, only the cloud's CA's client certificates)
 * records the certificate each call presents; after the renewal check re-issues it and
 * `reloadTls()`, the next call presents the new one.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-client-tls-'));
const pki = join(dir, 'pki');
const run = makeRunner();
let ca: CertificateAuthority;
let server: Server;
let clients: AgentClients;
const presented: string[] = [];

beforeAll(async () => {
  ca = await CertificateAuthority.ensure(pki, run);
  // The current client certificate ends in 10 days: the renewal check will replace it.
  const short = await ca.issue({ commonName: CONTROLLER_CLIENT_CN, usages: ['client'], days: 10 });
  writeFileSync(controllerClientPaths(pki).keyFile, short.keyPem, { mode: 0o600 });
  writeFileSync(controllerClientPaths(pki).certFile, short.certPem);
  const leaf = await ca.issue({ commonName: 'h1', dnsNames: ['h1'], ipAddresses: ['127.0.0.1'], usages: ['server'] });
  server = createServer(
    { cert: leaf.certPem, key: leaf.keyPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      presented.push((req.socket as TLSSocket).getPeerCertificate().fingerprint256);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'hi', op_id: null, executed_at: new Date().toISOString() }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const db = openDb(':memory:');
  migrate(db);
  const config = Value.Default(ControllerConfigSchema, { data_dir: dir }) as ControllerConfig;
  const reg = new HostRegistry(db, config);
  const secret = 'a'.repeat(64);
  const h = reg.enrol({ name: 'h1', agentUrl: `https://127.0.0.1:${port}`, secret });
  reg.rememberSecret(h.id, secret);
  clients = new AgentClients(reg, { tls: () => readAgentChannelTls(dir) });
});
afterAll(async () => {
  await clients?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const onDisk = () => new X509Certificate(readFileSync(controllerClientPaths(pki).certFile)).fingerprint256;

describe("the controller's client certificate, renewed without a restart", () => {
  it('is re-issued by the renewal check and presented to agents after reloadTls()', async () => {
    const before = onDisk();
    await clients.call('h1', Echo, { message: 'one' });
    expect(presented.at(-1)).toBe(before);

    expect(await renewControllerClientCert(pki, async () => ca)).toBe(true);
    const after = onDisk();
    expect(after).not.toBe(before);
    expect(await renewControllerClientCert(pki, async () => ca)).toBe(false); // good for 825 days now

    // The pool in use still carries the old one until told.
    await clients.call('h1', Echo, { message: 'two' });
    expect(presented.at(-1)).toBe(before);
    expect(clients.reloadTls(0)).toBe(1);
    await clients.call('h1', Echo, { message: 'three' });
    expect(presented.at(-1)).toBe(after);
  });

  it('has nothing to renew where the cloud has no CA', async () => {
    expect(await renewControllerClientCert(join(dir, 'none'), async () => ca)).toBe(false);
  });
});
