import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentLayerOf } from '../../controller/agents/index.js';
import { buildApp } from '../../controller/app.js';
import { migrate } from '../../controller/db/migrate.js';
import { openDb } from '../../controller/db/open.js';
import { CertificateAuthority } from '../../controller/pki/ca.js';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { makeRunner } from '../../shared/exec/run.js';
import { controllerCaFile, controllerTrust, trustForUndici } from './controller-trust.js';
import { ControllerLink } from './link.js';
import { sampleUsage } from './resources.js';

/**
 * An agent reaching a controller that serves HTTPS with the cloud's CA's certificate
 * (issue 17): trusted through the CA installed at enrolment, refused without it or when
 * the controller's certificate comes from another CA.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-ctl-trust-'));
const run = makeRunner();
const SECRET = 'trust-test-secret-0123456789abcdef';
let app: FastifyInstance;
let url = '';
let cloudCa = '';
let rogueCa = '';
let rogueApp: FastifyInstance;
let rogueUrl = '';

async function httpsController(caDir: string, name?: string) {
  const ca = await CertificateAuthority.ensure(caDir, run, name ? { name } : {});
  const c = await ca.issue({ commonName: 'homestack-api', ipAddresses: ['127.0.0.1'], usages: ['server'] });
  const db = openDb(':memory:');
  migrate(db);
  const config = Value.Default(ControllerConfigSchema, { tls: { enabled: true } }) as ControllerConfig;
  const a = await buildApp({ config, db, logger: false, https: { cert: c.certPem, key: c.keyPem } });
  agentLayerOf(a.homestack.deps).hosts.enrol({ name: 'h1', agentUrl: 'http://127.0.0.1:9', secret: SECRET });
  return { app: a, ca: ca.certPem, url: await a.listen({ host: '127.0.0.1', port: 0 }) };
}

beforeAll(async () => {
  ({ app, ca: cloudCa, url } = await httpsController(join(dir, 'cloud-ca')));
  ({ app: rogueApp, ca: rogueCa, url: rogueUrl } = await httpsController(join(dir, 'rogue-ca'), 'Rogue CA'));
});
afterAll(async () => {
  await app.close();
  await rogueApp.close();
  rmSync(dir, { recursive: true, force: true });
});

const agentConfig = (o: Record<string, unknown>) => Value.Default(AgentConfigSchema, o) as AgentConfig;

function link(controllerUrl: string, ca: string[] | undefined, warnings: string[]) {
  return new ControllerLink({
    controllerUrl,
    secret: SECRET,
    log: { info: () => {}, warn: (o: object) => warnings.push(String((o as { err?: Error }).err?.message ?? JSON.stringify(o))) },
    ...(ca ? { ca } : {}),
    registration: async () => ({
      hostname: 'h1',
      roles: [],
      vcpus: 1,
      memory_mb: 1,
      disk_gb: 1,
      hypervisor_type: '',
      agent_version: '0.1.0',
      api_version: 1,
      agent_url: 'http://127.0.0.1:9',
      tunnel_ip: '',
      capabilities: { roles: {}, unavailable_roles: {} },
      usage: sampleUsage('/'),
    }),
    heartbeat: async () => ({ hostname: 'h1', api_version: 1, usage: sampleUsage('/') }),
  });
}

describe("the agent's trust in the controller", () => {
  it('finds the CA: tls.ca_file, else tls/ca.pem beside the credential, else none (the system CAs)', () => {
    const etc = join(dir, 'etc');
    const cfg = agentConfig({ credential_file: join(etc, 'agent.key') });
    expect(controllerCaFile(cfg)).toBeNull();
    expect(controllerTrust(cfg)).toBeUndefined();
    mkdirSync(join(etc, 'tls'), { recursive: true });
    writeFileSync(join(etc, 'tls', 'ca.pem'), cloudCa);
    expect(controllerCaFile(cfg)).toBe(join(etc, 'tls', 'ca.pem'));
    const trust = controllerTrust(cfg)!;
    expect(trust.at(-1)).toBe(cloudCa);
    expect(trust.length).toBeGreaterThan(1); // the system's CAs stay trusted
    expect(() => controllerCaFile(agentConfig({ tls: { ca_file: join(dir, 'missing.pem') } }))).toThrow(/does not exist/);
  });

  it('registers with an HTTPS controller through the cloud CA; refuses it without the CA, and a controller of another CA', async () => {
    const trusted: string[] = [];
    const caFile = join(dir, 'cloud-ca.pem');
    writeFileSync(caFile, cloudCa);
    const ok = link(url, controllerTrust(agentConfig({ tls: { ca_file: caFile } })), trusted);
    await ok.tick();
    expect(ok.registered, trusted.join('\n')).toBe(true);

    const none: string[] = [];
    const noCa = link(url, undefined, none);
    await noCa.tick();
    expect(noCa.registered).toBe(false);
    expect(none.join('\n')).toMatch(/self[- ]signed|unable to (get|verify)/i);

    const rogue: string[] = [];
    const toRogue = link(rogueUrl, [cloudCa], rogue);
    await toRogue.tick();
    expect(toRogue.registered).toBe(false);
    expect(rogue.join('\n')).toMatch(/self[- ]signed|unable to (get|verify)/i);
    expect(rogueCa).not.toBe(cloudCa);
  });

  it("undici's global dispatcher trusts the cloud CA after trustForUndici (image downloads, the metadata proxy)", async () => {
    const before = getGlobalDispatcher();
    try {
      await expect(request(`${url}/identity/v3`)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
      await trustForUndici([cloudCa]);
      expect((await request(`${url}/identity/v3`)).statusCode).toBe(200);
      await expect(request(`${rogueUrl}/identity/v3`)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    } finally {
      setGlobalDispatcher(before);
    }
  });
});
