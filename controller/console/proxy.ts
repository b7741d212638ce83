import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, type RawData } from 'ws';
import { VncWebsocket } from '../../shared/agent/compute.js';
import { routePath } from '../../shared/agent/contract.js';
import { parseAgentErrorBody } from '../agents/errors.js';
import type { AgentClients } from '../agents/client.js';
import type { HostRegistry } from '../agents/registry.js';
import type { ConsoleTarget } from './tokens.js';

/** Stop reading one side while this much is queued for the other. */
const HIGH_WATER = 4 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Close codes that may be sent in a close frame (1005/1006/1015 may not). */
const sendable = (code: number): boolean =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
const short = (s: string): string => Buffer.from(s).subarray(0, 120).toString();

/** Forwards messages from `src` to `dst`, pausing `src` while `dst` has too much queued. */
function forward(src: WebSocket, dst: WebSocket): void {
  src.on('message', (data: RawData, isBinary: boolean) => {
    if (dst.readyState !== WebSocket.OPEN) return;
    dst.send(data, { binary: isBinary }, () => {
      if (src.isPaused && dst.bufferedAmount < HIGH_WATER && src.readyState === WebSocket.OPEN) src.resume();
    });
    if (dst.bufferedAmount >= HIGH_WATER) src.pause();
  });
}

/** The agent's websocket URL for an instance's display (http → ws). */
export function agentVncUrl(agentUrl: string, instanceId: string): string {
  const u = new URL(agentUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = routePath(VncWebsocket.url, { uuid: instanceId });
  u.search = '';
  return u.toString();
}

/**
 * Nova's novncproxy, in-process: `client` (the browser, already upgraded and holding a
 * consumed token) is joined to the compute agent's VncWebsocket route with the host's
 * credential. Frames go both ways unchanged; when either side closes, the other is
 * closed with the same code (or 1011 when the agent refused or could not be reached,
 * with the reason in the close frame). The browser side is paused until the agent
 * side is open.
 */
export function proxyConsole(
  client: WebSocket,
  target: ConsoleTarget,
  o: { hosts: HostRegistry; agents?: Pick<AgentClients, 'connectOptionsFor'>; log: FastifyBaseLogger; requestId: string },
): void {
  client.pause();
  const fail = (why: string) => {
    o.log.warn({ instance: target.instanceId, host: target.hostId, why }, 'console proxy: no connection to the display');
    // A paused socket never reads the peer's answering close frame: resume first.
    client.resume();
    if (client.readyState === WebSocket.OPEN) client.close(1011, short(why));
  };
  const host = o.hosts.find(target.hostId);
  const secret = host ? o.hosts.secretOf(host.id) : undefined;
  if (!host || !host.agent_url) return fail("the server's host is not known");
  if (!secret) return fail(`the controller has not heard from host ${host.name} since it started`);

  const agent = new WebSocket(agentVncUrl(host.agent_url, target.instanceId), {
    headers: { authorization: `Bearer ${secret}`, 'x-openstack-request-id': o.requestId },
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
    // An https:// agent: mutual TLS as for every other call (the cloud's CA, the controller's client certificate).
    ...(o.agents?.connectOptionsFor(host) ?? {}),
  });
  agent.on('unexpected-response', (req, res) => {
    let text = '';
    res.on('data', (c: Buffer) => {
      if (text.length < 4096) text += c.toString();
    });
    res.on('end', () => {
      req.destroy();
      const e = parseAgentErrorBody(res.statusCode ?? 500, text);
      fail(`${host.name}: ${e.code}: ${e.message}`);
    });
  });
  agent.on('error', (e) => {
    fail(`${host.name}: ${e.message}`);
    agent.terminate();
  });
  agent.on('open', () => {
    if (client.readyState !== WebSocket.OPEN) return agent.close(1001, 'browser went away');
    o.log.info({ instance: target.instanceId, host: host.name }, 'console session opened');
    forward(client, agent);
    forward(agent, client);
    client.resume();
  });
  agent.on('close', (code, reason) => {
    client.resume();
    if (client.readyState === WebSocket.OPEN)
      client.close(sendable(code) ? code : 1011, short(reason.toString() || 'the display closed'));
    o.log.info({ instance: target.instanceId, host: host.name, code }, 'console session closed');
  });
  client.on('close', (code, reason) => {
    agent.resume();
    if (agent.readyState === WebSocket.OPEN) agent.close(sendable(code) ? code : 1000, short(reason.toString()));
    else if (agent.readyState === WebSocket.CONNECTING) agent.terminate();
  });
  client.on('error', () => agent.terminate());
}
