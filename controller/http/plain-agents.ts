import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';

/**
 * Agents one release behind during `homestack tls enable` (issue 17): they still call the
 * controller at its `http://` URL with their old agent.toml. With `tls.plain_agents`, the
 * HTTPS port also answers plain HTTP on the same port, for the agents' own channel only
 * (`/internal/v1/…`: register, heartbeat, the metadata proxy); the host credential stays
 * what authenticates them. The first byte of a connection tells the two apart: a TLS
 * handshake starts with a record of type 22 (RFC 8446 §5.1), an HTTP request with a
 * method's letter. Anything else in plain HTTP is refused with 403, so passwords and
 * tokens still cross only TLS. Turn it off once every agent registers an https:// URL.
 */
export const PLAIN_AGENT_PATH = /^\/internal\/v1\//;
const TLS_HANDSHAKE = 0x16;

export interface PlainAgents {
  /** Plain-HTTP requests served (agents not moved yet) and refused (anything else). */
  counts: { served: number; refused: number };
  close(): void;
}

/**
 * Makes the listening HTTPS server also take plain-HTTP agent calls. `server` is the
 * Fastify https.Server (its request listener is the app); call before it listens.
 */
export function acceptPlainAgents(server: TlsServer, log: FastifyBaseLogger): PlainAgents {
  const app = server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  const tlsOnConnection = server.listeners('connection') as Array<(s: Socket) => void>;
  if (!app || tlsOnConnection.length === 0) throw new Error('acceptPlainAgents: not an HTTPS server with a request listener');
  const counts = { served: 0, refused: 0 };
  const plain: HttpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (PLAIN_AGENT_PATH.test(path)) {
      counts.served++;
      app(req, res);
      return;
    }
    counts.refused++;
    log.warn({ method: req.method, path, remote: req.socket.remoteAddress }, 'plain HTTP refused: this port speaks HTTPS');
    res.writeHead(403, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ error: { code: 403, title: 'Forbidden', message: 'This port speaks HTTPS; use https://.' } }));
  });
  const srv = server as unknown as HttpServer;
  plain.keepAliveTimeout = srv.keepAliveTimeout;
  plain.headersTimeout = srv.headersTimeout;
  plain.requestTimeout = srv.requestTimeout;
  plain.timeout = srv.timeout;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.once('data', (first: Buffer) => {
      if (first[0] === TLS_HANDSHAKE) {
        // The TLS socket reads what is buffered first (node's TLSSocket initRead).
        socket.pause();
        socket.unshift(first);
        for (const l of tlsOnConnection) l.call(server, socket);
      } else {
        // http's parser reads the socket's handle itself from now on: hand it the first chunk.
        plain.emit('connection', socket);
        socket.emit('data', first);
      }
    });
  });
  return {
    counts,
    close: () => plain.closeAllConnections(),
  };
}
