import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** A finished reply as the agent sent it. */
export interface StoredReply {
  status: number;
  body: unknown;
}

/** 409: the op id belongs to an operation of another route. */
function opIdReused(id: string, route: string): StoredReply {
  return {
    status: 409,
    body: {
      error: { code: 'OpIdReused', message: `Operation id ${id} belongs to an operation of ${route}.`, retryable: false },
    },
  };
}

/**
 * The agent's memory of finished operations (idempotency by `X-Homestack-Op-Id`):
 *
 * - a finished op id is answered with the stored reply, without doing the work again;
 * - a repeat that arrives while the first delivery is still running awaits it and gets
 *   the same reply;
 * - an op id already used by another route is refused (409 OpIdReused);
 * - replies that say "try again" (retryable errors) are not stored, so the retry runs;
 * - entries older than `keepDays` are pruned at start.
 *
 * Stored in SQLite (`<data_dir>/operations.db`): a reply is durable before it is sent,
 * so an agent restart between the work and the reply still never repeats the work.
 */
export class OpStore {
  private readonly db: Database.Database;
  private readonly running = new Map<string, Promise<StoredReply>>();
  private readonly runningRoute = new Map<string, string>();

  constructor(path: string, keepDays = 14) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    if (path !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ops (
      id TEXT PRIMARY KEY, route TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, finished_at TEXT NOT NULL)`);
    const cutoff = new Date(Date.now() - keepDays * 86_400_000).toISOString();
    this.db.prepare('DELETE FROM ops WHERE finished_at < ?').run(cutoff);
  }

  get(id: string): StoredReply | null {
    const r = this.db.prepare('SELECT status, body FROM ops WHERE id = ?').get(id) as
      | { status: number; body: string }
      | undefined;
    return r ? { status: r.status, body: JSON.parse(r.body) } : null;
  }

  /**
   * Runs `work` once per op id. `keep(reply)` says whether the reply is final (stored);
   * `replayed` tells the caller the work was not done by this call.
   */
  async run(
    id: string,
    route: string,
    work: () => Promise<StoredReply>,
    keep: (r: StoredReply) => boolean,
  ): Promise<StoredReply & { replayed: boolean }> {
    // An id is one operation of one route: another route's stored reply would break this
    // route's contract (found by faults/api/fuzz-agent-routes.test.ts).
    const owner = (this.db.prepare('SELECT route FROM ops WHERE id = ?').get(id) as { route: string } | undefined)?.route;
    const other = owner ?? this.runningRoute.get(id);
    if (other !== undefined && other !== route) return { ...opIdReused(id, other), replayed: false };
    const done = this.get(id);
    if (done) return { ...done, replayed: true };
    const inflight = this.running.get(id);
    if (inflight) return { ...(await inflight), replayed: true };
    const p = (async () => {
      const r = await work();
      if (keep(r)) {
        this.db
          .prepare('INSERT OR REPLACE INTO ops (id, route, status, body, finished_at) VALUES (?, ?, ?, ?, ?)')
          .run(id, route, r.status, JSON.stringify(r.body ?? null), new Date().toISOString());
      }
      return r;
    })();
    this.running.set(id, p);
    this.runningRoute.set(id, route);
    try {
      return { ...(await p), replayed: false };
    } finally {
      this.running.delete(id);
      this.runningRoute.delete(id);
    }
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM ops').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
