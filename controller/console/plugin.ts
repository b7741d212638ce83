import websocket from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import { CloudError, NotFound, OverLimit } from '../../shared/errors/index.js';
import { agentLayerOf } from '../agents/index.js';
import { installErrorHandling } from '../http/errors.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { CONSOLE_CSP, TOKEN_PROTOCOL_PREFIX, VNC_CSS, VNC_HTML, VNC_JS } from './page.js';
import { proxyConsole } from './proxy.js';
import { ConsoleTokens, type ConsoleTarget } from './tokens.js';

/** The app's console token store (`deps.extras.consoleTokens`), created on first use. */
export function consoleTokensOf(deps: Pick<ServiceDeps, 'extras' | 'config'>): ConsoleTokens {
  return ((deps.extras.consoleTokens as ConsoleTokens | undefined) ??= new ConsoleTokens({
    ttlMs: deps.config.console.token_ttl_s * 1000,
  }));
}

/** The root of the installed @novnc/novnc package (its `exports` is core/rfb.js). */
const novncRoot = (): string => dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
const NOVNC_FILE = /^(core|vendor)\/[A-Za-z0-9_][A-Za-z0-9_./-]*\.js$/;

/**
 * The token of an upgrade request: the `homestack-token.<token>` subprotocol (what the
 * page sends: not logged) or the `token` query parameter (simple clients, tests).
 */
export function tokenOf(req: FastifyRequest<{ Querystring: { token?: string } }>): string | undefined {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  const p = offered.find((s) => s.startsWith(TOKEN_PROTOCOL_PREFIX));
  return p ? p.slice(TOKEN_PROTOCOL_PREFIX.length) : req.query.token;
}

const page = (reply: FastifyReply, type: string, body: string, cache: string) =>
  reply
    .type(type)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cache)
    .send(body);

/**
 * /console: the noVNC page (vnc.html#token=…, vnc.js, vnc.css), noVNC's own modules
 * from node_modules (/console/novnc/core/…, /console/novnc/vendor/…), and the
 * websocket proxy /console/websocket (Nova's novncproxy), token in the
 * `homestack-token.<token>` subprotocol or `?token=`. The token is checked and burnt
 * before the upgrade (401 otherwise); only a websocket upgrade consumes it. The server
 * answers with the `binary` subprotocol when offered, never with the token one.
 *
 * @fastify/websocket is registered here, in this plugin's scope. It listens to the
 * HTTP server's 'upgrade' events, so it must be registered once per app: another
 * plugin needing websockets should add its routes here rather than register it again.
 */
export function consolePlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    installErrorHandling(app, { style: 'nova' });
    const tokens = consoleTokensOf(deps);
    const maxSessions = deps.config.console.max_sessions;
    let sessions = 0;
    const targets = new WeakMap<FastifyRequest, ConsoleTarget>();
    await app.register(websocket, {
      options: {
        maxPayload: 1024 * 1024,
        perMessageDeflate: false,
        handleProtocols: (offered: Set<string>) => (offered.has('binary') ? 'binary' : false),
      },
    });

    app.get('/vnc.html', async (_req, reply) => page(reply, 'text/html; charset=utf-8', VNC_HTML, 'no-store'));
    app.get('/vnc.js', async (_req, reply) => page(reply, 'text/javascript; charset=utf-8', VNC_JS, 'no-cache'));
    app.get('/vnc.css', async (_req, reply) => page(reply, 'text/css; charset=utf-8', VNC_CSS, 'no-cache'));

    const root = novncRoot();
    const files = new Map<string, Buffer>();
    app.get<{ Params: { '*': string } }>('/novnc/*', async (req, reply) => {
      const rel = req.params['*'];
      const file = resolve(root, rel);
      if (!NOVNC_FILE.test(rel) || rel.split('/').includes('..') || !file.startsWith(root + sep))
        throw new NotFound('The resource could not be found.');
      let body = files.get(rel);
      if (!body) {
        body = await readFile(file).catch(() => {
          throw new NotFound('The resource could not be found.');
        });
        files.set(rel, body);
      }
      return page(reply, 'text/javascript; charset=utf-8', body.toString('utf8'), 'public, max-age=3600');
    });

    app.route<{ Querystring: { token?: string; instance?: string } }>({
      method: 'GET',
      url: '/websocket',
      preValidation: async (req) => {
        // A plain GET (a link preview, a crawler) must not burn the token.
        if (!req.ws) return;
        if (sessions >= maxSessions)
          throw new OverLimit(`${maxSessions} console sessions are open; try again later.`, 'TooManyConsoleSessions', 429);
        targets.set(req, tokens.consume(tokenOf(req), { instanceId: req.query.instance }));
      },
      handler: async () => {
        throw new CloudError(426, 'This is the console websocket: open it with Upgrade: websocket.', 'UpgradeRequired');
      },
      wsHandler: (socket, req) => {
        const target = targets.get(req)!;
        sessions++;
        socket.on('close', () => {
          sessions--;
        });
        const layer = agentLayerOf(deps);
        proxyConsole(socket, target, { hosts: layer.hosts, agents: layer.agents, log: req.log, requestId: req.id });
      },
    });
  };
}
