import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';

/**
 * Compares `actual` with a golden file. UPDATE_GOLDEN=1 rewrites a golden that differs (or
 * is missing) and then FAILS the test, naming the file: a run that rewrote its goldens
 * never passes, the diff is for a human to review (`git diff`), and the next run without
 * UPDATE_GOLDEN judges it. In CI (CI set) UPDATE_GOLDEN is refused; scripts/test.sh
 * refuses to start with it.
 */
export function expectGolden(path: string, actual: string): void {
  const update = process.env.UPDATE_GOLDEN === '1';
  if (update && process.env.CI) throw new Error(`UPDATE_GOLDEN=1 is refused in CI (golden ${path})`);
  const want = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (want === actual) return;
  if (update) {
    writeFileSync(path, actual);
    throw new Error(
      `golden ${path} ${want === null ? 'written' : 'rewritten'} (UPDATE_GOLDEN=1): review it with git diff, then run again without UPDATE_GOLDEN`,
    );
  }
  if (want === null) throw new Error(`golden file ${path} is missing: run this test once with UPDATE_GOLDEN=1 and review it`);
  expect(actual, `differs from the golden ${path} (UPDATE_GOLDEN=1 rewrites it, and fails)`).toBe(want);
}
