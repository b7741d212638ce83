import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';

/**
 * Names with shell metacharacters reach host tools inert: the product's code runs
 * tools only through shared/exec (execFile/spawn with argument arrays, never a shell),
 * and a hostile argument arrives as one literal argv element.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const ALLOWED = new Set(['shared/exec/run.ts', 'shared/exec/daemon.ts', 'shared/exec/netns-listen.ts']);

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts') && !/\.test\.ts$/.test(e.name) && !p.includes('/testing/')) out.push(p);
  }
  return out;
}

describe('no shell between the product and host tools', () => {
  it('only shared/exec imports node:child_process, and nothing asks for a shell', () => {
    const files = ['agents', 'controller', 'shared'].flatMap((d) => sources(join(ROOT, d)));
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    for (const f of files) {
      const rel = relative(ROOT, f);
      const text = readFileSync(f, 'utf8');
      if (/from ['"](node:)?child_process['"]/.test(text) && !ALLOWED.has(rel)) offenders.push(`${rel}: imports child_process`);
      if (/shell\s*:\s*true/.test(text)) offenders.push(`${rel}: shell: true`);
      if (/\bexecSync\s*\(|\bexec\s*\(\s*['"`]/.test(text) && /child_process/.test(text))
        offenders.push(`${rel}: exec with a command string`);
    }
    expect(offenders).toEqual([]);
  });

  it('a hostile name reaches a real tool as one literal argument', async () => {
    const marker = `/tmp/hs-pwned-${process.pid}`;
    rmSync(marker, { force: true });
    const hostile = `$(touch ${marker});\`touch ${marker}\` | touch ${marker} && touch ${marker}`;
    const r = await makeRunner()('busybox', ['echo', hostile]);
    expect(r.stdout.trim()).toBe(hostile);
    expect(existsSync(marker)).toBe(false);
  });
});
