import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pidsByComm } from './daemon.js';

describe('pidsByComm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pids-by-comm-'));
  // A copy of sleep under a name of its own, so /proc/<pid>/comm is unique to this test.
  const name = `hsd${process.pid}`.slice(0, 15);
  const bin = join(dir, name);
  copyFileSync('/bin/sleep', bin);
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds this host's process and not one in other mount and network namespaces", async () => {
    const here = spawn(bin, ['30'], { stdio: 'ignore' });
    const elsewhere = spawn('/usr/bin/unshare', ['--mount', '--net', bin, '30'], { stdio: 'ignore' });
    children.push(here, elsewhere);
    let found: number[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = pidsByComm(name);
    }
    expect(found).toEqual([here.pid]);
    // The other one does run under that name, in its own namespaces (unshare execs it in place).
    expect(elsewhere.exitCode).toBeNull();
    expect(elsewhere.pid).toBeGreaterThan(0);
  });
});
