import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Small helpers the process scenarios share (real controller and agent processes). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** Polls `fn` until it returns something truthy; the error says what was awaited and the last failure. */
export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs: number,
  everyMs = 100,
): Promise<Exclude<T, null | undefined | false | 0 | ''>> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, null | undefined | false | 0 | ''>;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** SIGKILL and wait for the exit (a process already gone resolves at once). */
export function kill9(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
}
