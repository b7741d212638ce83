import type { Db } from '../db/open.js';

/** SQL for server tags (no logic). */
export class ServerTagsRepo {
  constructor(private readonly db: Db) {}

  list(instanceId: string): string[] {
    return this.db.prepare('SELECT tag FROM server_tags WHERE instance_id = ? ORDER BY tag').pluck().all(instanceId) as string[];
  }

  has(instanceId: string, tag: string): boolean {
    return Boolean(this.db.prepare('SELECT 1 FROM server_tags WHERE instance_id = ? AND tag = ?').get(instanceId, tag));
  }

  /** Adds one tag; false when it was there already. */
  add(instanceId: string, tag: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO server_tags (instance_id, tag) VALUES (?, ?)').run(instanceId, tag).changes > 0;
  }

  remove(instanceId: string, tag: string): boolean {
    return this.db.prepare('DELETE FROM server_tags WHERE instance_id = ? AND tag = ?').run(instanceId, tag).changes > 0;
  }

  replace(instanceId: string, tags: string[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM server_tags WHERE instance_id = ?').run(instanceId);
      const ins = this.db.prepare('INSERT OR IGNORE INTO server_tags (instance_id, tag) VALUES (?, ?)');
      for (const t of tags) ins.run(instanceId, t);
    })();
  }

  count(instanceId: string): number {
    return this.db.prepare('SELECT COUNT(*) FROM server_tags WHERE instance_id = ?').pluck().get(instanceId) as number;
  }

  /** instance id → its tags, for the instances given (list views and filters). */
  byInstances(ids: string[]): Map<string, string[]> {
    const m = new Map<string, string[]>();
    if (!ids.length) return m;
    const rows = this.db
      .prepare(`SELECT instance_id, tag FROM server_tags WHERE instance_id IN (${ids.map(() => '?').join(',')}) ORDER BY tag`)
      .all(...ids) as Array<{ instance_id: string; tag: string }>;
    for (const r of rows) m.set(r.instance_id, [...(m.get(r.instance_id) ?? []), r.tag]);
    return m;
  }
}
