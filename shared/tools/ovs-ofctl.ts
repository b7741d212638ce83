import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runner } from '../exec/run.js';
import { checkName } from './ovs-vsctl.js';

/**
 * ovs-ofctl, the one module that runs it: always `-O OpenFlow13` (the bridges enable
 * OpenFlow10,13,14), flows are passed on stdin (`-`), and the switch's view is compared
 * with the desired text by `diff-flows`, which parses both sides into OVS's own
 * canonical form. Its output is parsed in exactly one function (`parseDiffFlows`).
 */

const O = ['-O', 'OpenFlow13'];

/** One line of `ovs-ofctl diff-flows`: `-` in the switch only, `+` in the file only. */
export interface FlowDiff {
  sign: '+' | '-';
  table: number;
  /** Match fields and priority as OVS prints them, e.g. `priority=100,in_port=1`. */
  match: string;
  cookie: bigint;
  actions: string;
}

const DIFF_RE = /^([+-])(?:table=(\d+) )?(\S*?)(?: cookie=(0x[0-9a-f]+))?(?: \S+=\S+)*? actions=(.*)$/;

/** Parses diff-flows output; lines it cannot read are reported, never ignored. */
export function parseDiffFlows(stdout: string): FlowDiff[] {
  const out: FlowDiff[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const m = DIFF_RE.exec(line);
    if (!m) throw new Error(`ovs-ofctl diff-flows: cannot parse line: ${line}`);
    out.push({
      sign: m[1] as '+' | '-',
      table: m[2] ? Number(m[2]) : 0,
      match: m[3]!,
      cookie: BigInt(m[4] ?? '0x0'),
      actions: m[5]!,
    });
  }
  return out;
}

/** The flow text `add-flows` accepts for a diff line. */
export function flowLine(f: Pick<FlowDiff, 'table' | 'match' | 'cookie' | 'actions'>): string {
  return `cookie=0x${f.cookie.toString(16)},table=${f.table}${f.match ? `,${f.match}` : ''},actions=${f.actions}`;
}

/** The strict-match text `del-flows --strict` accepts for a diff line (table, priority and match). */
export function strictMatch(f: Pick<FlowDiff, 'table' | 'match'>): string {
  return `table=${f.table}${f.match ? `,${f.match}` : ''}`;
}

export const ovsOfctl = (run: Runner) => ({
  /** What must change in `bridge` to hold exactly the flows in `flows` (one flow per line). */
  diffFlows: async (bridge: string, flows: string): Promise<FlowDiff[]> => {
    // diff-flows reads a file, not stdin (and /dev/stdin is a socket under Node): a private temp file.
    const dir = await mkdtemp(join(tmpdir(), 'homestack-flows-'));
    try {
      const file = join(dir, `${checkName(bridge)}.flows`);
      await writeFile(file, flows, { mode: 0o600 });
      return parseDiffFlows((await run('ovs-ofctl', [...O, 'diff-flows', bridge, file], { okCodes: [0, 2] })).stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
  /** Adds (or replaces, same match and priority) the flows, one per line. */
  addFlows: async (bridge: string, flows: string): Promise<void> => {
    if (!flows.trim()) return;
    await run('ovs-ofctl', [...O, 'add-flows', checkName(bridge), '-'], { input: flows });
  },
  /** Deletes exactly the given flows (table + priority + match per line). */
  delFlowsStrict: async (bridge: string, matches: string): Promise<void> => {
    if (!matches.trim()) return;
    await run('ovs-ofctl', [...O, '--strict', 'del-flows', checkName(bridge), '-'], { input: matches });
  },
  /** Deletes every flow with this cookie (all tables). */
  delFlowsByCookie: async (bridge: string, cookie: bigint): Promise<void> => {
    await run('ovs-ofctl', [...O, 'del-flows', checkName(bridge), `cookie=0x${cookie.toString(16)}/-1`]);
  },
  /** Flow lines without statistics, optionally filtered (e.g. `table=22`). */
  dumpFlows: async (bridge: string, filter?: string): Promise<string[]> => {
    const a = [...O, 'dump-flows', '--no-stats', checkName(bridge)];
    if (filter) a.push(filter);
    return (await run('ovs-ofctl', a)).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('OFPST_FLOW'));
  },
});
export type OvsOfctl = ReturnType<typeof ovsOfctl>;
