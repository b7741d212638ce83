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
  constructor(readonly dbVersion: number, readonly codeVersion: number) {
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

/**
 * Applies the migrations newer than the database's `user_version`, all in one
 * transaction (so a failure leaves the database as it was). Refuses a database that
 * is newer than the code. Returns the versions applied.
 */
export function migrate(db: Db, migrations: Migration[] = loadMigrations()): number[] {
  const current = schemaVersion(db);
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) throw new SchemaTooNewError(current, latest);
  const todo = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (!todo.length) return [];
  db.transaction(() => {
    for (const m of todo) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  })();
  return todo.map((m) => m.version);
}
