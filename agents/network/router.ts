import type { RouterSpec } from '../../shared/agent/network.js';
import type { Runner } from '../../shared/exec/run.js';
import { ethtool } from '../../shared/tools/ethtool.js';
import { ip } from '../../shared/tools/ip.js';
import { nft, replaceTableScript } from '../../shared/tools/nft.js';
import type { OvsPort } from '../../shared/tools/ovs-vsctl.js';
import { sysctl } from '../../shared/tools/sysctl.js';
import { isV4, parseV4Cidr } from '../../shared/util/ip.js';
import { METADATA_IP } from './metadata-proxy.js';
import { deviceName, ownedPortCommands } from './ports.js';

/**
 * L3: a router is a namespace `qrouter-<id>` with IP forwarding on, one `qr-<port[:11]>`
 * interface per internal subnet and a `qg-<port[:11]>` gateway on the external (flat)
 * network. Each is a veth whose host end (`tap<port[:11]>`) sits on br-int with its
 * network's local VLAN (TX checksum offload off on the namespace end, as for DHCP).
 * Floating IPs are /32 addresses on qg- (so the router answers ARP for them) with DNAT
 * in and SNAT out; with enable_snat, other traffic from the internal subnets leaving by
 * qg- is SNATed to the gateway address. NAT is one nftables table replaced atomically.
 * With `metadata`, 169.254.169.254/32 sits on the namespace's lo for the metadata proxy
 * (agents/network/metadata-proxy.ts), and the same table's input chain lets only the
 * internal interfaces reach it (Neutron's L3 agent accepts its proxy port from qr-+ only).
 */

export const routerNamespace = (id: string): string => `qrouter-${id}`;
export const NAT_TABLE = 'ip homestack';

/** The input chain of a router serving metadata: 169.254.169.254 only from its qr- legs (and itself). */
export const METADATA_FILTER =
  '  chain metadata {\n    type filter hook input priority filter; policy accept;\n' +
  `    ip daddr ${METADATA_IP} iifname "qr-*" accept\n` +
  `    ip daddr ${METADATA_IP} iifname "lo" accept\n` +
  `    ip daddr ${METADATA_IP} drop\n` +
  '  }\n';

/** The router's nftables table body: NAT (with a gateway) and the metadata filter (with metadata); '' = no table. */
export function renderRouterTable(r: RouterSpec): string {
  return renderRouterNat(r) + (r.metadata ? METADATA_FILTER : '');
}

/** The nftables table body for a router (empty string = no NAT table). */
export function renderRouterNat(r: RouterSpec): string {
  if (!r.gateway) return '';
  const qg = `qg-${r.gateway.port_id.slice(0, 11)}`;
  const gwIp = r.gateway.ip_cidr.split('/')[0]!;
  const fips = [...r.floating_ips]
    .filter((f) => isV4(f.floating_ip_address) && isV4(f.fixed_ip_address))
    .sort((a, b) => a.floating_ip_address.localeCompare(b.floating_ip_address));
  const internal = [
    ...new Set(
      r.interfaces
        .map((i) => parseV4Cidr(i.ip_cidr))
        .filter((c) => c !== null)
        .map((c) => `${c!.network}/${c!.prefix}`),
    ),
  ].sort();
  const pre = fips.map((f) => `    ip daddr ${f.floating_ip_address} dnat to ${f.fixed_ip_address}\n`).join('');
  const post = [
    ...fips.map((f) => `    oifname "${qg}" ip saddr ${f.fixed_ip_address} snat to ${f.floating_ip_address}\n`),
    ...(r.gateway.enable_snat && internal.length
      ? [`    oifname "${qg}" ip saddr { ${internal.join(', ')} } snat to ${gwIp}\n`]
      : []),
  ].join('');
  return (
    '  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n' +
    pre +
    '  }\n' +
    '  chain output {\n    type nat hook output priority -100; policy accept;\n' +
    pre +
    '  }\n' +
    '  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n' +
    post +
    '  }\n'
  );
}

export interface RouterDeps {
  run: Runner;
  bridge: string;
  transact: (cmds: string[][]) => Promise<void>;
}

interface Leg {
  portId: string;
  networkId: string;
  mac: string;
  nsDev: string;
  addrs: string[];
}

export class RouterManager {
  private readonly ip;
  private readonly eth;
  private readonly nft;
  private readonly sysctl;
  /** Last applied NAT script per router (avoids re-applying an unchanged table). */
  private readonly applied = new Map<string, string>();

  constructor(private readonly d: RouterDeps) {
    this.ip = ip(d.run);
    this.eth = ethtool(d.run);
    this.nft = nft(d.run);
    this.sysctl = sysctl(d.run);
  }

  async list(): Promise<string[]> {
    return (await this.ip.netnsList())
      .filter((n) => n.startsWith('qrouter-'))
      .map((n) => n.slice(8))
      .sort();
  }

  /**
   * Ensures the namespace, every leg, routes and NAT. Idempotent. Returns the OVS port
   * names it owns. `vlanOf`/`mtuOf` give each network's local VLAN and MTU.
   */
  async ensure(
    r: RouterSpec,
    vlanOf: (net: string) => number | null,
    mtuOf: (net: string) => number,
    ovsPorts: Map<string, OvsPort>,
    namespaces?: Set<string>,
  ): Promise<string[]> {
    const ns = routerNamespace(r.id);
    if (!namespaces?.has(ns) || !this.applied.has(r.id)) {
      await this.ip.netnsEnsure(ns);
      await this.sysctl.set('net.ipv4.ip_forward', '1', ns);
    }
    // One entry per (port, subnet): a port on two subnets is one leg with two addresses.
    const byPort = new Map<string, Leg>();
    for (const i of r.interfaces) {
      const leg = byPort.get(i.port_id) ?? {
        portId: i.port_id,
        networkId: i.network_id,
        mac: i.mac,
        nsDev: `qr-${i.port_id.slice(0, 11)}`,
        addrs: [],
      };
      if (!leg.addrs.includes(i.ip_cidr)) leg.addrs.push(i.ip_cidr);
      byPort.set(i.port_id, leg);
    }
    const legs: Leg[] = [...byPort.values()];
    if (r.gateway) {
      const g = r.gateway;
      legs.push({
        portId: g.port_id,
        networkId: g.network_id,
        mac: g.mac,
        nsDev: `qg-${g.port_id.slice(0, 11)}`,
        addrs: [
          g.ip_cidr,
          ...r.floating_ips.filter((f) => isV4(f.floating_ip_address)).map((f) => `${f.floating_ip_address}/32`),
        ],
      });
    }
    const seen = await this.ip.linksAndAddrs(ns);
    const nsLinks = new Map(seen.links.map((l) => [l.ifname, l]));
    const owned: string[] = [];
    for (const leg of legs) {
      const vlan = vlanOf(leg.networkId);
      if (vlan === null) throw new Error(`network ${leg.networkId} of port ${leg.portId} is not in the desired networks`);
      const dev = deviceName(leg.portId);
      const mtu = mtuOf(leg.networkId);
      const cur = nsLinks.get(leg.nsDev);
      if (!cur) {
        await this.ip.delLink(dev);
        await this.ip.addVeth(dev, leg.nsDev, ns);
        await this.eth.txOff(leg.nsDev, ns);
      }
      if (!cur || cur.address !== leg.mac.toLowerCase() || cur.mtu !== mtu || !cur.up) {
        await this.ip.setLink(leg.nsDev, { address: leg.mac, mtu, up: true }, ns);
        await this.ip.setLink(dev, { mtu, up: true });
      }
      const all = cur ? seen.addrs.filter((a) => a.ifname === leg.nsDev) : await this.ip.addrs(ns, leg.nsDev);
      await this.d.transact(
        ownedPortCommands(this.d.bridge, dev, {
          tag: vlan,
          portId: leg.portId,
          mac: leg.mac,
          owner: 'router',
          ownerId: r.id,
          current: ovsPorts.get(dev),
        }),
      );
      owned.push(dev);
      const have = new Set(all.map((a) => `${a.local}/${a.prefixlen}`));
      for (const a of leg.addrs) if (!have.has(a)) await this.ip.addAddr(leg.nsDev, a, ns);
      // stale addresses: every IPv4 one not wanted, IPv6 ones except link-local
      for (const a of all) {
        const c = `${a.local}/${a.prefixlen}`;
        if (!leg.addrs.includes(c) && !(a.family === 'inet6' && a.local.toLowerCase().startsWith('fe80:')))
          await this.ip.delAddr(leg.nsDev, c, ns);
      }
    }
    // legs no longer wanted: deleting the namespace end deletes the pair
    const wanted = new Set(legs.map((l) => l.nsDev));
    for (const name of nsLinks.keys()) if (/^(qr|qg)-/.test(name) && !wanted.has(name)) await this.ip.delLink(name, ns);

    if (r.gateway?.gateway_ip && isV4(r.gateway.gateway_ip)) await this.ip.replaceDefaultRoute(r.gateway.gateway_ip, ns);
    else await this.ip.delDefaultRoute(ns);

    // The metadata proxy's address (the proxy itself listens once it is there: ovs.ts).
    const mdAddr = `${METADATA_IP}/32`;
    const onLo = seen.addrs.some((a) => a.ifname === 'lo' && `${a.local}/${a.prefixlen}` === mdAddr);
    if (r.metadata && !onLo) await this.ip.addAddr('lo', mdAddr, ns);
    if (!r.metadata && onLo) await this.ip.delAddr('lo', mdAddr, ns);

    const body = renderRouterTable(r);
    if (this.applied.get(r.id) !== body) {
      if (body) await this.nft.apply(replaceTableScript(NAT_TABLE, body), ns);
      else await this.nft.deleteTable(NAT_TABLE, ns);
      this.applied.set(r.id, body);
    }
    return owned;
  }

  /** Deletes the namespace (its veths go with it). Succeeds if absent. */
  async remove(id: string): Promise<void> {
    await this.ip.netnsDel(routerNamespace(id));
    this.applied.delete(id);
  }
}
