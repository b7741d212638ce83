import type { Db } from '../db/open.js';

export type TaskStatus = 'pending' | 'processing' | 'success' | 'failure';

/** One Glance task (an import request), decoded. */
export interface TaskRow {
  id: string;
  type: string;
  status: TaskStatus;
  owner: string | null;
  image_id: string;
  user_id: string | null;
  request_id: string | null;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
  message: string;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}

type Raw = Omit<TaskRow, 'input' | 'result'> & { input: string; result: string | null };

const decode = (r: Raw): TaskRow => ({
  ...r,
  input: JSON.parse(r.input) as Record<string, unknown>,
  result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
});

/** SQL only (house style 3.1): import tasks. */
export class TaskRepo {
  constructor(private readonly db: Db) {}

  insert(t: TaskRow): void {
    this.db
      .prepare(
        `INSERT INTO image_tasks (id, type, status, owner, image_id, user_id, request_id, input, result, message, created_at, updated_at, expires_at)
         VALUES (@id, @type, @status, @owner, @image_id, @user_id, @request_id, @input, @result, @message, @created_at, @updated_at, @expires_at)`,
      )
      .run({ ...t, input: JSON.stringify(t.input), result: t.result === null ? null : JSON.stringify(t.result) });
  }

  get(id: string): TaskRow | null {
    const r = this.db.prepare('SELECT * FROM image_tasks WHERE id = ?').get(id) as Raw | undefined;
    return r ? decode(r) : null;
  }

  /** Tasks of an image that have not expired at `now`, oldest first. */
  forImage(imageId: string, now: string): TaskRow[] {
    const rows = this.db
      .prepare('SELECT * FROM image_tasks WHERE image_id = ? AND (expires_at IS NULL OR expires_at >= ?) ORDER BY created_at, id')
      .all(imageId, now) as Raw[];
    return rows.map(decode);
  }

  /** Tasks in one of `statuses` (startup recovery). */
  withStatus(statuses: TaskStatus[]): TaskRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM image_tasks WHERE status IN (${statuses.map(() => '?').join(', ')})`)
      .all(...statuses) as Raw[];
    return rows.map(decode);
  }

  update(
    id: string,
    f: Partial<Pick<TaskRow, 'status' | 'message' | 'result' | 'updated_at' | 'expires_at'>>,
    whereStatus?: TaskStatus[],
  ): boolean {
    const keys = Object.keys(f) as Array<keyof typeof f>;
    if (!keys.length) return false;
    const params: Record<string, unknown> = { __id: id };
    for (const k of keys) params[k] = k === 'result' ? (f.result === null ? null : JSON.stringify(f.result)) : f[k];
    let sql = `UPDATE image_tasks SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @__id`;
    if (whereStatus?.length) {
      sql += ` AND status IN (${whereStatus.map((_, i) => `@__s${i}`).join(', ')})`;
      whereStatus.forEach((s, i) => (params[`__s${i}`] = s));
    }
    return this.db.prepare(sql).run(params).changes > 0;
  }

  /** Drops tasks that expired before `now`. */
  prune(now: string): number {
    return this.db.prepare('DELETE FROM image_tasks WHERE expires_at IS NOT NULL AND expires_at < ?').run(now).changes;
  }
}
