import type { Runner } from '../exec/run.js';
import { checkIfname, checkNs } from './ip.js';

/**
 * ethtool, the one module that runs it. The network agent turns TX checksum offload off
 * on every veth end it plugs into an Open vSwitch userspace (netdev) datapath bridge:
 * OVS netdev forwards packets the kernel left with a partial checksum unchanged, and the
 * receiver drops them (multihost recipe §8.1).
 */
export const ethtool = (run: Runner) => ({
  txOff: async (dev: string, ns?: string): Promise<void> => {
    const argv = ['ethtool', '-K', checkIfname(dev), 'tx', 'off'];
    if (ns) await run('ip', ['netns', 'exec', checkNs(ns), ...argv]);
    else await run('ethtool', argv.slice(1));
  },
});
