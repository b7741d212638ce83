import type { Runner } from '../exec/run.js';

/**
 * ovs-appctl, the one module that runs it: diagnostics the agent and its tests read
 * (userspace conntrack, tunnel routes) and the clean stop of a daemon by its control
 * socket (the test harness; production daemons belong to the init system).
 */
const TARGET_RE = /^[A-Za-z0-9/._-]+$/;

export const ovsAppctl = (run: Runner) => {
  const app = (target: string | undefined, args: string[]) => {
    if (target !== undefined && !TARGET_RE.test(target)) throw new Error(`bad ovs-appctl target: ${JSON.stringify(target)}`);
    return run('ovs-appctl', [...(target ? ['-t', target] : []), ...args], { timeoutMs: 15_000 });
  };
  return {
    version: async (): Promise<string> => (await app(undefined, ['version'])).stdout.trim(),
    /** Connection-tracking entries of the userspace datapath (one per line). */
    conntrack: async (zone?: number): Promise<string[]> =>
      (await app(undefined, ['dpctl/dump-conntrack', ...(zone !== undefined ? [`zone=${zone}`] : [])])).stdout
        .split('\n')
        .filter(Boolean),
    flushConntrack: async (zone?: number): Promise<void> => {
      await app(undefined, ['dpctl/flush-conntrack', ...(zone !== undefined ? [`zone=${zone}`] : [])]);
    },
    routes: async (): Promise<string[]> => (await app(undefined, ['ovs/route/show'])).stdout.split('\n').filter(Boolean),
    /** Asks a daemon to exit (target: its control socket path). */
    exit: async (target: string): Promise<void> => {
      await app(target, ['exit']);
    },
  };
};
