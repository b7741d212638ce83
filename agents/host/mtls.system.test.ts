import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCloud, processesEnabled } from '../../faults/processes/harness.js';
import { until } from '../../faults/processes/util.js';
import { CertificateAuthority } from '../../controller/pki/ca.js';
import { agentConnectOptions, CONTROLLER_CLIENT_CN, readAgentChannelTls } from '../../controller/pki/controller-cert.js';
import { makeRunner } from '../../shared/exec/run.js';

/**
 * Issue 17, item 3 (mutual TLS between the controller and its agents) with real
 * processes (dist/): a controller and an agent (compute + network, the agent's `fake`
 * drivers) set up as an operator does it — `homestack host enrol-local`, nothing about
 * TLS in either config. The agent serves its port with the host certificate enrolment
 * installed and accepts only clients presenting a certificate of the cloud's CA: the
 * controller's own client certificate works; no certificate, a certificate of another
 * CA, and plain HTTP are refused at the handshake (one log line each on the agent); the
 * controller refuses an agent whose certificate does not name the enrolled host; and a
 * server boots and is deleted through the real controller → agent path over mutual TLS.
 */
if (!processesEnabled) console.log('[skip] mutual TLS system test: needs SYSTEM_TESTS=1 and root (real controller and agent)');

const c = new ProcessCloud('mtls', {
  agent: {
    roles: ['compute', 'network'],
    lines: ['heartbeat_s = 2', '[compute]', 'driver = "fake"', '[network]', 'driver = "fake"'],
  },
});
const { run: RUN } = c;
const foreignDir = mkdtempSync(join(tmpdir(), 'hs-mtls-foreign-'));

/** One GET on the agent with the host credential through `connect` (TLS options); the status, or the error's code. */
async function tryGet(connect: Record<string, unknown>): Promise<{ status?: number; code?: string; message?: string }> {
  const dispatcher = new Agent({ connect });
  const secret = readFileSync(join(c.dir, 'agent.key'), 'utf8').trim();
  try {
    const r = await request(`https://127.0.0.1:${c.agentPort}/v1/echo`, {
      headers: { authorization: `Bearer ${secret}` },
      dispatcher,
      headersTimeout: 10_000,
    });
    await r.body.text();
    return { status: r.statusCode };
  } catch (e) {
    const err = e as { code?: string; cause?: { code?: string }; message?: string };
    return { code: err.code ?? err.cause?.code ?? 'error', message: err.message };
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

const agentLog = () => readFileSync(join(c.dir, 'agent.log'), 'utf8');
const refusals = () =>
  agentLog()
    .split('\n')
    .filter((l) => l.includes('refused a TLS connection')).length;

describe.skipIf(!processesEnabled)('mutual TLS between the controller and an agent (real processes)', () => {
  beforeAll(async () => {
    await c.setUp();
  }, 120_000);
  afterAll(async () => {
    await c.close();
    rmSync(foreignDir, { recursive: true, force: true });
  });

  it('the enrolled agent registers an https:// URL; the controller has its client certificate from the CA', () => {
    const [row] = c.q<{ agent_url: string }>('SELECT agent_url FROM hosts WHERE name = ?', c.host);
    expect(row?.agent_url).toBe(`https://127.0.0.1:${c.agentPort}`);
    const tls = readAgentChannelTls(join(c.dir, 'ctl'));
    expect(tls).not.toBeNull();
    expect(tls!.cert).toContain('BEGIN CERTIFICATE');
    expect(agentLog()).toMatch(/"mutualTls":true.*"msg":"agent started"/);
  });

  it("accepts the controller's CA-issued client certificate; refuses no certificate, another CA's, and plain HTTP", async () => {
    const tls = readAgentChannelTls(join(c.dir, 'ctl'))!;
    const ok = await tryGet(agentConnectOptions(tls, c.host));
    expect(ok, JSON.stringify(ok)).toEqual({ status: 200 });

    const before = refusals();
    const none = await tryGet({ ca: [tls.ca], checkServerIdentity: () => undefined });
    expect(none.status, `no client certificate: ${JSON.stringify(none)}`).toBeUndefined();

    // A certificate with the controller's very name, from a CA the cloud never trusted.
    const foreign = await CertificateAuthority.ensure(foreignDir, makeRunner(), { name: 'Rogue CA' });
    const rogue = await foreign.issue({ commonName: CONTROLLER_CLIENT_CN, usages: ['client'] });
    const other = await tryGet({ ca: [tls.ca], cert: rogue.certPem, key: rogue.keyPem, checkServerIdentity: () => undefined });
    expect(other.status, `a client certificate of another CA: ${JSON.stringify(other)}`).toBeUndefined();

    const plain = await fetch(`http://127.0.0.1:${c.agentPort}/v1/echo`).then(
      (r) => ({ status: r.status }),
      (e: Error) => ({ error: e.message }),
    );
    expect(plain, 'plain HTTP on the agent port').not.toHaveProperty('status');

    // each refusal is one clear line in the agent's log
    await until('the agent to log both refusals', () => refusals() >= before + 2, 5_000);
  });

  it('the controller refuses an agent whose certificate names another host', async () => {
    const tls = readAgentChannelTls(join(c.dir, 'ctl'))!;
    const r = await tryGet(agentConnectOptions(tls, `${RUN}-not-this-host`));
    expect(r.status, JSON.stringify(r)).toBeUndefined();
    expect(r.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('boots and deletes a server through the controller → agent path over mutual TLS', async () => {
    const img = await c.api('POST', '/image/v2/images', { name: `${RUN}-img`, disk_format: 'raw', container_format: 'bare' });
    expect(img.status, JSON.stringify(img.body)).toBe(201);
    expect((await c.api('PUT', `/image/v2/images/${img.body.id}/file`, randomBytes(64 * 1024))).status).toBe(204);
    const fl = await c.api('POST', '/compute/v2.1/flavors', { flavor: { name: `${RUN}-tiny`, ram: 64, vcpus: 1, disk: 1 } });
    expect(fl.status, JSON.stringify(fl.body)).toBe(200);
    const net = await c.api('POST', '/network/v2.0/networks', { network: { name: `${RUN}-net` } });
    expect(net.status, JSON.stringify(net.body)).toBe(201);
    const sub = await c.api('POST', '/network/v2.0/subnets', {
      subnet: { network_id: net.body.network.id, cidr: '10.252.0.0/24', ip_version: 4 },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const t0 = Date.now();
    const srv = await c.api('POST', '/compute/v2.1/servers', {
      server: {
        name: `${RUN}-s1`,
        imageRef: img.body.id,
        flavorRef: fl.body.flavor.id,
        networks: [{ uuid: net.body.network.id }],
      },
    });
    expect(srv.status, JSON.stringify(srv.body)).toBe(202);
    const id = srv.body.server.id as string;
    const active = await until(
      'the server ACTIVE',
      async () => {
        const s = (await c.api('GET', `/compute/v2.1/servers/${id}`)).body.server;
        if (s.status === 'ERROR') throw new Error(`server ERROR: ${JSON.stringify(s.fault)}`);
        return s.status === 'ACTIVE' && s;
      },
      60_000,
      300,
    );
    expect(active['OS-EXT-SRV-ATTR:host']).toBe(c.host);
    console.log(`[figures] server ACTIVE over mutual TLS in ${Date.now() - t0} ms`);
    // The agent holds the instance: the spawn reached it over the mutual-TLS channel.
    expect(
      ((await c.agentGet('/v1/compute/instances')) as { instances: { uuid: string }[] }).instances.map((i) => i.uuid),
    ).toContain(id);
    expect((await c.api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await until('the server gone', async () => (await c.api('GET', `/compute/v2.1/servers/${id}`)).status === 404, 60_000, 300);
    expect(((await c.agentGet('/v1/compute/instances')) as { instances: { uuid: string }[] }).instances).toEqual([]);
    // nothing on the channel was refused or failed
    const ctlLog = readFileSync(join(c.dir, 'controller.log'), 'utf8');
    expect(ctlLog).not.toMatch(/ERR_TLS|UNABLE_TO_VERIFY|CERTIFICATE_REQUIRED|refused the controller/i);
  }, 150_000);
});
