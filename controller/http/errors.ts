import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  CloudError,
  GENERIC_5XX_MESSAGE,
  glanceErrorRepresentation,
  renderError,
  type ErrorStyle,
} from '../../shared/errors/index.js';

interface Mapped {
  status: number;
  message: string;
  code: string;
  headers?: Record<string, string>;
}

/** Maps anything thrown in a route to status, message and code (house style 3.4). */
export function mapError(err: unknown): Mapped {
  if (err instanceof CloudError) {
    return { status: err.status, message: err.safe ? err.message : GENERIC_5XX_MESSAGE, code: err.code, headers: err.headers };
  }
  const fe = err as FastifyError & { validation?: unknown; validationContext?: string };
  if (fe && fe.validation) {
    return { status: 400, message: `Invalid input: ${fe.message}`, code: 'BadRequest' };
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: `Malformed request body: ${fe.message}`, code: 'MalformedRequestBody' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'Malformed request body: the body is empty.', code: 'MalformedRequestBody' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: `Unsupported Content-Type: ${fe.message}`, code: 'UnsupportedMediaType' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: 'Request body too large.', code: 'RequestEntityTooLarge' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'Invalid Content-Length.', code: 'BadRequest' };
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return { status: 404, message: 'The resource could not be found.', code: 'NotFound' };
  }
  const sc = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (sc >= 400 && sc < 500) return { status: sc, message: fe.message, code: fe.code ?? 'BadRequest' };
  return { status: 500, message: GENERIC_5XX_MESSAGE, code: 'InternalError' };
}

export interface ErrorHandlingOptions {
  style: ErrorStyle;
  /** Keystone adds WWW-Authenticate on 401; pass the identity URI for it. */
  wwwAuthenticate?: (req: FastifyRequest) => string;
  notFoundMessage?: (req: FastifyRequest) => string;
  /** Set false for a plugin mounted at the root prefix, whose 404s the app answers. */
  notFound?: boolean;
}

/**
 * Installs the error and not-found handlers of one service plugin (they are
 * encapsulated: each prefix answers in its own shape). 5xx details are logged with
 * the request id and never returned.
 */
export function installErrorHandling(scope: FastifyInstance, o: ErrorHandlingOptions): void {
  const send = (req: FastifyRequest, reply: FastifyReply, m: Mapped) => {
    if (m.headers) for (const [k, v] of Object.entries(m.headers)) reply.header(k, v);
    if (m.status === 401 && o.wwwAuthenticate) reply.header('WWW-Authenticate', o.wwwAuthenticate(req));
    if (o.style === 'glance') {
      const r = glanceErrorRepresentation(req.headers.accept, m);
      return reply.status(m.status).type(r.contentType).send(r.body);
    }
    return reply.status(m.status).type('application/json').send(renderError(o.style, m));
  };
  scope.setErrorHandler((err, req, reply) => {
    const m = mapError(err);
    if (m.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status: m.status, code: m.code, msg: m.message }, 'request refused');
    return send(req, reply, m);
  });
  if (o.notFound === false) return;
  scope.setNotFoundHandler((req, reply) =>
    send(req, reply, {
      status: 404,
      message: o.notFoundMessage?.(req) ?? 'The resource could not be found.',
      code: 'NotFound',
    }),
  );
}
