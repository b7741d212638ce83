import type { FastifyBaseLogger } from 'fastify';
import type { AgentRoute, BodyOf, ReplyOf } from '../../shared/agent/contract.js';
import { newUuid } from '../../shared/util/ids.js';
import { backoffMs } from '../../shared/util/retry.js';
import type { Db } from '../db/open.js';
import { checkReply, requestOf, type AgentClients } from './client.js';
import { AgentError, AgentUnavailable, type OpOutcome } from './errors.js';
import { OperationsRepo, type Operation, type OpState } from './operations.repo.js';
import type { HostRegistry } from './registry.js';

export type { Operation, OpState } from './operations.repo.js';

export interface EnqueueRequest<R extends AgentRoute> {
  hostId: string;
  route: R;
  body: BodyOf<R>;
  /** What the operation is for; operations on the same resource are sent in order. */
  resource?: { type: string; id: string };
  /**
   * Cancel the resource's operations still `pending` (not the one being sent) before
   * queueing this one: a delete that supersedes a create still waiting for its agent.
   * Cancelled operations fail with code `Cancelled` (handlers and waiters are told).
   */
  supersede?: boolean;
  /** The API request that caused it (x-openstack-request-id), for the logs. */
  requestId?: string;
}

export type CompletionHandler = (op: Operation, outcome: OpOutcome) => void | Promise<void>;

export interface DispatcherOptions {
  db: Db;
  hosts: HostRegistry;
  agents: AgentClients;
  log: FastifyBaseLogger;
  /** 0 = retry an unreachable agent for ever. */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Operations in flight at once (all hosts). */
  concurrency?: number;
  now?: () => Date;
}

/**
 * Durable dispatch of controller→agent operations (the job RabbitMQ does in
 * OpenStack).
 *
 * - `enqueue()` writes the `operations` row and returns at once; it is synchronous, so
 *   a service may call it inside its own db.transaction(): the row commits (or rolls
 *   back) with the service's state, and nothing is sent before the commit.
 * - The worker (`pump()`, kicked on enqueue and every second by the cron job) sends
 *   due rows with `X-Homestack-Op-Id: <row id>`. An unreachable agent
 *   (AgentUnavailable), a retryable agent error or a lost reply → back to `pending`
 *   with exponential backoff; a reply → `done`; a non-retryable agent error →
 *   `failed`. Operations on the same resource go out in the order they were enqueued.
 * - A host that (re)registers or comes back up gets its pending rows retried at once.
 * - `resume()` at controller start puts rows left `sending` back to `pending`; the
 *   agent's idempotency store makes the resend harmless.
 * - Results: completion handlers per kind (`onComplete(Route, fn)`), called after the
 *   row is updated (also for operations resumed after a restart), and `wait(id)` /
 *   `send()` for callers that want to await.
 */
export class Dispatcher {
  private readonly routes = new Map<string, AgentRoute>();
  private readonly handlers = new Map<string, CompletionHandler[]>();
  private readonly waiters = new Map<string, Array<(o: OpOutcome) => void>>();
  private readonly inFlight = new Set<string>();
  private pumping = false;
  private again = false;
  private closed = false;
  private kickTimer: NodeJS.Immediate | null = null;
  private readonly now: () => Date;
  private readonly ops: OperationsRepo;

  constructor(private readonly o: DispatcherOptions) {
    this.ops = new OperationsRepo(o.db);
    this.now = o.now ?? (() => new Date());
    o.hosts.onUp((h) => this.retryHost(h.id));
  }

  /** Makes a route known by name (so resumed rows get their replies validated). */
  knowRoute(route: AgentRoute): void {
    this.routes.set(route.name, route);
  }

  /**
   * Registers a completion handler for a route (or kind name). Handlers run after the
   * row is updated, in registration order; a throwing handler is logged, not retried.
   */
  onComplete(route: AgentRoute | string, fn: CompletionHandler): void {
    const kind = typeof route === 'string' ? route : route.name;
    if (typeof route !== 'string') this.knowRoute(route);
    this.handlers.set(kind, [...(this.handlers.get(kind) ?? []), fn]);
  }

  /** Writes the operation row (state pending) and schedules the worker. Returns the row. */
  enqueue<R extends AgentRoute>(req: EnqueueRequest<R>): Operation {
    this.knowRoute(req.route);
    if (req.supersede && req.resource) {
      for (const id of this.ops.pendingFor(req.resource)) this.cancel(id, `superseded by a newer ${req.route.name}`);
    }
    const op = enqueueOnly(this.o.db, req, this.now());
    this.kick();
    return op;
  }

  /**
   * Like enqueue, but when the host already has an operation of this kind still pending,
   * that operation gets this request instead of a second one being queued (a newer
   * desired state replaces one not yet sent). Safe against the worker: it reads and
   * claims a row in one synchronous step. Returns the operation's id.
   */
  enqueueLatest<R extends AgentRoute>(req: EnqueueRequest<R>): string {
    const waiting = this.ops.newestPending(req.hostId, req.route.name);
    if (waiting) {
      const { path, payload } = requestOf(req.route, req.body);
      if (this.ops.replacePending(waiting, path, payload ?? JSON.stringify(req.body ?? {}), this.now().toISOString())) {
        this.kick();
        return waiting;
      }
    }
    return this.enqueue(req).id;
  }

  /**
   * Enqueue and await the reply; rejects with AgentError when the operation fails.
   * With `waitMs`, rejects with AgentUnavailable after that long (the operation itself
   * stays queued and completes later through the completion handlers).
   */
  async send<R extends AgentRoute>(req: EnqueueRequest<R>, o: { waitMs?: number } = {}): Promise<ReplyOf<R>> {
    const op = this.enqueue(req);
    const out = await this.wait(op.id, o);
    if (out.ok) return out.reply as ReplyOf<R>;
    throw new AgentError(out.error.code, out.error.message, false, out.error.status);
  }

  /**
   * Resolves when the operation is done or failed (at once if it already is). With
   * `waitMs`, rejects with AgentUnavailable when it is still not finished by then.
   */
  wait(id: string, o: { waitMs?: number } = {}): Promise<OpOutcome> {
    const op = this.get(id);
    if (!op) return Promise.reject(new Error(`no operation ${id}`));
    const fin = outcomeOf(op);
    if (fin) return Promise.resolve(fin);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const done = (out: OpOutcome) => {
        if (timer) clearTimeout(timer);
        resolve(out);
      };
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), done]);
      if (o.waitMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters.set(
            id,
            (this.waiters.get(id) ?? []).filter((w) => w !== done),
          );
          const cur = this.get(id);
          reject(
            new AgentUnavailable(
              this.o.hosts.find(op.host_id)?.name ?? op.host_id,
              `operation ${id} not finished after ${o.waitMs} ms (${cur?.last_error ?? 'still queued'}); it stays queued`,
            ),
          );
        }, o.waitMs);
        timer.unref?.();
      }
    });
  }

  get(id: string): Operation | null {
    return this.ops.get(id);
  }

  list(f: { state?: OpState; hostId?: string; resource?: { type: string; id: string }; limit?: number } = {}): Operation[] {
    return this.ops.list(f);
  }

  /**
   * Cancels an operation that is still `pending` (false when it is being sent or
   * finished): it becomes `failed` with code Cancelled; completion handlers and waiters
   * are told (asynchronously).
   */
  cancel(id: string, reason = 'cancelled'): boolean {
    if (this.inFlight.has(id)) return false;
    const ts = this.now().toISOString();
    const error = { code: 'Cancelled', message: reason, status: 409 };
    if (!this.ops.failPending(id, JSON.stringify({ error }), `Cancelled: ${reason}`, ts)) return false;
    const op = this.get(id)!;
    setImmediate(() => void this.complete(op, { ok: false, error }));
    this.kick();
    return true;
  }

  /** At controller start: rows left `sending` by a previous process go back to `pending`. */
  resume(): number {
    const ts = this.now().toISOString();
    const n = this.ops.resumeSending(ts);
    if (n) this.o.log.info({ operations: n }, 'resuming operations interrupted by a restart');
    this.kick();
    return n;
  }

  /** Makes a host's pending operations due now (it just came up). */
  retryHost(hostId: string): void {
    const ts = this.now().toISOString();
    this.ops.dueNow(hostId, ts);
    this.kick();
  }

  /** Schedules a pump on the next turn (after the caller's transaction commits). */
  kick(): void {
    if (this.closed || this.kickTimer) return;
    this.kickTimer = setImmediate(() => {
      this.kickTimer = null;
      void this.pump();
    });
  }

  /** Sends every due operation (respecting per-resource order and the concurrency cap). */
  async pump(): Promise<void> {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        const free = (this.o.concurrency ?? 16) - this.inFlight.size;
        if (free <= 0) break;
        const due = this.ops.due(this.now().toISOString(), free + this.inFlight.size);
        for (const r of due) {
          if (this.inFlight.has(r.id) || this.inFlight.size >= (this.o.concurrency ?? 16)) continue;
          this.inFlight.add(r.id);
          void this.attempt(r).finally(() => {
            this.inFlight.delete(r.id);
            this.kick();
          });
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  private async attempt(op: Operation): Promise<void> {
    const ts = this.now().toISOString();
    if (!this.ops.claim(op.id, ts)) return;
    const attempts = op.attempts + 1;
    const log = this.o.log.child({
      op: op.id,
      kind: op.kind,
      host: op.host_id,
      attempt: attempts,
      reqId: op.request_id ?? undefined,
    });
    let outcome: OpOutcome;
    try {
      const host = this.o.hosts.find(op.host_id);
      if (!host) throw new AgentError('HostNotFound', `host ${op.host_id} no longer exists`, false, 404);
      const raw = await this.o.agents.forHost(host).send(
        op.method,
        op.path,
        op.method === 'GET' ? undefined : JSON.stringify(op.payload),
        {
          opId: op.id,
          timeoutMs: op.timeout_ms,
          requestId: op.request_id ?? undefined,
        },
        op.kind,
      );
      const route = this.routes.get(op.kind);
      outcome = { ok: true, reply: route ? checkReply(route, raw) : raw };
    } catch (e) {
      const unavailable = e instanceof AgentUnavailable;
      const retryable = unavailable || (e instanceof AgentError && e.retryable);
      const max = this.o.maxAttempts ?? 0;
      if (retryable && (max === 0 || attempts < max) && !this.closed) {
        const delay = backoffMs(attempts, this.o.backoffBaseMs ?? 1000, this.o.backoffMaxMs ?? 30_000);
        const next = new Date(this.now().getTime() + delay).toISOString();
        this.ops.backToPending(op.id, (e as Error).message, next, this.now().toISOString());
        log.info({ err: (e as Error).message, retryInMs: delay }, 'operation not delivered; will retry');
        return;
      }
      if (retryable && this.closed) {
        // Shutting down: leave it pending for the next start.
        this.ops.backToPending(op.id, (e as Error).message, null, this.now().toISOString());
        return;
      }
      const ae = e instanceof AgentError ? e : null;
      outcome = {
        ok: false,
        error: {
          code: ae?.agentCode ?? (e instanceof AgentUnavailable ? 'AgentUnavailable' : 'InternalError'),
          message: (e as Error).message,
          status: ae?.agentStatus ?? (e instanceof AgentUnavailable ? 503 : 500),
        },
      };
      if (!ae && !unavailable) log.error({ err: e }, 'operation failed unexpectedly');
    }
    const fin = this.now().toISOString();
    if (outcome.ok) {
      this.ops.finishDone(op.id, JSON.stringify(outcome.reply ?? null), fin);
      log.info('operation done');
    } else {
      this.ops.finishFailed(
        op.id,
        JSON.stringify({ error: outcome.error }),
        `${outcome.error.code}: ${outcome.error.message}`,
        fin,
      );
      log.warn({ code: outcome.error.code, err: outcome.error.message }, 'operation failed');
    }
    await this.complete(this.get(op.id) ?? op, outcome);
  }

  private async complete(op: Operation, outcome: OpOutcome): Promise<void> {
    for (const fn of this.handlers.get(op.kind) ?? []) {
      try {
        await fn(op, outcome);
      } catch (err) {
        this.o.log.error({ err, op: op.id, kind: op.kind }, 'completion handler failed');
      }
    }
    const ws = this.waiters.get(op.id) ?? [];
    this.waiters.delete(op.id);
    for (const w of ws) w(outcome);
  }

  /** Number of operations being sent right now. */
  busy(): number {
    return this.inFlight.size;
  }

  /**
   * Stops taking new work; waits up to `graceMs` for operations in flight. Rows still
   * in flight stay `sending` and are resumed at the next start.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    if (this.kickTimer) clearImmediate(this.kickTimer);
    const t0 = Date.now();
    while (this.inFlight.size && Date.now() - t0 < graceMs) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Writes a pending operation row and nothing else (no worker): the running
 * controller's dispatcher sends it. Used by Dispatcher.enqueue and by the CLI.
 */
export function enqueueOnly<R extends AgentRoute>(db: Db, req: EnqueueRequest<R>, now = new Date()): Operation {
  const { method, path, payload } = requestOf(req.route, req.body);
  return new OperationsRepo(db).insert({
    id: newUuid(),
    hostId: req.hostId,
    kind: req.route.name,
    payload: payload ?? JSON.stringify(req.body ?? {}),
    resourceType: req.resource?.type ?? null,
    resourceId: req.resource?.id ?? null,
    method,
    path,
    timeoutMs: req.route.timeoutMs ?? 30_000,
    requestId: req.requestId ?? null,
    now: now.toISOString(),
  });
}

/** The outcome of a finished operation row, or null while it is not finished. */
export function outcomeOf(op: Operation): OpOutcome | null {
  if (op.state === 'done') return { ok: true, reply: op.result };
  if (op.state === 'failed') {
    const e = (op.result as { error?: { code: string; message: string; status: number } } | null)?.error;
    return { ok: false, error: e ?? { code: 'Failed', message: op.last_error ?? 'failed', status: 500 } };
  }
  return null;
}
