import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { createConnection, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { VncWebsocket } from '../../shared/agent/compute.js';
import { BadRequest, CloudError } from '../../shared/errors/index.js';
import type { AgentApp } from '../host/app.js';
import type { HypervisorDriver } from './driver.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Stop reading from one side while this much is queued for the other. */
const HIGH_WATER = 4 * 1024 * 1024;
/** RFB client messages are small; a framebuffer update only goes the other way. */
const MAX_CLIENT_FRAME = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5000;

type Target = { host: string; port: number };

/**
 * Pipes one websocket to a TCP endpoint both ways (binary frames ↔ bytes), with
 * backpressure: a side is paused while the other has more than HIGH_WATER queued.
 * Either side closing closes the other. Exported for the unit test.
 */
export function pipeWebsocketToTcp(ws: WebSocket, target: Target, log: Pick<FastifyBaseLogger, 'info' | 'warn'>): Socket {
  const tcp = createConnection({ host: target.host, port: target.port });
  tcp.setNoDelay(true);
  tcp.setTimeout(CONNECT_TIMEOUT_MS, () => {
    if (tcp.connecting) tcp.destroy(new Error(`connect to ${target.host}:${target.port} timed out`));
  });
  let closed = false;
  const closeWs = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    ws.resume(); // a paused socket would never read the answering close frame
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason.slice(0, 120));
  };
  ws.pause(); // nothing to forward before the display answers
  tcp.on('connect', () => {
    tcp.setTimeout(0);
    ws.resume();
  });
  tcp.on('data', (chunk: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(chunk, { binary: true }, () => {
      if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER) tcp.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) tcp.pause();
  });
  ws.on('message', (data: Buffer) => {
    if (tcp.destroyed) return;
    if (!tcp.write(data)) {
      ws.pause();
      tcp.once('drain', () => ws.resume());
    }
  });
  tcp.on('error', (e) => {
    log.warn({ err: e.message, target: `${target.host}:${target.port}` }, 'VNC display connection failed');
    closeWs(1011, `VNC display: ${e.message}`);
  });
  tcp.on('close', () => closeWs(1000, 'VNC display closed the connection'));
  ws.on('close', () => {
    closed = true;
    tcp.destroy();
  });
  ws.on('error', () => tcp.destroy());
  return tcp;
}

/**
 * The VncWebsocket route (shared/agent/compute.ts). The display is looked up before the
 * upgrade (preValidation), so a stopped or unknown instance is refused with the agent's
 * error document instead of an opened-then-closed websocket. The host credential is
 * checked by the app's onRequest hook like every other route.
 *
 * @fastify/websocket is registered inside its own child scope; it listens to the
 * server's 'upgrade' events and routes them through fastify, so this is the only
 * place on the agent that may register it.
 */
export function registerVncWebsocket(agent: AgentApp, d: HypervisorDriver): void {
  // The display found before the upgrade, for the websocket handler.
  const targets = new WeakMap<FastifyRequest, Target>();
  void agent.fastify.register(async (scope) => {
    await scope.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME, perMessageDeflate: false } });
    // An upgrade refused by a hook that ran before the websocket plugin's own (the
    // credential check) leaves the raw socket open after the HTTP answer: close it.
    scope.addHook('onResponse', async (req) => {
      if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return;
      const s = req.raw.socket;
      if (s && !s.destroyed) {
        s.end();
        setTimeout(() => s.destroy(), 1000).unref();
      }
    });
    scope.route<{ Params: { uuid: string } }>({
      method: 'GET',
      url: VncWebsocket.url,
      preValidation: async (req) => {
        const { uuid } = req.params;
        if (!UUID_RE.test(uuid)) throw new BadRequest(`${VncWebsocket.name}: '${uuid}' is not an instance uuid`);
        targets.set(req, await d.vncConsole(uuid));
      },
      handler: async () => {
        throw new CloudError(426, 'This route is a websocket: send Upgrade: websocket.', 'UpgradeRequired');
      },
      wsHandler: (socket, req) => {
        const target = targets.get(req)!;
        req.log.info({ instance: req.params.uuid, vnc: `${target.host}:${target.port}` }, 'VNC websocket opened');
        const tcp = pipeWebsocketToTcp(socket, target, req.log);
        tcp.on('close', () => req.log.info({ instance: req.params.uuid }, 'VNC websocket closed'));
      },
    });
  });
}
