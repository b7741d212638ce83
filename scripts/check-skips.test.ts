import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALLOWED_FILE, judge, parseAllowed, skippedOf } from './check-skips.js';

const ROOT = resolve(import.meta.dirname, '..');

const report = (tests: Array<[string, string, string]>) => ({
  numPassedTests: tests.filter((t) => t[2] === 'passed').length,
  numFailedTests: 0,
  numPendingTests: tests.filter((t) => t[2] === 'skipped').length,
  numTodoTests: tests.filter((t) => t[2] === 'todo').length,
  testResults: [...new Set(tests.map((t) => t[0]))].map((f) => ({
    name: join(ROOT, f),
    assertionResults: tests.filter((t) => t[0] === f).map(([, fullName, status]) => ({ fullName, status })),
  })),
});

describe('skip gate (scripts/check-skips.ts)', () => {
  it('reads the reviewed list and refuses a line without its three fields', () => {
    expect(parseAllowed('# c\n\na/b.test.ts | outer inner | no Chromium on arm64 CI\n')).toEqual([
      { file: 'a/b.test.ts', test: 'outer inner', reason: 'no Chromium on arm64 CI', line: 3 },
    ]);
    expect(() => parseAllowed('a/b.test.ts | outer inner\n')).toThrow(/allowed-skips.txt:1/);
    expect(() => parseAllowed('a/b.test.ts | outer inner | \n')).toThrow(/allowed-skips.txt:1/);
  });

  it('the shipped list parses', () => {
    expect(() => parseAllowed(readFileSync(ALLOWED_FILE, 'utf8'))).not.toThrow();
  });

  it('counts skip, ctx.skip() and todo as skipped; passes only the listed ones, by file and full name', () => {
    const r = report([
      ['x/a.system.test.ts', 'suite boots', 'passed'],
      ['x/a.system.test.ts', 'suite browser', 'skipped'],
      ['x/b.system.test.ts', 'other browser', 'skipped'],
      ['x/b.system.test.ts', 'other later', 'todo'],
    ]);
    const { skipped, ran } = skippedOf(r, ROOT);
    expect(ran).toEqual([{ file: 'x/a.system.test.ts', test: 'suite boots' }]);
    expect(skipped).toHaveLength(3);
    const { ok, refused } = judge(skipped, parseAllowed('x/a.system.test.ts | suite browser | reason\n'));
    expect(ok.map((o) => o.t.test)).toEqual(['suite browser']);
    expect(refused).toEqual([
      { file: 'x/b.system.test.ts', test: 'other browser' },
      { file: 'x/b.system.test.ts', test: 'other later' },
    ]);
    // Same name in another file is not allowed by that line.
    expect(
      judge([{ file: 'x/c.system.test.ts', test: 'suite browser' }], parseAllowed('x/a.system.test.ts | suite browser | r'))
        .refused,
    ).toHaveLength(1);
  });

  it('as a command: exit 1 and the refused test named; exit 0 with no skip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-skips-'));
    const cli = (r: unknown) => {
      writeFileSync(join(dir, 'r.json'), JSON.stringify(r));
      return spawnSync(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'scripts/check-skips.ts'), 'system', join(dir, 'r.json')],
        {
          encoding: 'utf8',
        },
      );
    };
    const bad = cli(report([['zz/never-listed.system.test.ts', 'a skipped one', 'skipped']]));
    expect(bad.status, bad.stderr).toBe(1);
    expect(bad.stdout).toContain('zz/never-listed.system.test.ts › a skipped one');
    const good = cli(report([['zz/never-listed.system.test.ts', 'a passing one', 'passed']]));
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain('system: 0 skipped');
  }, 30_000);
});
