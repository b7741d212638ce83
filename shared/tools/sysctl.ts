import type { Runner } from '../exec/run.js';
import { checkNs } from './ip.js';

/** sysctl, the one module that runs it (optionally inside a network namespace). */
const KEY_RE = /^[a-z0-9_.]+$/;
const VALUE_RE = /^[A-Za-z0-9_.-]+$/;

export const sysctl = (run: Runner) => ({
  set: async (key: string, value: string, ns?: string): Promise<void> => {
    if (!KEY_RE.test(key) || !VALUE_RE.test(value)) throw new Error(`bad sysctl ${JSON.stringify(key)}=${JSON.stringify(value)}`);
    const argv = ['-q', '-w', `${key}=${value}`];
    if (ns) await run('ip', ['netns', 'exec', checkNs(ns), 'sysctl', ...argv]);
    else await run('sysctl', argv);
  },
});
