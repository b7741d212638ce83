import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpStore } from './op-store.repo.js';

const keepFinal = (r: { status: number }) => r.status < 500;

describe('agent idempotency store', () => {
  it('remembers finished operations across an agent restart', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hs-ops-')), 'operations.db');
    let runs = 0;
    const work = async () => {
      runs += 1;
      return { status: 200, body: { n: runs } };
    };
    const a = new OpStore(path);
    expect(await a.run('op-1', 'r', work, keepFinal)).toEqual({ status: 200, body: { n: 1 }, replayed: false });
    a.close();
    const b = new OpStore(path);
    expect(await b.run('op-1', 'r', work, keepFinal)).toEqual({ status: 200, body: { n: 1 }, replayed: true });
    expect(runs).toBe(1);
    b.close();
  });

  it('does not keep replies that ask for a retry, and forgets a failed run', async () => {
    const s = new OpStore(':memory:');
    let runs = 0;
    const flaky = async () => {
      runs += 1;
      if (runs === 1) throw new Error('crash');
      return { status: 503, body: {} };
    };
    await expect(s.run('op-2', 'r', flaky, keepFinal)).rejects.toThrow('crash');
    expect((await s.run('op-2', 'r', flaky, keepFinal)).replayed).toBe(false);
    expect(s.get('op-2')).toBeNull();
    expect(runs).toBe(2);
  });

  it('refuses an op id used by another route (409 OpIdReused), finished or still running, and does not run the work', async () => {
    const s = new OpStore(':memory:');
    let runs = 0;
    const work = async () => {
      runs += 1;
      await new Promise((r) => setTimeout(r, 20));
      return { status: 200, body: { n: runs } };
    };
    const first = s.run('op-3', 'compute.spawn', work, keepFinal);
    const whileRunning = await s.run('op-3', 'host.health', work, keepFinal);
    expect(whileRunning).toMatchObject({
      status: 409,
      body: { error: { code: 'OpIdReused', retryable: false } },
      replayed: false,
    });
    expect(await first).toEqual({ status: 200, body: { n: 1 }, replayed: false });
    const after = await s.run('op-3', 'host.health', work, keepFinal);
    expect(after.status).toBe(409);
    expect((after.body as { error: { message: string } }).error.message).toContain('compute.spawn');
    expect(await s.run('op-3', 'compute.spawn', work, keepFinal)).toEqual({ status: 200, body: { n: 1 }, replayed: true });
    expect(runs).toBe(1);
  });

  it('prunes entries older than keepDays at start (here: all)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hs-ops-')), 'operations.db');
    const a = new OpStore(path);
    await a.run('old', 'r', async () => ({ status: 200, body: {} }), keepFinal);
    a.close();
    expect(new OpStore(path, -1).count()).toBe(0);
  });
});
