import { chmod, mkdir, readFile, rename, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DhcpSpec } from '../../shared/agent/network.js';
import type { Runner } from '../../shared/exec/run.js';
import {
  dnsmasq,
  dnsmasqArgs,
  parseLeases,
  renderHostsFile,
  renderOptsFile,
  staleLeases,
  type SubnetOptions,
} from '../../shared/tools/dnsmasq.js';
import { ethtool } from '../../shared/tools/ethtool.js';
import { ip } from '../../shared/tools/ip.js';
import type { OvsPort } from '../../shared/tools/ovs-vsctl.js';
import { isV4, parseV4Cidr, inV4Cidr } from '../../shared/util/ip.js';
import { METADATA_IP } from './metadata-proxy.js';
import { deviceName, ownedPortCommands } from './ports.js';

/**
 * DHCP: one dnsmasq per network in its own namespace `qdhcp-<network id>`, plugged into
 * br-int by a veth (host end `tap<port[:11]>` on br-int with the network's VLAN, namespace
 * end `ns-<port[:11]>` with the DHCP port's MAC and addresses). TX checksum offload is off
 * on the namespace end: OVS internal ports cannot be moved into a namespace with the
 * netdev datapath, and veth frames with partial checksums are dropped by receivers
 * (multihost recipe §8.1–8.2).
 *
 * Reload, not restart: when only hosts or options change, the files are rewritten and
 * dnsmasq gets SIGHUP; it is restarted only when its command line changes (subnets, MTU).
 */

export const dhcpNamespace = (networkId: string): string => `qdhcp-${networkId}`;
export const nsDeviceName = (portId: string): string => `ns-${portId.slice(0, 11)}`;

export interface DhcpDeps {
  run: Runner;
  /** <data_dir>/dhcp */
  dir: string;
  bridge: string;
  transact: (cmds: string[][]) => Promise<void>;
  domain: string;
  log?: { warn(o: object, m?: string): void };
}

function alive(pid: number, pidFile: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(pidFile);
  } catch {
    return false;
  }
}

async function readText(p: string): Promise<string | null> {
  try {
    return await readFile(p, 'utf8');
  } catch {
    return null;
  }
}

async function writeIfChanged(p: string, text: string): Promise<boolean> {
  if ((await readText(p)) === text) return false;
  await writeFile(`${p}.tmp`, text, { mode: 0o644 });
  await rename(`${p}.tmp`, p);
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host route to 169.254.169.254 via the DHCP port's address in subnet `s`. */
function metadataRoute(spec: DhcpSpec, s: DhcpSpec['subnets'][number]): Array<{ destination: string; nexthop: string }> {
  const a = spec.port.fixed_ips.find(
    (f) => isV4(f.ip_address) && (f.subnet_id ? f.subnet_id === s.id : inV4Cidr(f.ip_address, s.cidr)),
  );
  return a && !s.host_routes.some((r) => r.destination === `${METADATA_IP}/32`)
    ? [{ destination: `${METADATA_IP}/32`, nexthop: a.ip_address }]
    : [];
}

export class DhcpManager {
  private readonly ip;
  private readonly eth;
  private readonly dm;
  constructor(private readonly d: DhcpDeps) {
    this.ip = ip(d.run);
    this.eth = ethtool(d.run);
    this.dm = dnsmasq(d.run);
  }

  private paths(networkId: string) {
    const dir = join(this.d.dir, networkId);
    return {
      dir,
      pid: join(dir, 'pid'),
      hosts: join(dir, 'host'),
      opts: join(dir, 'opts'),
      leases: join(dir, 'leases'),
      args: join(dir, 'args.json'),
      log: join(dir, 'dnsmasq.log'),
    };
  }

  /** The pid of the running dnsmasq, or null. */
  pidOf(networkId: string): number | null {
    const p = this.paths(networkId);
    try {
      const pid = Number(readFileSync(p.pid, 'utf8').trim());
      return pid > 0 && alive(pid, p.pid) ? pid : null;
    } catch {
      return null;
    }
  }

  /** Network ids with DHCP state on this host (directories or namespaces). */
  async list(): Promise<string[]> {
    const ids = new Set<string>();
    try {
      for (const e of await readdir(this.d.dir)) ids.add(e);
    } catch {
      /* no directory yet */
    }
    for (const ns of await this.ip.netnsList()) if (ns.startsWith('qdhcp-')) ids.add(ns.slice(6));
    return [...ids].sort();
  }

  /**
   * Ensures namespace, veth, OVS port (tag `vlan`), addresses, files and the process.
   * Idempotent. Returns the OVS port name (for the flows and the stale-port sweep).
   */
  async ensure(spec: DhcpSpec, vlan: number, ovsPort: OvsPort | undefined, namespaces?: Set<string>): Promise<string> {
    const ns = dhcpNamespace(spec.network_id);
    const dev = deviceName(spec.port.port_id);
    const nsDev = nsDeviceName(spec.port.port_id);
    const p = this.paths(spec.network_id);
    await mkdir(p.dir, { recursive: true });
    await searchableByDnsmasq(p.dir);
    if (!namespaces?.has(ns)) await this.ip.netnsEnsure(ns);
    const seen = await this.ip.linksAndAddrs(ns);
    const nsLinks = new Map(seen.links.map((l) => [l.ifname, l]));
    let cur = nsLinks.get(nsDev);
    if (!cur) {
      await this.ip.delLink(dev);
      await this.ip.addVeth(dev, nsDev, ns);
      await this.eth.txOff(nsDev, ns);
    }
    if (!cur || cur.address !== spec.port.mac.toLowerCase() || cur.mtu !== spec.mtu || !cur.up) {
      await this.ip.setLink(nsDev, { address: spec.port.mac, mtu: spec.mtu, up: true }, ns);
      await this.ip.setLink(dev, { mtu: spec.mtu, up: true });
      cur = undefined;
    }
    await this.d.transact(
      ownedPortCommands(this.d.bridge, dev, {
        tag: vlan,
        portId: spec.port.port_id,
        mac: spec.port.mac,
        owner: 'dhcp',
        ownerId: spec.network_id,
        current: ovsPort,
      }),
    );

    // addresses: the DHCP port's address in each IPv4 subnet
    const v4 = spec.subnets.filter((s) => s.ip_version === 4 && parseV4Cidr(s.cidr));
    const want = new Set<string>();
    const served: typeof v4 = [];
    for (const s of v4) {
      const c = parseV4Cidr(s.cidr)!;
      const a = spec.port.fixed_ips.find(
        (f) => isV4(f.ip_address) && (f.subnet_id ? f.subnet_id === s.id : inV4Cidr(f.ip_address, s.cidr)),
      );
      if (!a) continue;
      want.add(`${a.ip_address}/${c.prefix}`);
      served.push(s);
    }
    if (spec.metadata) want.add(`${METADATA_IP}/32`);
    const have = new Set(
      (cur ? seen.addrs.filter((a) => a.ifname === nsDev) : await this.ip.addrs(ns, nsDev))
        .filter((a) => a.family === 'inet')
        .map((a) => `${a.local}/${a.prefixlen}`),
    );
    for (const a of want) if (!have.has(a)) await this.ip.addAddr(nsDev, a, ns);
    for (const a of have) if (!want.has(a)) await this.ip.delAddr(nsDev, a, ns);

    // files and process
    const tag = (id: string) => `subnet-${id}`;
    const hosts = spec.hosts
      .filter((h) => isV4(h.ip_address))
      .map((h) => ({ mac: h.mac, ip: h.ip_address, hostname: h.hostname }));
    const opts: SubnetOptions[] = served.map((s) => ({
      tag: tag(s.id),
      router: s.gateway_ip && isV4(s.gateway_ip) ? s.gateway_ip : null,
      dnsServers: s.dns_nameservers.filter(isV4),
      routes: [
        ...s.host_routes.filter((r) => isV4(r.nexthop) && parseV4Cidr(r.destination)),
        // Guests reach the metadata service through this namespace on every network,
        // routed or not (Neutron's DHCP agent with force_metadata).
        ...(spec.metadata ? metadataRoute(spec, s) : []),
      ],
    }));
    const filesChanged = [
      await writeIfChanged(p.hosts, renderHostsFile(hosts, this.d.domain)),
      await writeIfChanged(p.opts, renderOptsFile(opts)),
    ].some(Boolean);
    const args = dnsmasqArgs({
      interface: nsDev,
      pidFile: p.pid,
      hostsFile: p.hosts,
      optsFile: p.opts,
      leaseFile: p.leases,
      ranges: served.map((s) => {
        const c = parseV4Cidr(s.cidr)!;
        return { tag: tag(s.id), network: c.network, netmask: c.netmask, leaseSeconds: spec.lease_seconds ?? 86400 };
      }),
      leaseMax: Math.min(
        served.reduce((n, s) => n + parseV4Cidr(s.cidr)!.size, 0),
        1 << 24,
      ),
      domain: spec.dns_domain || this.d.domain,
      mtu: spec.mtu,
      logFile: p.log,
    });
    const argsText = JSON.stringify(args);
    const pid = this.pidOf(spec.network_id);
    // Leases of addresses no longer given to that MAC (a deleted port's address handed
    // to a new port) would make dnsmasq refuse the address to its new owner for a day.
    const stale = staleLeases(parseLeases((await readText(p.leases)) ?? ''), hosts);
    if (pid && (await readText(p.args)) === argsText) {
      if (filesChanged) process.kill(pid, 'SIGHUP');
      for (const l of stale) {
        await this.dm
          .release(ns, nsDev, l)
          .catch((err: Error) =>
            this.d.log?.warn({ network: spec.network_id, ip: l.ip, err: err.message }, 'could not release a stale DHCP lease'),
          );
      }
      return dev;
    }
    if (pid) await this.stop(pid, p.pid);
    if (!served.length) return dev; // no DHCP-enabled IPv4 subnet: nothing to serve
    if (stale.length) {
      // dnsmasq is stopped: drop them from its lease file before it reads it.
      const drop = new Set(stale.map((l) => l.line));
      await writeFile(
        p.leases,
        ((await readText(p.leases)) ?? '')
          .split('\n')
          .filter((l) => l.trim() && !drop.has(l))
          .map((l) => `${l}\n`)
          .join(''),
      );
    }
    await this.dm.start(ns, args);
    await writeFile(p.args, argsText);
    return dev;
  }

  private async stop(pid: number, pidFile: string): Promise<void> {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 50 && alive(pid, pidFile); i++) await sleep(20);
    if (alive(pid, pidFile)) process.kill(pid, 'SIGKILL');
  }

  /** Stops dnsmasq, deletes the namespace (its veth goes with it) and the files. Succeeds if absent. */
  async remove(networkId: string): Promise<void> {
    const p = this.paths(networkId);
    const pid = this.pidOf(networkId);
    if (pid) await this.stop(pid, p.pid);
    await this.ip.netnsDel(dhcpNamespace(networkId));
    await rm(p.dir, { recursive: true, force: true });
  }
}

/**
 * dnsmasq starts as root, then drops to `nobody` and re-reads its hosts and options
 * files as that user on every SIGHUP. Every directory above them must therefore grant
 * search permission to others (o+x: traverse only, nothing becomes listable), or the
 * reload fails with "Permission denied" and new ports get "no address available"
 * (the agent's data_dir is created 0700).
 */
export async function searchableByDnsmasq(dir: string): Promise<void> {
  for (let d = resolve(dir); d !== dirname(d); d = dirname(d)) {
    const st = await stat(d).catch(() => null);
    if (st && !(st.mode & 0o001)) await chmod(d, (st.mode & 0o7777) | 0o001);
  }
}
