import type { Runner } from '../exec/run.js';

/**
 * ovs-vsctl, the one module that runs it (house style 3.5): every call carries
 * `--timeout=10`, creation uses `--may-exist` and deletion `--if-exists`, reads use
 * `-f json` and are parsed in exactly one function (`parseOvsTable`).
 */

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/;
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export class OvsVsctlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvsVsctlError';
  }
}

/** A bridge, port or interface name as Linux accepts it (≤15 characters). */
export function checkName(n: string): string {
  if (!NAME_RE.test(n)) throw new OvsVsctlError(`bad OVS name: ${JSON.stringify(n)}`);
  return n;
}

function checkKey(k: string): string {
  if (!KEY_RE.test(k)) throw new OvsVsctlError(`bad OVS key: ${JSON.stringify(k)}`);
  return k;
}

/** Quotes a value for an ovs-vsctl column argument (`key="value"`). */
function q(v: string): string {
  if (/[\0\n"\\]/.test(v)) throw new OvsVsctlError(`bad OVS value: ${JSON.stringify(v)}`);
  return `"${v}"`;
}

export type OvsValue = string | number | boolean | null | OvsValue[] | { [k: string]: string };

/** Decodes one OVSDB JSON datum: ["map",[[k,v]...]] → object, ["set",[...]] → array, ["uuid",u] → u. */
export function decodeDatum(d: unknown): OvsValue {
  if (!Array.isArray(d)) return d as OvsValue;
  const [tag, v] = d as [string, unknown];
  if (tag === 'map')
    return Object.fromEntries((v as Array<[unknown, unknown]>).map(([k, x]) => [String(decodeDatum(k)), String(decodeDatum(x))]));
  if (tag === 'set') return (v as unknown[]).map((x) => decodeDatum(x));
  if (tag === 'uuid' || tag === 'named-uuid') return v as string;
  return d as OvsValue;
}

/** Parses `ovs-vsctl -f json list|find ...` output into rows keyed by column. */
export function parseOvsTable(stdout: string): Array<Record<string, OvsValue>> {
  if (!stdout.trim()) return [];
  const doc = JSON.parse(stdout) as { headings: string[]; data: unknown[][] };
  return doc.data.map((row) => Object.fromEntries(doc.headings.map((h, i) => [h, decodeDatum(row[i])])));
}

/** An empty set ([]) means "no value" for optional columns such as `tag` and `ofport`. */
export function scalar<T extends string | number>(v: OvsValue | undefined): T | null {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return null;
  return v as T;
}

export interface OvsInterface {
  name: string;
  /** -1 when the device is missing (e.g. a tap whose VM is gone); null before vswitchd assigns one. */
  ofport: number | null;
  type: string;
  externalIds: Record<string, string>;
  options: Record<string, string>;
  macInUse: string | null;
}

export interface OvsPort {
  name: string;
  tag: number | null;
  externalIds: Record<string, string>;
}

export interface AddPortOptions {
  tag?: number;
  type?: 'internal' | 'patch' | 'vxlan' | 'system';
  options?: Record<string, string>;
  externalIds?: Record<string, string>;
  /** Port-level external_ids (ownership marks). */
  portExternalIds?: Record<string, string>;
  ofportRequest?: number;
}

export interface BridgeOptions {
  datapathType: 'system' | 'netdev';
  failMode?: 'secure' | 'standalone';
  protocols?: string[];
  externalIds?: Record<string, string>;
}

const BASE = ['--timeout=10'];

function mapArgs(column: string, m: Record<string, string> | undefined): string[] {
  return Object.entries(m ?? {}).map(([k, v]) => `${column}:${checkKey(k)}=${q(v)}`);
}

/** The argv (after `--timeout=10`) that adds a port with its interface settings, as one transaction. */
export function addPortArgs(bridge: string, port: string, o: AddPortOptions = {}): string[] {
  const a = ['--may-exist', 'add-port', checkName(bridge), checkName(port)];
  if (o.tag !== undefined) a.push(`tag=${checkTag(o.tag)}`);
  const iface = [
    ...(o.type ? [`type=${o.type}`] : []),
    ...mapArgs('options', o.options),
    ...mapArgs('external_ids', o.externalIds),
    ...(o.ofportRequest !== undefined ? [`ofport_request=${o.ofportRequest}`] : []),
  ];
  if (iface.length) a.push('--', 'set', 'Interface', port, ...iface);
  const p = mapArgs('external_ids', o.portExternalIds);
  if (p.length) a.push('--', 'set', 'Port', port, ...p);
  return a;
}

function checkTag(t: number): number {
  if (!Number.isInteger(t) || t < 0 || t > 4095) throw new OvsVsctlError(`bad VLAN tag: ${t}`);
  return t;
}

export const ovsVsctl = (run: Runner) => {
  const vs = (args: string[]) => run('ovs-vsctl', [...BASE, ...args]);
  return {
    /** Creates the bridge if missing and (re)applies its settings; idempotent. */
    ensureBridge: async (name: string, o: BridgeOptions): Promise<void> => {
      const set = [`datapath_type=${o.datapathType}`];
      if (o.failMode) set.push(`fail_mode=${o.failMode}`);
      if (o.protocols?.length) set.push(`protocols=${o.protocols.join(',')}`);
      set.push(...mapArgs('external_ids', o.externalIds));
      await vs(['--may-exist', 'add-br', checkName(name), '--', 'set', 'Bridge', name, ...set]);
    },
    delBridge: async (name: string): Promise<void> => {
      await vs(['--if-exists', 'del-br', checkName(name)]);
    },
    listBridges: async (): Promise<string[]> => (await vs(['list-br'])).stdout.split('\n').filter(Boolean),
    addPort: async (bridge: string, port: string, o: AddPortOptions = {}): Promise<void> => {
      await vs(addPortArgs(bridge, port, o));
    },
    /** Removes the port from whatever bridge holds it; succeeds if absent. */
    delPort: async (port: string): Promise<void> => {
      await vs(['--if-exists', 'del-port', checkName(port)]);
    },
    /** Several del-port in one transaction. */
    delPorts: async (ports: string[]): Promise<void> => {
      if (!ports.length) return;
      const a: string[] = [];
      for (const p of ports) a.push('--', '--if-exists', 'del-port', checkName(p));
      await vs(a.slice(1));
    },
    setPortTag: async (port: string, tag: number): Promise<void> => {
      await vs(['set', 'Port', checkName(port), `tag=${checkTag(tag)}`]);
    },
    /** Many `set Port X tag=N` in one transaction. */
    setPortTags: async (tags: Array<{ port: string; tag: number }>): Promise<void> => {
      if (!tags.length) return;
      const a: string[] = [];
      for (const t of tags) a.push('--', 'set', 'Port', checkName(t.port), `tag=${checkTag(t.tag)}`);
      await vs(a.slice(1));
    },
    listPortsOf: async (bridge: string): Promise<string[]> =>
      (await vs(['list-ports', checkName(bridge)])).stdout.split('\n').filter(Boolean),
    interfaces: async (): Promise<OvsInterface[]> =>
      parseOvsTable(
        (await vs(['-f', 'json', '--columns=name,ofport,type,external_ids,options,mac_in_use', 'list', 'Interface'])).stdout,
      ).map((r) => ({
        name: String(r.name),
        ofport: scalar<number>(r.ofport),
        type: String(r.type ?? ''),
        externalIds: (r.external_ids ?? {}) as Record<string, string>,
        options: (r.options ?? {}) as Record<string, string>,
        macInUse: scalar<string>(r.mac_in_use),
      })),
    ports: async (): Promise<OvsPort[]> =>
      parseOvsTable((await vs(['-f', 'json', '--columns=name,tag,external_ids', 'list', 'Port'])).stdout).map((r) => ({
        name: String(r.name),
        tag: scalar<number>(r.tag),
        externalIds: (r.external_ids ?? {}) as Record<string, string>,
      })),
    /** Runs several commands in one transaction: each inner array is one command. */
    transact: async (commands: string[][]): Promise<void> => {
      if (!commands.length) return;
      const a: string[] = [];
      for (const c of commands) a.push('--', ...c);
      await vs(a.slice(1));
    },
    /** `ovs-vsctl --no-wait init` (test harness, fresh database). */
    init: async (): Promise<void> => {
      await run('ovs-vsctl', [...BASE, '--no-wait', 'init']);
    },
  };
};
export type OvsVsctl = ReturnType<typeof ovsVsctl>;
