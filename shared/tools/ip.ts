import type { Runner, RunOptions } from '../exec/run.js';

/**
 * iproute2 `ip`, the one module that runs it. Reads use `ip -j` (JSON); every function
 * takes an optional network namespace name (`ip -n NS ...`). `netnsExec` is how other
 * tool modules run their tool inside a namespace (`ip netns exec NS tool ...`).
 */

const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/;
const NS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const CIDR_RE = /^[0-9a-fA-F:.]+\/\d{1,3}$/;
const ADDR_RE = /^[0-9a-fA-F:.]+$/;

export class IpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpError';
  }
}

export const checkIfname = (n: string): string => {
  if (!IFNAME_RE.test(n)) throw new IpError(`bad interface name: ${JSON.stringify(n)}`);
  return n;
};
export const checkNs = (n: string): string => {
  if (!NS_RE.test(n)) throw new IpError(`bad namespace name: ${JSON.stringify(n)}`);
  return n;
};
const checkMac = (m: string): string => {
  if (!MAC_RE.test(m)) throw new IpError(`bad MAC address: ${JSON.stringify(m)}`);
  return m.toLowerCase();
};
const checkCidr = (c: string): string => {
  if (!CIDR_RE.test(c)) throw new IpError(`bad address/prefix: ${JSON.stringify(c)}`);
  return c;
};
const checkAddr = (a: string): string => {
  if (!ADDR_RE.test(a)) throw new IpError(`bad address: ${JSON.stringify(a)}`);
  return a;
};

export interface Link {
  ifname: string;
  address: string;
  mtu: number;
  up: boolean;
  kind: string | null;
}

export interface AddrInfo {
  ifname: string;
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
}

/** Parses `ip -j link show`. */
export function parseLinks(stdout: string): Link[] {
  if (!stdout.trim()) return [];
  return (
    JSON.parse(stdout) as Array<{
      ifname: string;
      address?: string;
      mtu: number;
      flags?: string[];
      linkinfo?: { info_kind?: string };
    }>
  ).map((l) => ({
    ifname: l.ifname,
    address: l.address ?? '',
    mtu: l.mtu,
    up: (l.flags ?? []).includes('UP'),
    kind: l.linkinfo?.info_kind ?? null,
  }));
}

/** Parses `ip -j addr show` into one entry per address. */
export function parseAddrs(stdout: string): AddrInfo[] {
  if (!stdout.trim()) return [];
  const out: AddrInfo[] = [];
  for (const l of JSON.parse(stdout) as Array<{
    ifname: string;
    addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
  }>) {
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      out.push({ ifname: l.ifname, family: a.family, local: a.local, prefixlen: a.prefixlen });
    }
  }
  return out;
}

export const ip = (run: Runner) => {
  const ipn = (ns: string | undefined, args: string[], o?: RunOptions) => run('ip', ns ? ['-n', checkNs(ns), ...args] : args, o);
  return {
    links: async (ns?: string): Promise<Link[]> => parseLinks((await ipn(ns, ['-j', '-d', 'link', 'show'])).stdout),
    linkExists: async (name: string, ns?: string): Promise<boolean> =>
      (await ipn(ns, ['-j', 'link', 'show', 'dev', checkIfname(name)], { okCodes: [0, 1, 255] })).code === 0,
    /** Links and their addresses from one `ip -j addr show` (what a converge loop needs, in one exec). */
    linksAndAddrs: async (ns?: string): Promise<{ links: Link[]; addrs: AddrInfo[] }> => {
      const out = (await ipn(ns, ['-j', 'addr', 'show'])).stdout;
      return { links: parseLinks(out), addrs: parseAddrs(out) };
    },
    addrs: async (ns?: string, dev?: string): Promise<AddrInfo[]> =>
      parseAddrs((await ipn(ns, ['-j', 'addr', 'show', ...(dev ? ['dev', checkIfname(dev)] : [])])).stdout),
    /** A veth pair: `name` in `ns` (or here), `peer` inside `peerNs`. */
    addVeth: async (name: string, peer: string, peerNs: string, ns?: string): Promise<void> => {
      await ipn(ns, [
        'link',
        'add',
        checkIfname(name),
        'type',
        'veth',
        'peer',
        'name',
        checkIfname(peer),
        'netns',
        checkNs(peerNs),
      ]);
    },
    /** Succeeds if absent. */
    delLink: async (name: string, ns?: string): Promise<void> => {
      await ipn(ns, ['link', 'del', checkIfname(name)], { okCodes: [0, 1, 255] });
    },
    setLink: async (name: string, o: { up?: boolean; mtu?: number; address?: string }, ns?: string): Promise<void> => {
      const a = ['link', 'set', 'dev', checkIfname(name)];
      if (o.address) a.push('address', checkMac(o.address));
      if (o.mtu !== undefined) a.push('mtu', String(Math.trunc(o.mtu)));
      if (o.up !== undefined) a.push(o.up ? 'up' : 'down');
      await ipn(ns, a);
    },
    /** Adds the address; an address already present is not an error. */
    addAddr: async (dev: string, cidr: string, ns?: string): Promise<void> => {
      await ipn(ns, ['addr', 'replace', checkCidr(cidr), 'dev', checkIfname(dev)]);
    },
    delAddr: async (dev: string, cidr: string, ns?: string): Promise<void> => {
      await ipn(ns, ['addr', 'del', checkCidr(cidr), 'dev', checkIfname(dev)], { okCodes: [0, 2, 255] });
    },
    replaceDefaultRoute: async (via: string, ns?: string): Promise<void> => {
      await ipn(ns, ['route', 'replace', 'default', 'via', checkAddr(via)]);
    },
    delDefaultRoute: async (ns?: string): Promise<void> => {
      await ipn(ns, ['route', 'del', 'default'], { okCodes: [0, 2, 255] });
    },
    netnsList: async (): Promise<string[]> => {
      const out = (await run('ip', ['-j', 'netns', 'list'])).stdout.trim();
      return out ? (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name) : [];
    },
    /** Creates the namespace (with lo up) if missing. */
    netnsEnsure: async (ns: string): Promise<void> => {
      const r = await run('ip', ['netns', 'add', checkNs(ns)], { okCodes: [0, 1] });
      if (r.code === 1 && !/exists/i.test(r.stderr)) throw new IpError(`ip netns add ${ns}: ${r.stderr.trim()}`);
      await run('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    },
    /** Succeeds if absent. */
    netnsDel: async (ns: string): Promise<void> => {
      await run('ip', ['netns', 'del', checkNs(ns)], { okCodes: [0, 1] });
    },
    /** Runs `argv` inside `ns` (argv[0] is the program; it must be checked by its own module). */
    netnsExec: (ns: string, argv: string[], o?: RunOptions) => run('ip', ['netns', 'exec', checkNs(ns), ...argv], o),
  };
};
export type Ip = ReturnType<typeof ip>;
