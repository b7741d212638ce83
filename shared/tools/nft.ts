import type { Runner } from '../exec/run.js';
import { checkNs } from './ip.js';

/**
 * nft (nftables), the one module that runs it. A ruleset is applied as one `nft -f -`
 * transaction, so a table is replaced atomically: `table X {}` (create if missing),
 * `delete table X`, then the full new table. Reads use `nft -j`.
 */

const TABLE_RE = /^(ip|ip6|inet) [a-z][a-z0-9_-]{0,31}$/;

/** Wraps a table body so applying it replaces the table in one transaction. */
export function replaceTableScript(table: string, body: string): string {
  if (!TABLE_RE.test(table)) throw new Error(`bad nft table: ${JSON.stringify(table)}`);
  return `table ${table} {}\ndelete table ${table}\ntable ${table} {\n${body}}\n`;
}

export const nft = (run: Runner) => {
  const inNs = (ns: string | undefined, args: string[], input?: string) =>
    ns ? run('ip', ['netns', 'exec', checkNs(ns), 'nft', ...args], { input }) : run('nft', args, { input });
  return {
    /** Applies a script (e.g. from `replaceTableScript`) atomically. */
    apply: async (script: string, ns?: string): Promise<void> => {
      await inNs(ns, ['-f', '-'], script);
    },
    /** The table as nft prints it, or null when absent. */
    listTable: async (table: string, ns?: string): Promise<string | null> => {
      if (!TABLE_RE.test(table)) throw new Error(`bad nft table: ${JSON.stringify(table)}`);
      try {
        return (await inNs(ns, ['list', 'table', ...table.split(' ')])).stdout;
      } catch {
        return null;
      }
    },
    deleteTable: async (table: string, ns?: string): Promise<void> => {
      if (!TABLE_RE.test(table)) throw new Error(`bad nft table: ${JSON.stringify(table)}`);
      await inNs(ns, ['-f', '-'], `table ${table} {}\ndelete table ${table}\n`);
    },
  };
};
