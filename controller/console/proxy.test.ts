import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sampleSpec } from '../../shared/agent/compute.sample.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { buildAgentApp, type AgentApp } from '../../agents/host/app.js';
import { OpStore } from '../../agents/host/op-store.repo.js';
import { registerComputeRole } from '../../agents/compute/main.js';
import { DisplayHypervisor, FakeDisplay } from '../../agents/compute/testing/vnc.js';
import { agentLayerOf } from '../agents/index.js';
import { buildApp } from '../app.js';
import { migrate } from '../db/migrate.js';
import { openDb, type Db } from '../db/open.js';
import { CONSOLE_CSP } from './page.js';
import { ConsoleTokens } from './tokens.js';

const SECRET = 'console-proxy-test-secret-0123456789';
const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  fatal() {},
  trace() {},
  child() {
    return silent;
  },
  level: 'silent',
  silent() {},
};
const U = sampleSpec.uuid;

interface World {
  app: FastifyInstance;
  agent: AgentApp;
  display: FakeDisplay;
  driver: DisplayHypervisor;
  db: Db;
  dir: string;
  base: string;
  http: string;
  tokens: ConsoleTokens;
  hostId: string;
  clock: { now: number };
}
let w: World | null = null;
afterEach(async () => {
  if (!w) return;
  await w.app.close();
  await agentLayerOf(w.app.homestack.deps).agents.close();
  await w.agent.fastify.close();
  await w.display.stop();
  w.db.close();
  rmSync(w.dir, { recursive: true, force: true });
  w = null;
});

async function world(consoleCfg: Partial<ControllerConfig['console']> = {}): Promise<World> {
  const display = new FakeDisplay();
  const port = await display.start();
  const driver = new DisplayHypervisor(() => port);
  const agent = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  const acfg = Value.Default(AgentConfigSchema, { compute: { driver: 'fake' } }) as never;
  await registerComputeRole(
    agent,
    {
      config: acfg,
      log: silent as never,
      run: new FakeRunner().run,
      hostname: 'h1',
      dataDir: '/x',
      controller: { url: 'http://x', secret: SECRET },
    },
    driver,
  );
  await agent.fastify.listen({ host: '127.0.0.1', port: 0 });
  const agentUrl = `http://127.0.0.1:${(agent.fastify.server.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'hs-console-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    compute: { sync_power_state_s: 0 },
    console: consoleCfg,
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  const clock = { now: Date.now() };
  const tokens = new ConsoleTokens({ ttlMs: 60_000, now: () => clock.now });
  const app = await buildApp({ config, db, logger: false, extras: { consoleTokens: tokens } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const hosts = agentLayerOf(app.homestack.deps).hosts;
  const h = hosts.enrol({ name: 'h1', agentUrl, secret: SECRET });
  hosts.rememberSecret(h.id, SECRET);
  const base = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  w = { app, agent, display, driver, db, dir, base, http: base.replace('ws:', 'http:'), tokens, hostId: h.id, clock };
  return w;
}

const issue = (x: World, instanceId = U) =>
  x.tokens.issue({ instanceId, hostId: x.hostId, projectId: 'p', protocol: 'vnc', type: 'novnc' }).token;

/** Opens a websocket; resolves once open, or with the HTTP status that refused the upgrade. */
function open(url: string, protocols?: string[]): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode, body });
      });
    });
    ws.on('error', reject);
  });
}
const next = (ws: WebSocket) => new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((r) =>
    ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
  );

describe('console websocket proxy', () => {
  it('joins the browser to the display through the agent; closing the browser side closes the display connection', async () => {
    const x = await world();
    await x.driver.spawn(sampleSpec);
    const { ws } = await open(`${x.base}/console/websocket?token=${issue(x)}`);
    expect((await next(ws!)).toString()).toBe('RFB 003.008\n');
    ws!.send(Buffer.from('RFB 003.008\n'));
    expect((await next(ws!)).toString()).toBe('RFB 003.008\n');
    const big = Buffer.alloc(300_000, 7);
    ws!.send(big);
    let got = 0;
    await new Promise<void>((r) => {
      const on = (d: Buffer) => {
        got += d.length;
        if (got >= big.length) {
          ws!.off('message', on);
          r();
        }
      };
      ws!.on('message', on);
    });
    expect(got).toBe(big.length);
    const tcpClosed = new Promise<void>((r) => x.display.sockets[0]!.on('close', () => r()));
    ws!.close(1000);
    await tcpClosed;
  });

  it('takes the token from the homestack-token.<token> subprotocol (what the page sends) and answers "binary"', async () => {
    const x = await world();
    await x.driver.spawn(sampleSpec);
    const t = issue(x);
    const { ws } = await open(`${x.base}/console/websocket`, ['binary', `homestack-token.${t}`]);
    expect(ws!.protocol).toBe('binary');
    expect((await next(ws!)).toString()).toBe('RFB 003.008\n');
    ws!.close();
    expect((await open(`${x.base}/console/websocket`, ['binary', `homestack-token.${t}`])).status).toBe(401);
  });

  it('the display hanging up closes the browser side', async () => {
    const x = await world();
    await x.driver.spawn(sampleSpec);
    const { ws } = await open(`${x.base}/console/websocket?token=${issue(x)}`);
    await next(ws!);
    const c = closed(ws!);
    x.display.sockets[0]!.end();
    expect((await c).code).toBe(1000);
  });

  it('refuses a reused, expired, unknown or other-instance token with 401 before the upgrade', async () => {
    const x = await world();
    await x.driver.spawn(sampleSpec);
    const t = issue(x);
    const first = await open(`${x.base}/console/websocket?token=${t}`);
    first.ws!.close();
    const reused = await open(`${x.base}/console/websocket?token=${t}`);
    expect(reused.status).toBe(401);
    expect(JSON.parse(reused.body!).unauthorized.message).toMatch(/already used/);
    const old = issue(x);
    x.clock.now += 60_001;
    const expired = await open(`${x.base}/console/websocket?token=${old}`);
    expect(expired.status).toBe(401);
    expect(JSON.parse(expired.body!).unauthorized.message).toMatch(/expired/);
    expect((await open(`${x.base}/console/websocket?token=nope`)).status).toBe(401);
    expect((await open(`${x.base}/console/websocket`)).status).toBe(401);
    const other = await open(`${x.base}/console/websocket?token=${issue(x)}&instance=22222222-2222-4222-8222-222222222222`);
    expect(other.status).toBe(401);
    expect(x.display.sockets).toHaveLength(1);
  });

  it("a plain GET does not burn the token (426); a stopped guest closes the websocket with 1011 and the agent's reason", async () => {
    const x = await world();
    await x.driver.spawn(sampleSpec);
    const t = issue(x);
    expect((await fetch(`${x.http}/console/websocket?token=${t}`)).status).toBe(426);
    await x.driver.powerOff(U, { timeoutSec: 0 });
    const { ws } = await open(`${x.base}/console/websocket?token=${t}`);
    const c = await closed(ws!);
    expect(c.code).toBe(1011);
    expect(c.reason).toContain('InvalidState');
  });
});

describe('console sessions', () => {
  it('at most console.max_sessions at once (429 before the upgrade, the token survives), a slot frees on close', async () => {
    const x = await world({ max_sessions: 1 });
    await x.driver.spawn(sampleSpec);
    const a = await open(`${x.base}/console/websocket?token=${issue(x)}`);
    await next(a.ws!);
    const t = issue(x);
    const refused = await open(`${x.base}/console/websocket?token=${t}`);
    expect(refused.status).toBe(429);
    const c = closed(a.ws!);
    a.ws!.close();
    await c;
    await new Promise((r) => setTimeout(r, 50));
    const b = await open(`${x.base}/console/websocket?token=${t}`);
    expect((await next(b.ws!)).toString()).toBe('RFB 003.008\n');
    b.ws!.close();
  });
});

describe('console page', () => {
  it('serves vnc.html, vnc.js and noVNC from node_modules with a CSP; nothing outside core/ and vendor/', async () => {
    const x = await world();
    const page = await fetch(`${x.http}/console/vnc.html`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="vnc.js"></script>');
    expect(html).not.toMatch(/<script>|style=/);
    const js = await (await fetch(`${x.http}/console/vnc.js`)).text();
    expect(js).toContain("import RFB from './novnc/core/rfb.js'");
    const rfb = await fetch(`${x.http}/console/novnc/core/rfb.js`);
    expect(rfb.status).toBe(200);
    expect(rfb.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await rfb.text()).toContain('export default class RFB');
    expect((await fetch(`${x.http}/console/novnc/vendor/pako/lib/zlib/inflate.js`)).status).toBe(200);
    expect((await fetch(`${x.http}/console/novnc/package.json`)).status).toBe(404);
    expect((await fetch(`${x.http}/console/novnc/core/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${x.http}/console/novnc/core/nope.js`)).status).toBe(404);
  });
});
