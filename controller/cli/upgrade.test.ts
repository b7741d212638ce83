import { describe, expect, it } from 'vitest';
import { openDb, type Db } from '../db/open.js';
import { loadMigrations, migrate, schemaVersion } from '../db/migrate.js';

/** Tables and their row counts (excluding SQLite's own and the migration log). */
function counts(db: Db): Record<string, number> {
  const tables = db
    .prepare(`SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`)
    .all() as { name: string }[];
  return Object.fromEntries(
    tables.map((t) => [t.name, (db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n]),
  );
}

/**
 * Inserts one row into a table, filling every NOT NULL column without a default with a
 * value of its declared type. Returns false when a CHECK or the like refuses it.
 */
function insertRow(db: Db, table: string, step: number): boolean {
  const cols = db.prepare(`PRAGMA table_info("${table}")`).all() as {
    name: string;
    type: string;
    notnull: number;
    dflt_value: unknown;
    pk: number;
  }[];
  const need = cols.filter((c) => (c.notnull && c.dflt_value === null) || c.pk);
  const val = (c: { name: string; type: string }) =>
    /INT|REAL|NUM/i.test(c.type)
      ? step
      : /created_at|updated_at|_at$/.test(c.name)
        ? '2026-01-01T00:00:00Z'
        : `t${step}-${table}-${c.name}`;
  try {
    db.prepare(
      `INSERT INTO "${table}" (${need.map((c) => `"${c.name}"`).join(', ')}) VALUES (${need.map(() => '?').join(', ')})`,
    ).run(...need.map(val));
    return true;
  } catch {
    return false;
  }
}

describe('upgrades: every migration from the first schema to the latest', () => {
  it('keeps rows inserted after each step (hosts, identity, images among them)', () => {
    const all = loadMigrations();
    expect(all[0]!.version).toBe(1);
    const db = openDb(':memory:');
    // Rows stand alone (no parents): the test is about migrations keeping data, not FKs.
    db.pragma('foreign_keys = OFF');
    const inserted: Record<string, number> = {};
    for (const m of all) {
      migrate(
        db,
        all.filter((x) => x.version <= m.version),
      );
      expect(schemaVersion(db)).toBe(m.version);
      for (const t of Object.keys(counts(db))) if (!(t in inserted) && insertRow(db, t, m.version)) inserted[t] = m.version;
      const now = counts(db);
      for (const t of Object.keys(inserted)) expect(now[t], `${t} after ${m.version}_${m.name}`).toBeGreaterThanOrEqual(1);
    }
    expect(Object.keys(inserted)).toEqual(expect.arrayContaining(['hosts', 'operations', 'users', 'projects', 'images']));
    // Re-running the latest set is a no-op that keeps everything.
    expect(migrate(db, all)).toEqual([]);
    for (const t of Object.keys(inserted)) expect(counts(db)[t]).toBeGreaterThanOrEqual(1);
    db.close();
  });
});
