import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCloud, processesEnabled } from '../../faults/processes/harness.js';
import { until } from '../../faults/processes/util.js';

/**
 * Issue 17, item 3's upgrade: `homestack tls enable` on a cloud installed before TLS
 * (real processes from dist/: a controller and an agent with the `fake` drivers, both
 * plain HTTP, no CA, no host certificate). After the command and a controller restart
 * the API answers over HTTPS with the cloud's CA (catalog https://, plain HTTP refused
 * but for the agents' channel); the agent still running with its old config (N-1:
 * http:// controller_url, plain port) keeps heartbeating and serving the controller's
 * calls; once restarted (moved by the command) it serves mutual TLS, registers https://
 * and serves a server boot as well.
 */
if (!processesEnabled) console.log('[skip] tls enable system test: needs SYSTEM_TESTS=1 and root (real controller and agent)');

const c = new ProcessCloud('tlsen', {
  agent: {
    roles: ['compute', 'network'],
    lines: ['heartbeat_s = 2', '[compute]', 'driver = "fake"', '[network]', 'driver = "fake"'],
  },
  // A cloud from before TLS: no CA, no host certificate.
  afterEnrol: (cloud) => {
    rmSync(join(cloud.dir, 'tls'), { recursive: true, force: true });
    rmSync(join(cloud.dir, 'ctl', 'pki'), { recursive: true, force: true });
  },
});
const { run: RUN } = c;
let https: Agent | null = null;
let token = '';

const httpsBase = () => `https://127.0.0.1:${c.port}`;

/** An API call over HTTPS trusting only the cloud's CA. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: any }> {
  const r = await request(`${httpsBase()}${path}`, {
    method: method as 'GET',
    dispatcher: https!,
    headers: {
      ...(token ? { 'x-auth-token': token } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    headersTimeout: 20_000,
  });
  const text = await r.body.text();
  return { status: r.statusCode, body: text ? JSON.parse(text) : null, headers: r.headers };
}

const host = () =>
  c.q<{ agent_url: string; state: string; last_heartbeat_at: string }>(
    'SELECT agent_url, state, last_heartbeat_at FROM hosts WHERE name = ?',
    c.host,
  )[0]!;

/** A heartbeat newer than `since` (ISO) arrived. */
const beatAfter = (since: string) =>
  until('a heartbeat', () => host().last_heartbeat_at > since && host().state === 'up', 20_000);

/** Boots a server on the agent and deletes it: the controller → agent path works. */
async function bootAndDelete(net: string, img: string, flavor: string, name: string): Promise<void> {
  const srv = await api('POST', '/compute/v2.1/servers', {
    server: { name, imageRef: img, flavorRef: flavor, networks: [{ uuid: net }] },
  });
  expect(srv.status, JSON.stringify(srv.body)).toBe(202);
  const id = srv.body.server.id as string;
  await until(
    `${name} ACTIVE`,
    async () => {
      const s = (await api('GET', `/compute/v2.1/servers/${id}`)).body.server;
      if (s.status === 'ERROR') throw new Error(`server ERROR: ${JSON.stringify(s.fault)}`);
      return s.status === 'ACTIVE';
    },
    60_000,
    300,
  );
  expect(
    ((await c.agentGet('/v1/compute/instances')) as { instances: { uuid: string }[] }).instances.map((i) => i.uuid),
  ).toContain(id);
  expect((await api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
  await until(`${name} gone`, async () => (await api('GET', `/compute/v2.1/servers/${id}`)).status === 404, 60_000, 300);
}

describe.skipIf(!processesEnabled)('homestack tls enable on a plain-HTTP cloud (real processes)', () => {
  const ids = { net: '', img: '', flavor: '' };
  beforeAll(async () => {
    await c.setUp();
  }, 120_000);
  afterAll(async () => {
    await https?.close();
    await c.close();
  });

  it('starts as a pre-TLS cloud: plain API, plain agent', async () => {
    expect(host().agent_url).toBe(`http://127.0.0.1:${c.agentPort}`);
    expect((await fetch(`${c.base}/identity/`)).status).toBe(300); // the version list
  });

  it('tls enable writes the configs and the catalog; after a controller restart the API is HTTPS with the CA', async () => {
    const r = c.cli('tls', 'enable');
    expect(r.code, r.err + r.out).toBe(0);
    const ctl = parseToml(readFileSync(join(c.dir, 'controller.toml'), 'utf8')) as any;
    expect(ctl.tls).toEqual({ enabled: true, plain_agents: true });
    expect(ctl.public_url).toBe(httpsBase());
    const agentToml = parseToml(readFileSync(join(c.dir, 'agent.toml'), 'utf8')) as any;
    expect(agentToml.controller_url).toBe(httpsBase());
    // the command is idempotent
    expect(c.cli('tls', 'enable').code).toBe(0);

    await c.kill9('controller');
    c.start('controller');
    https = new Agent({ connect: { ca: readFileSync(join(c.dir, 'ctl', 'pki', 'ca.pem'), 'utf8') } });
    await until(
      'the controller to listen on HTTPS',
      async () => (await api('GET', '/identity/').catch(() => ({ status: 0 }))).status === 300,
      60_000,
    );
    const login = await api('POST', '/identity/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password: c.password } },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    expect(login.status).toBe(201);
    token = login.headers['x-subject-token'];
    const urls = (login.body.token.catalog as { endpoints: { url: string }[] }[]).flatMap((s) => s.endpoints.map((e) => e.url));
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u.startsWith(`${httpsBase()}/`), u).toBe(true);
    // Plain HTTP on the port: refused but for the agents' channel.
    expect((await fetch(`${c.base}/identity/`)).status).toBe(403);
    expect((await fetch(`${c.base}/identity/v3/auth/tokens`, { method: 'POST', body: '{}' })).status).toBe(403);
  }, 120_000);

  it('the agent still running its old config (N-1: http://) keeps heartbeating and serving', async () => {
    expect(host().agent_url).toBe(`http://127.0.0.1:${c.agentPort}`);
    await beatAfter(new Date().toISOString());
    const img = await api('POST', '/image/v2/images', { name: `${RUN}-img`, disk_format: 'raw', container_format: 'bare' });
    expect(img.status, JSON.stringify(img.body)).toBe(201);
    const put = await request(`${httpsBase()}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      dispatcher: https!,
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(64 * 1024, 1),
    });
    await put.body.text();
    expect(put.statusCode).toBe(204);
    const fl = await api('POST', '/compute/v2.1/flavors', { flavor: { name: `${RUN}-tiny`, ram: 64, vcpus: 1, disk: 1 } });
    const net = await api('POST', '/network/v2.0/networks', { network: { name: `${RUN}-net` } });
    const sub = await api('POST', '/network/v2.0/subnets', {
      subnet: { network_id: net.body.network.id, cidr: '10.253.0.0/24', ip_version: 4 },
    });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    Object.assign(ids, { net: net.body.network.id, img: img.body.id, flavor: fl.body.flavor.id });
    await bootAndDelete(ids.net, ids.img, ids.flavor, `${RUN}-old`);
    // It lost the controller only while it restarted, and found it again in plain HTTP.
    const log = readFileSync(join(c.dir, 'agent.log'), 'utf8');
    expect(log.lastIndexOf('cannot reach the controller')).toBeLessThan(log.lastIndexOf('the controller is reachable again'));
  }, 150_000);

  it('the moved agent, restarted, serves mutual TLS, registers https:// and works', async () => {
    await c.kill9('agent');
    const since = new Date().toISOString();
    c.start('agent');
    await until('the agent to register https://', () => host().agent_url === `https://127.0.0.1:${c.agentPort}`, 30_000);
    await beatAfter(since);
    await until(
      'the agent to serve mutual TLS',
      () => /"mutualTls":true.*"msg":"agent started"/.test(readFileSync(join(c.dir, 'agent.log'), 'utf8')),
      30_000,
    );
    await bootAndDelete(ids.net, ids.img, ids.flavor, `${RUN}-moved`);
    // SIGHUP: the agent channel's client certificate re-read (new pools), still working
    c.procs.controller!.kill('SIGHUP');
    await until(
      'the client certificate reloaded',
      () => /agent channel's client certificate reloaded/.test(readFileSync(join(c.dir, 'controller.log'), 'utf8')),
      10_000,
    );
    await bootAndDelete(ids.net, ids.img, ids.flavor, `${RUN}-after-hup`);
    const ctlLog = readFileSync(join(c.dir, 'controller.log'), 'utf8');
    expect(ctlLog).not.toMatch(/ERR_TLS|UNABLE_TO_VERIFY|CERTIFICATE_REQUIRED|refused the controller/i);
  }, 150_000);
});
