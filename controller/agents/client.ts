import { Pool, type Dispatcher } from 'undici';
import { agentConnectOptions, type AgentChannelTls } from '../pki/controller-cert.js';
import { Value } from 'typebox/value';
import { OP_ID_HEADER, routePath, type AgentRoute, type BodyOf, type ReplyOf } from '../../shared/agent/contract.js';
import { AgentError, AgentUnavailable, parseAgentErrorBody } from './errors.js';
import type { Host, HostRegistry } from './registry.js';

export interface CallOptions {
  /** Idempotency key (the dispatcher passes the operation id). */
  opId?: string;
  /** Overrides the route's timeoutMs. */
  timeoutMs?: number;
  /** Forwarded as x-openstack-request-id so agent logs carry the API request's id. */
  requestId?: string;
  /** Return the body as text instead of parsing JSON (the agent's Prometheus /metrics). */
  text?: boolean;
}

export interface AgentClientsOptions {
  /** A test dispatcher (undici MockAgent); by default one Pool per host. */
  dispatcher?: Dispatcher;
  connectTimeoutMs?: number;
  /** Connections per host. */
  connections?: number;
  /**
   * The cloud's CA and the controller's client certificate for `https://` agents (mutual
   * TLS); read when a pool to such an agent is made. Null or absent: `https://` agents
   * cannot be reached (their handshake refuses a connection without a client certificate).
   */
  tls?: () => AgentChannelTls | null;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
/** The request may have reached the agent: only safe to repeat with the same op id. */
const MAYBE_EXECUTED_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** A transport failure as a typed error; anything else is rethrown as is. */
export function mapTransportError(host: string, e: unknown): Error {
  const err = e as { code?: string; cause?: { code?: string }; message?: string };
  const code = err?.code ?? err?.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new AgentUnavailable(host, 'no reply before the timeout', true);
  }
  if (code && UNAVAILABLE_CODES.has(code)) return new AgentUnavailable(host, `${code}`, MAYBE_EXECUTED_CODES.has(code));
  return e instanceof Error ? e : new Error(String(e));
}

/** The path (with query for GET) and JSON payload of a call to `route`. */
export function requestOf<R extends AgentRoute>(
  route: R,
  body: BodyOf<R>,
): { method: R['method']; path: string; payload: string | undefined } {
  const b = (body ?? {}) as Record<string, unknown>;
  let path = routePath(route.url, b);
  if (route.method !== 'GET') return { method: route.method, path, payload: JSON.stringify(b) };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(b)) if (v !== undefined && !route.url.includes(`:${k}`)) params.set(k, String(v));
  const q = params.toString();
  if (q) path += `?${q}`;
  return { method: route.method, path, payload: undefined };
}

/** Checks a reply against the route's schema; AgentError BadAgentReply otherwise. */
export function checkReply<R extends AgentRoute>(route: R, reply: unknown): ReplyOf<R> {
  if (!Value.Check(route.reply, reply)) {
    const first = [...Value.Errors(route.reply, reply)][0] as { instancePath?: string; message?: string } | undefined;
    throw new AgentError(
      'BadAgentReply',
      `${route.name}: the agent's reply breaks the contract at '${first?.instancePath ?? ''}': ${first?.message ?? ''}`,
      false,
      200,
    );
  }
  return reply as ReplyOf<R>;
}

/** Calls one agent. Obtained from `AgentClients.forHost()`. */
export class AgentClient {
  constructor(
    readonly host: Host,
    private readonly dispatcher: Dispatcher,
    private readonly secret: string | undefined,
    private readonly onRejectedCredential: () => void,
  ) {}

  /**
   * Sends `body` to the route and returns the reply, validated against the route's
   * reply schema. Throws AgentUnavailable (transport, no credential yet, or the agent
   * refused our credential) or AgentError (the agent's error document, or a reply
   * that breaks the contract).
   */
  async call<R extends AgentRoute>(route: R, body: BodyOf<R>, o: CallOptions = {}): Promise<ReplyOf<R>> {
    const { path, payload } = requestOf(route, body);
    const reply = await this.send(route.method, path, payload, { ...o, timeoutMs: o.timeoutMs ?? route.timeoutMs }, route.name);
    return checkReply(route, reply);
  }

  /**
   * The transport under `call`: sends a prepared request and returns the parsed JSON
   * reply without checking it against a schema (the dispatcher uses it for operations
   * resumed after a restart, whose descriptor may not be registered yet).
   */
  async send(
    method: string,
    path: string,
    payload: string | undefined,
    o: CallOptions = {},
    what = `${method} ${path}`,
  ): Promise<unknown> {
    if (!this.secret) throw new AgentUnavailable(this.host.name, 'the controller has not heard from this agent since it started');
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.secret}`,
      accept: o.text ? 'text/plain' : 'application/json',
    };
    if (o.opId) headers[OP_ID_HEADER] = o.opId;
    if (o.requestId) headers['x-openstack-request-id'] = o.requestId;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const timeout = o.timeoutMs ?? 30_000;
    const origin = new URL(this.host.agent_url).origin;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher.request({
        origin,
        path,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: payload,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (e) {
      throw mapTransportError(this.host.name, e);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw mapTransportError(this.host.name, e);
    }
    if (res.statusCode === 401) {
      this.onRejectedCredential();
      throw new AgentUnavailable(this.host.name, "the agent refused the controller's credential");
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const p = parseAgentErrorBody(res.statusCode, text);
      throw new AgentError(p.code, p.message, p.retryable, res.statusCode);
    }
    if (o.text) return text;
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      throw new AgentError('BadAgentReply', `${what}: the agent's reply is not JSON`, false, res.statusCode);
    }
  }
}

/**
 * One undici Pool per host, keyed by host id and URL (a host that re-registers with a
 * new URL gets a new pool). Services use `forHost(idOrName).call(Route, body)` for
 * synchronous calls (console, stats) and the Dispatcher for durable work.
 */
export class AgentClients {
  private readonly pools = new Map<string, { url: string; pool: Pool }>();

  constructor(
    private readonly registry: HostRegistry,
    private readonly o: AgentClientsOptions = {},
  ) {}

  forHost(idOrName: string | Host): AgentClient {
    const host = typeof idOrName === 'string' ? this.registry.get(idOrName) : idOrName;
    return new AgentClient(host, this.dispatcherFor(host), this.registry.secretOf(host.id), () =>
      this.registry.forgetSecret(host.id),
    );
  }

  /** Shorthand for `forHost(host).call(route, body, o)`. */
  call<R extends AgentRoute>(host: string | Host, route: R, body: BodyOf<R>, o?: CallOptions): Promise<ReplyOf<R>> {
    return this.forHost(host).call(route, body, o);
  }

  /** TLS options for another way to this host's agent (the console proxy's websocket); null for a plain-HTTP agent. */
  connectOptionsFor(host: Host): ReturnType<typeof agentConnectOptions> | null {
    const tls = host.agent_url.startsWith('https:') ? this.o.tls?.() : null;
    return tls ? agentConnectOptions(tls, host.name) : null;
  }

  private dispatcherFor(host: Host): Dispatcher {
    if (this.o.dispatcher) return this.o.dispatcher;
    const origin = new URL(host.agent_url).origin;
    const have = this.pools.get(host.id);
    if (have && have.url === origin) return have.pool;
    if (have) void have.pool.close().catch(() => {});
    const tls = origin.startsWith('https:') ? this.o.tls?.() : null;
    const pool = new Pool(origin, {
      connections: this.o.connections ?? 8,
      connect: { timeout: this.o.connectTimeoutMs ?? 5_000, ...(tls ? agentConnectOptions(tls, host.name) : {}) },
      keepAliveTimeout: 10_000,
    });
    this.pools.set(host.id, { url: origin, pool });
    return pool;
  }

  /**
   * The controller's client certificate changed (renewed, or SIGHUP): the next call to an
   * `https://` agent opens a new pool that reads it again. The old pools finish what they
   * carry and are closed after `graceMs`. How many pools were let go.
   */
  reloadTls(graceMs = 30_000): number {
    const old: Pool[] = [];
    for (const [id, p] of this.pools)
      if (p.url.startsWith('https:')) {
        this.pools.delete(id);
        old.push(p.pool);
      }
    for (const pool of old) setTimeout(() => void pool.close().catch(() => {}), graceMs).unref();
    return old.length;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.pool.close().catch(() => {})));
  }
}
