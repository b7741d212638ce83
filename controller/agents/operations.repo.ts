import type { Db } from '../db/open.js';

export type OpState = 'pending' | 'sending' | 'done' | 'failed';

/** One row of `operations`, decoded. */
export interface Operation {
  id: string;
  host_id: string;
  kind: string;
  payload: unknown;
  state: OpState;
  attempts: number;
  last_error: string | null;
  result: unknown;
  resource_type: string | null;
  resource_id: string | null;
  method: string;
  path: string;
  timeout_ms: number;
  request_id: string | null;
  next_attempt_at: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

type Row = Omit<Operation, 'payload' | 'result'> & { payload: string; result: string | null };
const decode = (r: Row): Operation => ({
  ...r,
  payload: JSON.parse(r.payload),
  result: r.result === null ? null : JSON.parse(r.result),
});

/** A new row: what enqueueOnly writes. */
export interface NewOperation {
  id: string;
  hostId: string;
  kind: string;
  payload: string;
  resourceType: string | null;
  resourceId: string | null;
  method: string;
  path: string;
  timeoutMs: number;
  requestId: string | null;
  now: string;
}

/** What `homestack ops list` shows: a row with its host's name. */
export interface OperationListing {
  id: string;
  host_name: string | null;
  kind: string;
  state: string;
  attempts: number;
  last_error: string | null;
  resource_type: string | null;
  resource_id: string | null;
  created_at: string;
  finished_at: string | null;
  next_attempt_at: string;
}

/**
 * SQL for the dispatcher's `operations` table. Every state change is one statement
 * guarded by the state it expects (`AND state = 'pending'`), so a row is claimed,
 * cancelled or replaced by exactly one caller.
 */
export class OperationsRepo {
  constructor(private readonly db: Db) {}

  insert(o: NewOperation): Operation {
    this.db
      .prepare(
        `INSERT INTO operations (id, host_id, kind, payload, state, attempts, resource_type, resource_id, method, path, timeout_ms,
       request_id, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        o.id,
        o.hostId,
        o.kind,
        o.payload,
        o.resourceType,
        o.resourceId,
        o.method,
        o.path,
        o.timeoutMs,
        o.requestId,
        o.now,
        o.now,
        o.now,
      );
    return this.get(o.id)!;
  }

  get(id: string): Operation | null {
    const r = this.db.prepare('SELECT * FROM operations WHERE id = ?').get(id) as Row | undefined;
    return r ? decode(r) : null;
  }

  list(f: { state?: OpState; hostId?: string; resource?: { type: string; id: string }; limit?: number } = {}): Operation[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state) {
      where.push('state = ?');
      args.push(f.state);
    }
    if (f.hostId) {
      where.push('host_id = ?');
      args.push(f.hostId);
    }
    if (f.resource) {
      where.push('resource_type = ? AND resource_id = ?');
      args.push(f.resource.type, f.resource.id);
    }
    const sql = `SELECT * FROM operations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit ?? 100) as Row[]).map(decode);
  }

  /** Newest first, with the host's name; `host` matches a host's name or id. */
  listing(f: { state?: string; host?: string; limit: number }): OperationListing[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state) {
      where.push('o.state = ?');
      args.push(f.state);
    }
    if (f.host) {
      where.push('(h.name = ? OR h.id = ?)');
      args.push(f.host, f.host);
    }
    return this.db
      .prepare(
        `SELECT o.id, h.name AS host_name, o.kind, o.state, o.attempts, o.last_error, o.resource_type, o.resource_id,
              o.created_at, o.finished_at, o.next_attempt_at
         FROM operations o LEFT JOIN hosts h ON h.id = o.host_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY o.rowid DESC LIMIT ?`,
      )
      .all(...args, f.limit) as OperationListing[];
  }

  /** Ids of the resource's operations still pending. */
  pendingFor(resource: { type: string; id: string }): string[] {
    return (
      this.db
        .prepare(`SELECT id FROM operations WHERE resource_type = ? AND resource_id = ? AND state = 'pending'`)
        .all(resource.type, resource.id) as Array<{ id: string }>
    ).map((r) => r.id);
  }

  /** The newest pending operation of this kind for the host, if any. */
  newestPending(hostId: string, kind: string): string | null {
    return (
      (this.db
        .prepare(`SELECT id FROM operations WHERE host_id = ? AND kind = ? AND state = 'pending' ORDER BY rowid DESC LIMIT 1`)
        .pluck()
        .get(hostId, kind) as string | undefined) ?? null
    );
  }

  /** Gives a pending operation a new request (false when it is no longer pending). */
  replacePending(id: string, path: string, payload: string, now: string): boolean {
    return (
      this.db
        .prepare(`UPDATE operations SET path = ?, payload = ?, updated_at = ? WHERE id = ? AND state = 'pending'`)
        .run(path, payload, now, id).changes > 0
    );
  }

  /** Pending → failed with `result` (a cancel); false when it is not pending. */
  failPending(id: string, result: string, lastError: string, now: string): boolean {
    return (
      this.db
        .prepare(
          `UPDATE operations SET state = 'failed', result = ?, last_error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND state = 'pending'`,
        )
        .run(result, lastError, now, now, id).changes > 0
    );
  }

  /** Rows left `sending` go back to `pending`, due now. Returns how many. */
  resumeSending(now: string): number {
    return this.db
      .prepare(`UPDATE operations SET state = 'pending', next_attempt_at = ?, updated_at = ? WHERE state = 'sending'`)
      .run(now, now).changes;
  }

  /** Makes the host's pending operations due now. */
  dueNow(hostId: string, now: string): void {
    this.db
      .prepare(`UPDATE operations SET next_attempt_at = ? WHERE host_id = ? AND state = 'pending' AND next_attempt_at > ?`)
      .run(now, hostId, now);
  }

  /**
   * Pending rows due by `now` with no earlier pending or sending row on the same
   * resource, oldest first.
   */
  due(now: string, limit: number): Operation[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM operations o WHERE o.state = 'pending' AND o.next_attempt_at <= ?
             AND NOT EXISTS (SELECT 1 FROM operations p WHERE p.resource_type IS NOT NULL AND p.resource_type = o.resource_type
               AND p.resource_id = o.resource_id AND p.state IN ('pending', 'sending') AND p.rowid < o.rowid)
           ORDER BY o.rowid LIMIT ?`,
        )
        .all(now, limit) as Row[]
    ).map(decode);
  }

  /** Pending → sending, counting the attempt; false when another caller had it. */
  claim(id: string, now: string): boolean {
    return (
      this.db
        .prepare(
          `UPDATE operations SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'pending'`,
        )
        .run(now, id).changes > 0
    );
  }

  /** Back to pending after a failed delivery; `nextAttempt` null keeps the due time. */
  backToPending(id: string, lastError: string, nextAttempt: string | null, now: string): void {
    if (nextAttempt === null) {
      this.db
        .prepare(`UPDATE operations SET state = 'pending', last_error = ?, updated_at = ? WHERE id = ?`)
        .run(lastError, now, id);
      return;
    }
    this.db
      .prepare(`UPDATE operations SET state = 'pending', last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?`)
      .run(lastError, nextAttempt, now, id);
  }

  finishDone(id: string, result: string, now: string): void {
    this.db
      .prepare(
        `UPDATE operations SET state = 'done', result = ?, last_error = NULL, updated_at = ?, finished_at = ? WHERE id = ?`,
      )
      .run(result, now, now, id);
  }

  finishFailed(id: string, result: string, lastError: string, now: string): void {
    this.db
      .prepare(`UPDATE operations SET state = 'failed', result = ?, last_error = ?, updated_at = ?, finished_at = ? WHERE id = ?`)
      .run(result, lastError, now, now, id);
  }

  /** How many rows are in each state (states with none are absent). */
  countByState(): Array<{ state: string; n: number }> {
    return this.db.prepare('SELECT state, COUNT(*) AS n FROM operations GROUP BY state').all() as Array<{
      state: string;
      n: number;
    }>;
  }

  /** Deletes rows finished in `state` before `before`. Returns how many. */
  deleteFinished(state: 'done' | 'failed', before: string): number {
    return this.db.prepare('DELETE FROM operations WHERE state = ? AND finished_at < ?').run(state, before).changes;
  }
}
