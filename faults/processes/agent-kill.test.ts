import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downBoundS } from '../../controller/jobs/testing/down-bound.js';
import { ProcessCloud, processesEnabled } from './harness.js';
import { sleep, until } from './util.js';

/**
 * Issue 11, scenario 2 (part): kill -9 of a real agent process (built dist/) while an
 * operation is in flight on it, with the DEFAULT heartbeat settings (10 s × 3 missed):
 * the host must be down within the default worst case (32 s, measured), the operation must not be lost nor run
 * twice, and it completes when the agent returns. The agent has no roles, so no guest
 * boot or volume attach is interrupted here (see faults/README.md).
 */
const ENABLED = processesEnabled;
if (!ENABLED)
  console.log('[skip] faults/processes agent kill: needs SYSTEM_TESTS=1 and root (starts real controller and agent processes)');

// No [agents] section: the defaults (heartbeat 10 s, down after 3 missed) are what is measured.
const c = new ProcessCloud('agentkill', { controller: ['[log]', 'level = "info"'], agent: { roles: [] }, bootstrap: false });
const { run: RUN, host: HOST } = c;
const cli = c.cli.bind(c);
const hostState = () => c.hostState();
const opRow = (id: string) =>
  c.q<{ state: string; attempts: number; last_error: string | null; result: string | null }>(
    'SELECT * FROM operations WHERE id = ?',
    id,
  )[0]!;

describe.skipIf(!ENABLED)('agent kill -9 with an operation in flight (default heartbeat)', () => {
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    await c.setUp();
  }, 120_000);
  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await c.close();
  });

  it('the host is down within the default worst case (10 s × 3 + 2 s check) of kill -9 mid-operation; the operation completes once when the agent returns', async () => {
    // An operation the agent holds for 20 s, so it is surely running on the agent when killed.
    const en = cli('ops', 'echo', HOST, `${RUN}-in-flight`, '--delay-ms', '20000');
    expect(en.code, en.err).toBe(0);
    const opId = en.out.trim();
    await until('the operation to be sending', () => opRow(opId).state === 'sending', 15_000, 50);
    await sleep(500);
    await c.kill9('agent');
    const t0 = Date.now();
    await until('the host to be down', () => hostState() === 'down', 40_000, 250);
    const downS = (Date.now() - t0) / 1000;
    figures.host_down_s = downS;
    expect(downS).toBeLessThanOrEqual(downBoundS(10, 3));
    // While down: the operation is neither lost nor marked done.
    expect(['pending', 'sending']).toContain(opRow(opId).state);
    // A second operation queued while the host is down.
    const en2 = cli('ops', 'echo', HOST, `${RUN}-while-down`);
    expect(en2.code, en2.err).toBe(0);
    const op2 = en2.out.trim();
    const t1 = Date.now();
    c.start('agent');
    await until('the host to be up again', () => hostState() === 'up', 30_000);
    figures.host_up_after_restart_s = (Date.now() - t1) / 1000;
    const done2 = await until('the queued operation to be done', () => opRow(op2).state === 'done' && opRow(op2), 60_000, 250);
    expect(JSON.parse(done2.result!)).toMatchObject({ message: `${RUN}-while-down`, op_id: op2 });
    const done1 = await until(
      'the interrupted operation to be done',
      () => opRow(opId).state === 'done' && opRow(opId),
      90_000,
      250,
    );
    figures.interrupted_op_done_after_restart_s = (Date.now() - t1) / 1000;
    figures.interrupted_op_attempts = done1.attempts;
    expect(JSON.parse(done1.result!)).toMatchObject({ message: `${RUN}-in-flight`, op_id: opId });
    expect(done1.attempts).toBeGreaterThanOrEqual(2);
    // The restarted agent ran each operation exactly once.
    const log = (await c.agentGet(`/v1/echo`)) as { calls: { op_id: string }[] };
    expect(log.calls.filter((x) => x.op_id === opId)).toHaveLength(1);
    expect(log.calls.filter((x) => x.op_id === op2)).toHaveLength(1);
  }, 240_000);
});
