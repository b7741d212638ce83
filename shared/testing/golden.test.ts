import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectGolden } from './golden.js';

const env = { UPDATE_GOLDEN: process.env.UPDATE_GOLDEN, CI: process.env.CI };
afterEach(() => {
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

describe('golden files', () => {
  const file = () => {
    const p = join(mkdtempSync(join(tmpdir(), 'hs-golden-')), 'g.txt');
    writeFileSync(p, 'old\n');
    return p;
  };

  it('passes on equal text and fails on a difference or a missing file', () => {
    delete process.env.UPDATE_GOLDEN;
    const p = file();
    expectGolden(p, 'old\n');
    expect(() => expectGolden(p, 'new\n')).toThrow();
    expect(() => expectGolden(`${p}.absent`, 'x')).toThrow(/missing/);
    expect(readFileSync(p, 'utf8')).toBe('old\n');
  });

  it('UPDATE_GOLDEN=1 rewrites a golden that differs and still fails the test; equal text passes', () => {
    process.env.UPDATE_GOLDEN = '1';
    delete process.env.CI;
    const p = file();
    expect(() => expectGolden(p, 'new\n')).toThrow(/rewritten .*run again without UPDATE_GOLDEN/);
    expect(readFileSync(p, 'utf8')).toBe('new\n');
    expectGolden(p, 'new\n'); // nothing to rewrite: no failure
    expect(() => expectGolden(`${p}.absent`, 'x')).toThrow(/written/);
  });

  it('UPDATE_GOLDEN=1 is refused in CI and writes nothing', () => {
    process.env.UPDATE_GOLDEN = '1';
    process.env.CI = 'true';
    const p = file();
    expect(() => expectGolden(p, 'new\n')).toThrow(/refused in CI/);
    expect(readFileSync(p, 'utf8')).toBe('old\n');
  });
});
