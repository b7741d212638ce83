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
