import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations shipped with this code: migrations/NNN_name.sql, in order. */
export function loadMigrations(dir = defaultMigrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(join(dir, f), 'utf8') }));
}

/** Works from both the TypeScript sources and dist/ (the build copies the .sql files). */
export function defaultMigrationsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'migrations');
}

export class SchemaTooNewError extends Error {
  constructor(
    readonly dbVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      `the database schema is version ${dbVersion} but this controller only knows up to ${codeVersion}: ` +
        'it was used by a newer Homestack; upgrade the controller or restore a backup',
    );
    this.name = 'SchemaTooNewError';
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Versions recorded as applied (schema_migrations), created on first use. */
function appliedVersions(db: Db, migrations: Migration[]): Set<number> {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  );
  const rows = db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>;
  const uv = schemaVersion(db);
  if (!rows.length && uv > 0) {
    // A database from before schema_migrations: everything up to user_version was applied.
    const ins = db.prepare('INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) if (m.version <= uv) ins.run(m.version, m.name, new Date().toISOString());
    return new Set(migrations.filter((m) => m.version <= uv).map((m) => m.version));
  }
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies every shipped migration the database has not applied yet, in version order,
 * all in one transaction (so a failure leaves the database as it was). Applied versions
 * are recorded in `schema_migrations`, so a migration numbered below one already
 * applied (engineers land 004 after 007) is still applied once. Refuses a database
 * that is newer than the code. `user_version` holds the highest version applied.
 * Returns the versions applied.
 */
export function migrate(db: Db, migrations: Migration[] = loadMigrations()): number[] {
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const current = schemaVersion(db);
  if (current > latest) throw new SchemaTooNewError(current, latest);
  const done = appliedVersions(db, migrations);
  const newer = [...done].filter((v) => v > latest);
  if (newer.length) throw new SchemaTooNewError(Math.max(...newer), latest);
  const todo = migrations.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
  if (!todo.length) return [];
  db.transaction(() => {
    const rec = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of todo) {
      db.exec(m.sql);
      rec.run(m.version, m.name, new Date().toISOString());
    }
    db.pragma(`user_version = ${Math.max(current, ...todo.map((m) => m.version))}`);
  })();
  return todo.map((m) => m.version);
}
