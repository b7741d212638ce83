import { describe, expect, it } from 'vitest';
import cron from 'node-cron';
import { everySeconds } from './cron.js';
import { worstCaseDownS } from './agent-health.js';

describe('jobs', () => {
  it('builds valid node-cron expressions that never wait longer than asked', () => {
    for (const s of [1, 2, 7, 10, 45, 60, 120]) expect(cron.validate(everySeconds(s))).toBe(true);
    expect(everySeconds(10)).toBe('*/10 * * * * *');
    expect(everySeconds(7)).toBe('0,7,14,21,28,35,42,49,56 * * * * *');
  });

  it('a dead agent is down within 35 s with the defaults (10 s × 3 + the 2 s check)', () => {
    expect(worstCaseDownS(10, 3)).toBe(32);
  });
});

describe('prune-operations', () => {
  it('deletes old finished operations only', async () => {
    const { openDb } = await import('../db/open.js');
    const { migrate } = await import('../db/migrate.js');
    const { pruneOperations } = await import('./prune-operations.js');
    const db = openDb(':memory:');
    migrate(db);
    const t = '2026-01-01T00:00:00.000Z';
    db.prepare(
      `INSERT INTO hosts (id, name, agent_url, credential_hash, created_at, updated_at) VALUES ('h', 'h', 'http://x', 'ab', ?, ?)`,
    ).run(t, t);
    const ins =
      db.prepare(`INSERT INTO operations (id, host_id, kind, payload, state, next_attempt_at, created_at, updated_at, finished_at)
      VALUES (?, 'h', 'k', '{}', ?, ?, ?, ?, ?)`);
    ins.run('old-done', 'done', t, t, t, '2026-01-01T00:00:00.000Z');
    ins.run('new-done', 'done', t, t, t, '2026-01-09T00:00:00.000Z');
    ins.run('old-failed', 'failed', t, t, t, '2026-01-01T00:00:00.000Z');
    ins.run('pending', 'pending', t, t, t, null);
    expect(pruneOperations(db, new Date('2026-01-10T00:00:00Z'))).toBe(1);
    expect(
      db
        .prepare('SELECT id FROM operations ORDER BY id')
        .all()
        .map((r) => (r as { id: string }).id),
    ).toEqual(['new-done', 'old-failed', 'pending']);
    expect(pruneOperations(db, new Date('2026-02-10T00:00:00Z'))).toBe(2);
  });
});
