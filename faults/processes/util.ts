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

/** A read-only query of a controller's database (ProcessCloud.q, RealCloud.q). */
export type Query = <T>(sql: string, ...args: unknown[]) => T[];

/**
 * What was in flight for these servers, read from the controller's database (read it
 * after killing the controller and it is the state at the kill): each one's vm_state and
 * the state of its latest `kind` operation ('sending': handed to the agent, no reply
 * yet), counted.
 */
export function inFlight(
  q: Query,
  kind: string,
  serverIds: string[],
): { vmStates: Record<string, number>; ops: Record<string, number> & { sending: number }; building: number } {
  const ids = new Set(serverIds);
  const vm = q<{ id: string; vm_state: string }>('SELECT id, vm_state FROM instances').filter((r) => ids.has(r.id));
  const latest = new Map<string, string>();
  for (const r of q<{ uuid: string; state: string }>(
    "SELECT json_extract(payload, '$.uuid') AS uuid, state FROM operations WHERE kind = ? ORDER BY created_at",
    kind,
  ))
    if (ids.has(r.uuid)) latest.set(r.uuid, r.state);
  const tally = (xs: string[]) => xs.reduce((m: Record<string, number>, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
  return {
    vmStates: tally(vm.map((r) => r.vm_state)),
    ops: { sending: 0, ...tally([...latest.values()]) },
    building: vm.filter((r) => r.vm_state === 'building').length,
  };
}
