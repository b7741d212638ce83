import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { CertificateAuthority } from '../pki/ca.js';
import { acceptPlainAgents, type PlainAgents } from './plain-agents.js';

/**
 * One port, two protocols (tls.plain_agents): a real listening HTTPS Fastify server
 * taking TLS for everything and plain HTTP for /internal/v1/ only, keep-alive and large
 * bodies included.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-plain-agents-'));
let app: FastifyInstance;
let plain: PlainAgents;
let https: Agent;
let base = '';

beforeAll(async () => {
  const ca = await CertificateAuthority.ensure(dir, makeRunner());
  const leaf = await ca.issue({ commonName: 'api', ipAddresses: ['127.0.0.1'], usages: ['server'] });
  app = Fastify({ https: { cert: leaf.certPem, key: leaf.keyPem } } as object);
  app.get('/internal/v1/echo', async (r) => ({ protocol: r.protocol }));
  app.post('/internal/v1/echo', async (r) => ({ size: JSON.stringify(r.body).length }));
  app.get('/identity/', async (r) => ({ protocol: r.protocol }));
  await app.ready();
  plain = acceptPlainAgents(app.server as unknown as TlsServer, app.log);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
  https = new Agent({ connect: { ca: ca.certPem } });
});
afterAll(async () => {
  await https?.close();
  plain?.close();
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('acceptPlainAgents', () => {
  it('serves TLS to everything on the port', async () => {
    for (const path of ['/identity/', '/internal/v1/echo']) {
      const r = await request(`https://${base}${path}`, { dispatcher: https });
      expect(r.statusCode).toBe(200);
      expect(await r.body.json()).toEqual({ protocol: 'https' });
    }
  });

  it("takes plain HTTP on the agents' channel, over one kept-alive connection, with a large body", async () => {
    const d = new Agent({ connections: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const g = await request(`http://${base}/internal/v1/echo`, { dispatcher: d });
        expect(await g.body.json()).toEqual({ protocol: 'http' });
        const p = await request(`http://${base}/internal/v1/echo`, {
          method: 'POST',
          dispatcher: d,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ a: 'x'.repeat(200_000) }),
        });
        expect(await p.body.json()).toEqual({ size: 200_008 });
      }
    } finally {
      await d.close();
    }
  });

  it('refuses plain HTTP anywhere else with 403, never reaching the app', async () => {
    const before = plain.counts.refused;
    const r = await request(`http://${base}/identity/`);
    expect(r.statusCode).toBe(403);
    expect(((await r.body.json()) as { error: { message: string } }).error.message).toMatch(/speaks HTTPS/);
    const v = await request(`http://${base}/internal/v2/x`);
    await v.body.text();
    expect(v.statusCode).toBe(403);
    expect(plain.counts.refused).toBe(before + 2);
  });
});
