import type { Db } from '../db/open.js';

/**
 * A small typed table gateway shared by the networking repos: booleans are stored as
 * 0/1 and list/object attributes as JSON text. Only SQL lives here and in *.repo.ts.
 */
export interface TableSpec<T> {
  table: string;
  cols: ReadonlyArray<keyof T & string>;
  bools?: ReadonlyArray<keyof T & string>;
  jsons?: ReadonlyArray<keyof T & string>;
}

export interface Table<T extends { id: string }> {
  get(db: Db, id: string): T | null;
  /** Rows where every given column equals its value, in creation order. */
  where(db: Db, eq?: Partial<Record<keyof T & string, string | number | null>>): T[];
  insert(db: Db, row: T): void;
  /** Writes every column of `row`; bumps revision_number when the table has one. */
  update(db: Db, row: T): T;
  delete(db: Db, id: string): void;
  count(db: Db, eq?: Partial<Record<keyof T & string, string | number | null>>): number;
  /** The row's tags (standard-attr-tag), for tables with a `tags` column. */
  tags(db: Db, id: string): string[];
  /** Replaces the row's tags and bumps its revision_number. */
  saveTags(db: Db, id: string, tags: string[]): void;
}

export function table<T extends { id: string }>(spec: TableSpec<T>): Table<T> {
  const bools = new Set<string>(spec.bools ?? []);
  const jsons = new Set<string>(spec.jsons ?? []);
  const decode = (r: Record<string, unknown>): T => {
    const o: Record<string, unknown> = { ...r };
    for (const b of bools) o[b] = r[b] === 1;
    for (const j of jsons) o[j] = JSON.parse(String(r[j]));
    return o as T;
  };
  const encode = (row: T): unknown[] =>
    spec.cols.map((c) => {
      const v = row[c] as unknown;
      if (bools.has(c)) return v ? 1 : 0;
      if (jsons.has(c)) return JSON.stringify(v ?? null);
      return v === undefined ? null : v;
    });
  const cond = (eq: Record<string, unknown> = {}) => {
    const keys = Object.keys(eq).filter((k) => (spec.cols as readonly string[]).includes(k));
    return {
      sql: keys.length ? `WHERE ${keys.map((k) => (eq[k] === null ? `${k} IS NULL` : `${k} = ?`)).join(' AND ')}` : '',
      args: keys.filter((k) => eq[k] !== null).map((k) => eq[k]),
    };
  };
  const hasRev = (spec.cols as readonly string[]).includes('revision_number');
  return {
    get(db, id) {
      const r = db.prepare(`SELECT * FROM ${spec.table} WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
      return r ? decode(r) : null;
    },
    where(db, eq) {
      const c = cond(eq);
      return (
        db.prepare(`SELECT * FROM ${spec.table} ${c.sql} ORDER BY created_at, rowid`).all(...c.args) as Array<
          Record<string, unknown>
        >
      ).map(decode);
    },
    insert(db, row) {
      db.prepare(`INSERT INTO ${spec.table} (${spec.cols.join(', ')}) VALUES (${spec.cols.map(() => '?').join(', ')})`).run(
        ...encode(row),
      );
    },
    update(db, row) {
      const next = hasRev
        ? ({ ...row, revision_number: (row as unknown as { revision_number: number }).revision_number + 1 } as T)
        : row;
      const cols = spec.cols.filter((c) => c !== 'id');
      const vals = encode(next).filter((_v, i) => spec.cols[i] !== 'id');
      db.prepare(`UPDATE ${spec.table} SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...vals, row.id);
      return next;
    },
    delete(db, id) {
      db.prepare(`DELETE FROM ${spec.table} WHERE id = ?`).run(id);
    },
    count(db, eq) {
      const c = cond(eq);
      return db
        .prepare(`SELECT COUNT(*) FROM ${spec.table} ${c.sql}`)
        .pluck()
        .get(...c.args) as number;
    },
    tags(db, id) {
      return JSON.parse(db.prepare(`SELECT tags FROM ${spec.table} WHERE id = ?`).pluck().get(id) as string) as string[];
    },
    saveTags(db, id, tags) {
      db.prepare(`UPDATE ${spec.table} SET tags = ?, revision_number = revision_number + 1 WHERE id = ?`).run(
        JSON.stringify(tags),
        id,
      );
    },
  };
}
