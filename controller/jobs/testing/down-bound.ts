import { worstCaseDownS } from '../agent-health.js';

/**
 * What a test that kills an agent may wait beyond the configured worst case before the
 * host is down: its own polling of the host state (≤ 0.25 s) and the 2 s check firing a
 * little late on a loaded 2-core machine.
 */
export const DOWN_SLACK_S = 1;

/** The bound a kill test asserts: worstCaseDownS of the configuration it runs with, plus DOWN_SLACK_S. */
export function downBoundS(heartbeatS: number, downAfterMissed: number): number {
  return worstCaseDownS(heartbeatS, downAfterMissed) + DOWN_SLACK_S;
}
