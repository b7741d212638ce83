import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate, schemaVersion, SchemaTooNewError, type Migration } from './migrate.js';
import { openDb } from './open.js';

const m = (version: number, sql: string): Migration => ({ version, name: `m${version}`, sql });

describe('migrations', () => {
  it('ships numbered migrations in order, starting with 001_foundation', () => {
    const all = loadMigrations();
    expect(all[0]).toMatchObject({ version: 1, name: 'foundation' });
    const versions = all.map((x) => x.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('applies every shipped migration to a fresh database, once', () => {
    const db = openDb(':memory:');
    const applied = migrate(db);
    expect(applied.length).toBe(loadMigrations().length);
    expect(schemaVersion(db)).toBe(Math.max(...applied));
    expect(migrate(db)).toEqual([]);
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['hosts', 'operations']));
  });

  it('applies in order and only the newer ones', () => {
    const db = new Database(':memory:');
    const order: number[] = [];
    db.function('note', (v: number) => {
      order.push(v);
      return v;
    });
    expect(migrate(db, [m(2, 'CREATE TABLE b (x); SELECT note(2);'), m(1, 'CREATE TABLE a (x); SELECT note(1);')])).toEqual([
      1, 2,
    ]);
    expect(order).toEqual([1, 2]);
    expect(migrate(db, [m(1, 'SELECT note(1);'), m(2, 'SELECT note(2);'), m(3, 'CREATE TABLE c (x); SELECT note(3);')])).toEqual([
      3,
    ]);
    expect(order).toEqual([1, 2, 3]);
  });

  it('applies a migration numbered below one already applied (landed later), once', () => {
    const db = new Database(':memory:');
    expect(migrate(db, [m(1, 'CREATE TABLE a (x);'), m(7, 'CREATE TABLE g (x);')])).toEqual([1, 7]);
    expect(migrate(db, [m(1, 'CREATE TABLE a (x);'), m(4, 'CREATE TABLE d (x);'), m(7, 'CREATE TABLE g (x);')])).toEqual([4]);
    expect(migrate(db, [m(1, ''), m(4, ''), m(7, '')])).toEqual([]);
    expect(schemaVersion(db)).toBe(7);
  });

  it('adopts a database migrated before schema_migrations existed', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE a (x); CREATE TABLE b (x);');
    db.pragma('user_version = 2');
    expect(migrate(db, [m(1, 'CREATE TABLE a (x);'), m(2, 'CREATE TABLE b (x);'), m(3, 'CREATE TABLE c (x);')])).toEqual([3]);
  });

  it('leaves the database as it was when a migration fails', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, [m(1, 'CREATE TABLE a (x);'), m(2, 'CREATE TABLE oops (;')])).toThrow();
    expect(schemaVersion(db)).toBe(0);
    expect(db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'a'`).get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: 0 });
  });

  it('refuses a database newer than the code, with a clear message', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hs-db-')), 'h.db');
    const db = openDb(path);
    db.pragma('user_version = 999');
    const e = (() => {
      try {
        migrate(db);
      } catch (x) {
        return x as Error;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(SchemaTooNewError);
    expect(e!.message).toMatch(/schema is version 999 but this controller only knows up to \d+/);
  });

  it('opens with WAL, foreign keys and a busy timeout', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hs-db-')), 'h.db');
    const db = openDb(path, 1234);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
  });
});
