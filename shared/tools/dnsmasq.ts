import type { Runner } from '../exec/run.js';
import { checkIfname, checkNs } from './ip.js';

/**
 * dnsmasq, the one module that builds its command line and files, following Neutron's
 * `neutron/agent/linux/dhcp.py`: static ranges only (`<net>,static,<mask>,<lease>`),
 * `--dhcp-hostsfile` (MAC → address, one line per port), `--dhcp-optsfile` (router,
 * DNS, MTU, classless routes, tagged per subnet), `--dhcp-leasefile`, `--pid-file` and
 * `--bind-dynamic`. A reload is "rewrite the hosts and opts files, send SIGHUP";
 * dnsmasq re-reads both on SIGHUP without dropping leases.
 */

const PATH_RE = /^\/[A-Za-z0-9_./-]+$/;
const TAG_RE = /^[A-Za-z0-9_-]{1,64}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const V4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const DEV_RE = /^[A-Za-z0-9_.-]{1,15}$/;

export class DnsmasqError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsmasqError';
  }
}

function check(re: RegExp, v: string, what: string): string {
  if (!re.test(v)) throw new DnsmasqError(`bad ${what}: ${JSON.stringify(v)}`);
  return v;
}

export interface DnsmasqRange {
  /** Tag set on clients of this subnet (options in the opts file refer to it). */
  tag: string;
  network: string;
  netmask: string;
  leaseSeconds: number;
}

export interface DnsmasqConfig {
  interface: string;
  pidFile: string;
  hostsFile: string;
  optsFile: string;
  leaseFile: string;
  ranges: DnsmasqRange[];
  /** Upper bound of leases (Neutron: the subnet sizes). */
  leaseMax: number;
  domain: string;
  /** Option 26, interface MTU. */
  mtu: number;
  logFile?: string;
}

/** The argv after `dnsmasq` (order is stable so a change is detectable by comparison). */
export function dnsmasqArgs(c: DnsmasqConfig): string[] {
  const a = [
    '--no-hosts',
    '--no-resolv',
    '--port=0',
    '--except-interface=lo',
    `--pid-file=${check(PATH_RE, c.pidFile, 'pid file')}`,
    `--dhcp-hostsfile=${check(PATH_RE, c.hostsFile, 'hosts file')}`,
    `--dhcp-optsfile=${check(PATH_RE, c.optsFile, 'opts file')}`,
    `--dhcp-leasefile=${check(PATH_RE, c.leaseFile, 'lease file')}`,
    `--interface=${checkIfname(c.interface)}`,
    '--bind-dynamic',
    '--dhcp-authoritative',
    `--dhcp-lease-max=${Math.max(1, Math.trunc(c.leaseMax))}`,
    `--domain=${check(/^[A-Za-z0-9.-]{1,253}$/, c.domain, 'domain')}`,
    `--dhcp-option-force=option:mtu,${Math.trunc(c.mtu)}`,
    '--conf-file=/dev/null',
  ];
  for (const r of c.ranges) {
    a.push(
      `--dhcp-range=set:${check(TAG_RE, r.tag, 'tag')},${check(V4_RE, r.network, 'network')},static,${check(V4_RE, r.netmask, 'netmask')},${Math.trunc(r.leaseSeconds)}s`,
    );
  }
  if (c.logFile) a.push(`--log-facility=${check(PATH_RE, c.logFile, 'log file')}`, '--log-dhcp');
  return a;
}

export interface HostEntry {
  mac: string;
  ip: string;
  hostname?: string;
}

/** The `--dhcp-hostsfile` content: `mac,hostname.domain,ip` per port, sorted by MAC (stable). */
export function renderHostsFile(hosts: HostEntry[], domain: string): string {
  return [...hosts]
    .sort((x, y) => x.mac.localeCompare(y.mac) || x.ip.localeCompare(y.ip))
    .map((h) => {
      const mac = check(MAC_RE, h.mac, 'MAC').toLowerCase();
      const ipAddr = check(V4_RE, h.ip, 'IPv4 address');
      const name = h.hostname
        ? `${check(HOST_RE, h.hostname, 'hostname')}.${domain}`
        : `host-${ipAddr.replace(/\./g, '-')}.${domain}`;
      return `${mac},${name},${ipAddr}\n`;
    })
    .join('');
}

export interface SubnetOptions {
  tag: string;
  /** null = no router option (Neutron sends an empty option 3). */
  router: string | null;
  dnsServers: string[];
  /** Classless static routes (option 121 and 249), destination CIDR → next hop. */
  routes: Array<{ destination: string; nexthop: string }>;
}

/** The `--dhcp-optsfile` content, one block per subnet. */
export function renderOptsFile(subnets: SubnetOptions[]): string {
  const lines: string[] = [];
  for (const s of subnets) {
    const t = `tag:${check(TAG_RE, s.tag, 'tag')}`;
    lines.push(s.router ? `${t},option:router,${check(V4_RE, s.router, 'router')}` : `${t},option:router`);
    if (s.dnsServers.length)
      lines.push(`${t},option:dns-server,${s.dnsServers.map((d) => check(V4_RE, d, 'DNS server')).join(',')}`);
    if (s.routes.length) {
      const r = s.routes.map(
        (x) => `${check(/^[\d.]+\/\d{1,2}$/, x.destination, 'route')},${check(V4_RE, x.nexthop, 'next hop')}`,
      );
      // With classless routes the client ignores option 3, so the default route goes in too (as Neutron does).
      if (s.router && !s.routes.some((x) => x.destination === '0.0.0.0/0')) r.push(`0.0.0.0/0,${s.router}`);
      lines.push(`${t},option:classless-static-route,${r.join(',')}`, `${t},249,${r.join(',')}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** A line of dnsmasq's lease file: `<expiry> <mac> <ip> <hostname> <client-id>`. */
export interface Lease {
  mac: string;
  ip: string;
  clientId: string | null;
  line: string;
}

export function parseLeases(text: string): Lease[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((line) => {
      const [, mac, ip, , clientId] = line.trim().split(/\s+/);
      return mac && ip && MAC_RE.test(mac) && V4_RE.test(ip)
        ? [{ mac: mac.toLowerCase(), ip, clientId: clientId && clientId !== '*' ? clientId : null, line }]
        : [];
    });
}

/**
 * Leases that no longer match the hosts file: an address leased to a MAC that is not
 * given that address any more (a deleted port's, or the address now belongs to another
 * port). dnsmasq would refuse the address to its new owner ("not using configured
 * address … because it is leased to …") until the old lease expires, a day later.
 */
export function staleLeases(leases: Lease[], hosts: HostEntry[]): Lease[] {
  const want = new Set(hosts.map((h) => `${h.mac.toLowerCase()} ${h.ip}`));
  return leases.filter((l) => !want.has(`${l.mac} ${l.ip}`));
}

export const dnsmasq = (run: Runner) => ({
  /**
   * Tells the dnsmasq serving `dev` in `ns` to forget a lease (dnsmasq-utils'
   * `dhcp_release`, what Neutron's DHCP agent runs when a port goes).
   */
  release: async (ns: string, dev: string, l: Lease): Promise<void> => {
    await run(
      'ip',
      [
        'netns',
        'exec',
        checkNs(ns),
        'dhcp_release',
        check(DEV_RE, dev, 'device'),
        check(V4_RE, l.ip, 'IPv4 address'),
        check(MAC_RE, l.mac, 'MAC'),
        ...(l.clientId && /^[0-9a-f:]+$/i.test(l.clientId) ? [l.clientId] : []),
      ],
      { timeoutMs: 10_000 },
    );
  },
  /** Starts dnsmasq inside `ns`; it daemonizes and writes its pid file. */
  start: async (ns: string, args: string[]): Promise<void> => {
    await run('ip', ['netns', 'exec', checkNs(ns), 'dnsmasq', ...args], { timeoutMs: 15_000 });
  },
  version: async (): Promise<string> => (await run('dnsmasq', ['--version'])).stdout.split('\n')[0] ?? '',
});
