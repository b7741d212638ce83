import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import { OP_ID_HEADER, type AgentRoute, type BodyOf, type ReplyOf } from '../../shared/agent/contract.js';
import { CloudError } from '../../shared/errors/index.js';
import { loggerOptions } from '../../shared/log/options.js';
import { newRequestId } from '../../shared/util/ids.js';
import { installAgentAuth } from './auth.js';
import type { OpStore, StoredReply } from './op-store.repo.js';

/** What a handler may throw to say "try again later" (the dispatcher retries). */
export interface MaybeRetryable {
  retryable?: boolean;
}

export type RouteHandler<R extends AgentRoute> = (body: BodyOf<R>, req: FastifyRequest) => Promise<ReplyOf<R>>;

/**
 * The agent's HTTP app as roles see it. A role module registers its descriptors from
 * shared/agent/<role>.ts: `agent.route(SpawnInstance, async (body) => driver.spawn(...))`.
 * The body arrives validated against the descriptor (400 otherwise), the reply is
 * checked against it (a mismatch is a 500 BadAgentReply: a bug, caught in tests),
 * errors become `{"error":{"code","message","retryable"}}`, and a call carrying an op
 * id runs at most once (the idempotency store).
 */
export interface AgentApp {
  readonly fastify: FastifyInstance;
  readonly log: FastifyBaseLogger;
  route<R extends AgentRoute>(r: R, handler: RouteHandler<R>): void;
  /** Names of the routes registered so far (for tests and the health route). */
  readonly routes: string[];
  /**
   * Admission checks for routes that carry their own credential instead of the host's
   * (the transfer of a file to another agent under a one-time token). Each check must
   * answer false for every URL but its own.
   */
  readonly altAuth: Array<(req: FastifyRequest) => boolean>;
}

export interface AgentAppOptions {
  secret: string;
  opStore: OpStore;
  logLevel?: string;
  /** A pino logger, `false` for silence (tests), undefined for JSON lines on stdout. */
  logger?: FastifyBaseLogger | false;
  /** Slow clients (listen.headers_timeout_s / idle_timeout_s); default 30 s and 600 s. */
  headersTimeoutS?: number;
  idleTimeoutS?: number;
  /**
   * Serve mutual TLS (agent-tls.ts): the host's certificate and key, and the cloud's CA,
   * the only one a client certificate may chain to; a client without one is refused at
   * the handshake. Absent: plain HTTP.
   */
  https?: { cert: string; key: string; ca: string };
}

function errorDoc(e: unknown): StoredReply {
  if (e instanceof CloudError) {
    const retryable = (e as MaybeRetryable).retryable ?? e.status === 503;
    return { status: e.status, body: { error: { code: e.code, message: e.message, retryable } } };
  }
  const err = e as Error & MaybeRetryable & { code?: unknown };
  // Host-side failures (ToolError...) are for the controller's logs: the controller never
  // shows a 5xx message to users.
  return {
    status: 500,
    body: {
      error: {
        code: err?.name && err.name !== 'Error' ? err.name : 'AgentFault',
        message: err?.message ?? String(e),
        retryable: err?.retryable ?? false,
      },
    },
  };
}

function firstError(schema: AgentRoute['body'], v: unknown): string {
  const e = [...Value.Errors(schema, v)][0] as { instancePath?: string; message?: string } | undefined;
  return `'${e?.instancePath || '/'}': ${e?.message ?? 'invalid'}`;
}

/** Builds the agent app (never listens; tests use inject()). */
export function buildAgentApp(o: AgentAppOptions): AgentApp {
  const https = o.https
    ? {
        cert: o.https.cert,
        key: o.https.key,
        ca: [o.https.ca],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2' as const,
      }
    : null;
  const fastify = Fastify({
    ...(https ? { https } : {}),
    ...(o.logger === false
      ? { logger: false }
      : o.logger
        ? { loggerInstance: o.logger }
        : { logger: loggerOptions(o.logLevel ?? 'info', 'homestack-agent') }),
    genReqId: (req) => {
      const h = req.headers['x-openstack-request-id'];
      return typeof h === 'string' && /^req-[0-9a-f-]{36}$/.test(h) ? h : newRequestId();
    },
    bodyLimit: 4 * 1024 * 1024,
    return503OnClosing: true,
    // Slow clients: headers must arrive in time and a connection silent both ways is
    // closed. Generous idle limit: a volume made from a large image keeps the
    // controller's request open, silent, for minutes.
    connectionTimeout: (o.idleTimeoutS ?? 600) * 1000,
    requestTimeout: 0,
  }) as unknown as FastifyInstance;
  if (https)
    // A client refused at the handshake (no certificate, one of another CA, expired): one clear line.
    fastify.server.on('tlsClientError', (err: Error & { code?: string }, socket: { remoteAddress?: string }) =>
      fastify.log.warn(
        { ip: socket.remoteAddress, code: err.code, reason: err.message },
        "refused a TLS connection: no client certificate of the cloud's CA",
      ),
    );
  fastify.server.headersTimeout = (o.headersTimeoutS ?? 30) * 1000;
  const altAuth: Array<(req: FastifyRequest) => boolean> = [];
  installAgentAuth(fastify, o.secret, altAuth);
  fastify.addHook('onRequest', async (req, reply) => {
    reply.header('x-openstack-request-id', req.id);
  });
  fastify.setErrorHandler((err: FastifyError, req, reply) => {
    let r: StoredReply;
    if (err.validation || err.code?.startsWith('FST_ERR_CTP')) {
      r = {
        status: err.statusCode && err.statusCode < 500 ? err.statusCode : 400,
        body: { error: { code: 'BadRequest', message: err.message, retryable: false } },
      };
    } else {
      r = errorDoc(err);
      req.log.error({ err }, 'agent request failed');
    }
    return reply.status(r.status).type('application/json').send(r.body);
  });
  fastify.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .type('application/json')
      .send({ error: { code: 'NotFound', message: `No route ${req.method} ${req.url.split('?')[0]}`, retryable: false } }),
  );

  const routes: string[] = [];
  const agent: AgentApp = {
    fastify,
    log: fastify.log,
    routes,
    altAuth,
    route(r, handler) {
      routes.push(r.name);
      fastify.route({
        method: r.method,
        url: r.url,
        handler: async (req, reply) => {
          // Work longer than the idle limit (a volume backup) keeps its own connection
          // open silently for as long as the controller waits for it (the route's timeoutMs).
          const idleMs = (o.idleTimeoutS ?? 600) * 1000;
          // (light-my-request's injected socket has no setTimeout)
          const sock = req.raw.socket as { setTimeout?: unknown } | undefined;
          if ((r.timeoutMs ?? 0) > idleMs && typeof sock?.setTimeout === 'function')
            req.raw.socket.setTimeout(r.timeoutMs! + 60_000);
          const params = (req.params ?? {}) as Record<string, unknown>;
          let body: unknown;
          if (r.method === 'GET' || (r.method === 'DELETE' && req.body === undefined)) {
            body = Value.Convert(r.body, { ...(req.query as object), ...params });
          } else {
            const b = req.body;
            body = b && typeof b === 'object' && !Array.isArray(b) ? { ...(b as object), ...params } : b;
          }
          body = Value.Default(r.body, body);
          const work = async (): Promise<StoredReply> => {
            if (!Value.Check(r.body, body)) {
              return {
                status: 400,
                body: {
                  error: {
                    code: 'BadRequest',
                    message: `${r.name}: invalid body at ${firstError(r.body, body)}`,
                    retryable: false,
                  },
                },
              };
            }
            try {
              const out = await handler(body as BodyOf<typeof r>, req);
              if (!Value.Check(r.reply, out)) {
                req.log.error({ route: r.name, problem: firstError(r.reply, out) }, 'reply breaks the contract');
                return {
                  status: 500,
                  body: {
                    error: {
                      code: 'BadAgentReply',
                      message: `${r.name}: reply breaks the contract at ${firstError(r.reply, out)}`,
                      retryable: false,
                    },
                  },
                };
              }
              return { status: 200, body: out };
            } catch (e) {
              const er = errorDoc(e);
              if (er.status >= 500) req.log.error({ err: e, route: r.name }, 'operation failed');
              else
                req.log.info({ route: r.name, code: (er.body as { error: { code: string } }).error.code }, 'operation refused');
              return er;
            }
          };
          const opId = req.headers[OP_ID_HEADER];
          let res: StoredReply;
          if (typeof opId === 'string' && opId) {
            const keep = (x: StoredReply) => !(x.body as { error?: { retryable?: boolean } })?.error?.retryable;
            const out = await o.opStore.run(opId, r.name, work, keep);
            if (out.replayed) req.log.info({ op: opId, route: r.name }, 'repeated operation answered from the idempotency store');
            res = out;
          } else {
            res = await work();
          }
          return reply.status(res.status).type('application/json').send(res.body);
        },
      });
    },
  };
  return agent;
}
