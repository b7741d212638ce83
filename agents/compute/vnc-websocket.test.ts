import type { AddressInfo } from 'node:net';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { VncWebsocket } from '../../shared/agent/compute.js';
import { sampleSpec } from '../../shared/agent/compute.sample.js';
import { routePath } from '../../shared/agent/contract.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { buildAgentApp, type AgentApp } from '../host/app.js';
import { OpStore } from '../host/op-store.repo.js';
import { registerComputeRole } from './main.js';
import { DisplayHypervisor, FakeDisplay } from './testing/vnc.js';

const SECRET = 'agent-test-secret-0123456789';
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

let a: AgentApp | null = null;
let display: FakeDisplay | null = null;
afterEach(async () => {
  await a?.fastify.close();
  await display?.stop();
  a = null;
  display = null;
});

async function start() {
  display = new FakeDisplay();
  const port = await display.start();
  const driver = new DisplayHypervisor(() => port);
  a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  const config = Value.Default(AgentConfigSchema, { compute: { driver: 'fake' } }) as never;
  await registerComputeRole(
    a,
    {
      config,
      log: silent as never,
      run: new FakeRunner().run,
      hostname: 'h1',
      dataDir: '/x',
      controller: { url: 'http://x', secret: SECRET },
    },
    driver,
  );
  await a.fastify.listen({ host: '127.0.0.1', port: 0 });
  const base = `ws://127.0.0.1:${(a.fastify.server.address() as AddressInfo).port}`;
  return { driver, base, http: base.replace('ws:', 'http:') };
}

/** Opens a websocket; resolves with it once open, or with the HTTP status that refused the upgrade. */
function open(url: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
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

const nextMessage = (ws: WebSocket) => new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));

describe('agent VNC websocket (compute.vnc_websocket)', () => {
  it('pipes binary frames to the display and back, and drops the TCP side when the websocket closes', async () => {
    const { driver, base } = await start();
    await driver.spawn(sampleSpec);
    const url = `${base}${routePath(VncWebsocket.url, { uuid: U })}`;
    const { ws } = await open(url, { authorization: `Bearer ${SECRET}` });
    expect((await nextMessage(ws!)).toString()).toBe('RFB 003.008\n');
    ws!.send(Buffer.from('RFB 003.008\n'));
    expect((await nextMessage(ws!)).toString()).toBe('RFB 003.008\n');
    expect(Buffer.concat(display!.received).toString()).toBe('RFB 003.008\n');
    const tcpClosed = new Promise<void>((r) => display!.sockets[0]!.on('close', () => r()));
    ws!.close();
    await tcpClosed;
  });

  it('closes the websocket when the display hangs up', async () => {
    const { driver, base } = await start();
    await driver.spawn(sampleSpec);
    const { ws } = await open(`${base}${routePath(VncWebsocket.url, { uuid: U })}`, { authorization: `Bearer ${SECRET}` });
    await nextMessage(ws!);
    const closed = new Promise<number>((r) => ws!.on('close', (code) => r(code)));
    display!.sockets[0]!.end();
    expect(await closed).toBe(1000);
  });

  it('closes the websocket with 1011 when the display cannot be reached', async () => {
    const { driver, base } = await start();
    await driver.spawn(sampleSpec);
    await display!.stop();
    const { ws } = await open(`${base}${routePath(VncWebsocket.url, { uuid: U })}`, { authorization: `Bearer ${SECRET}` });
    const c = await new Promise<{ code: number; reason: string }>((r) =>
      ws!.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    expect(c.code).toBe(1011);
    expect(c.reason).toMatch(/ECONNREFUSED/);
    display = null;
  });

  it('refuses before the upgrade: no credential 401, unknown instance 404, stopped 409, bad uuid 400; plain GET 426', async () => {
    const { driver, base, http } = await start();
    const url = `${base}${routePath(VncWebsocket.url, { uuid: U })}`;
    expect((await open(url)).status).toBe(401);
    expect((await open(url, { authorization: 'Bearer wrong-secret-0123456789' })).status).toBe(401);
    const missing = await open(url, { authorization: `Bearer ${SECRET}` });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body!).error.code).toBe('InstanceNotFound');
    await driver.spawn(sampleSpec);
    await driver.powerOff(U, { timeoutSec: 0 });
    const stopped = await open(url, { authorization: `Bearer ${SECRET}` });
    expect(stopped.status).toBe(409);
    expect(JSON.parse(stopped.body!).error.code).toBe('InvalidState');
    expect(
      (await open(`${base}/v1/compute/instances/not-a-uuid/vnc/websocket`, { authorization: `Bearer ${SECRET}` })).status,
    ).toBe(400);
    const plain = await fetch(`${http}${routePath(VncWebsocket.url, { uuid: U })}`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(plain.status).toBe(409);
    await driver.powerOn(U);
    const plain2 = await fetch(`${http}${routePath(VncWebsocket.url, { uuid: U })}`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(plain2.status).toBe(426);
    expect(display!.sockets).toHaveLength(0);
  });
});
