import type { NetworkSpec, TunnelPeer } from '../../shared/agent/network.js';
import type { OvsInterface, OvsVsctl } from '../../shared/tools/ovs-vsctl.js';
import type { TunnelReport } from './driver.js';
import { isV4, toInt } from '../../shared/util/ip.js';

/**
 * VXLAN tunnel ports on br-tun (house style 3.2 "Tunnels"): one port per peer, named
 * `vxlan-<8 hex digits of the peer's IPv4>`, with options remote_ip, local_ip,
 * key=flow and df_default=true. A port exists only while at least one local network
 * floods to that peer; when the last one goes, the port goes.
 */

export const TUNNEL_PREFIX = 'vxlan-';

/** `192.0.2.2` → `vxlan-c0000202`. */
export function tunnelPortName(ip: string): string {
  if (!isV4(ip)) throw new Error(`tunnel peer is not an IPv4 address: ${JSON.stringify(ip)}`);
  return `${TUNNEL_PREFIX}${toInt(ip).toString(16).padStart(8, '0')}`;
}

export const isTunnelPort = (name: string): boolean => /^vxlan-[0-9a-f]{8}$/.test(name);

/**
 * The peers each vxlan network floods to (its `peers`, or every peer when omitted),
 * without this host's own address, and the union of them: the tunnel ports wanted.
 */
export function floodPlan(
  networks: NetworkSpec[],
  tunnels: TunnelPeer[],
  localIp: string,
): { perNetwork: Map<string, string[]>; wanted: string[] } {
  const all = [...new Set(tunnels.map((t) => t.ip))].filter((ip) => ip !== localIp);
  const perNetwork = new Map<string, string[]>();
  const wanted = new Set<string>();
  for (const n of networks) {
    if (n.type !== 'vxlan') continue;
    const peers = [...new Set(n.peers ?? all)].filter((ip) => ip !== localIp && isV4(ip)).sort();
    perNetwork.set(n.id, peers);
    for (const p of peers) wanted.add(p);
  }
  return { perNetwork, wanted: [...wanted].sort() };
}

/** Adds missing tunnel ports and deletes unwanted ones in one ovs-vsctl transaction. */
export async function reconcileTunnels(
  vsctl: OvsVsctl,
  o: { bridge: string; localIp: string; wanted: string[]; existing: OvsInterface[]; peers: TunnelPeer[] },
): Promise<TunnelReport> {
  const have = new Map(o.existing.filter((i) => isTunnelPort(i.name)).map((i) => [i.name, i]));
  const wantNames = new Map(o.wanted.map((ip) => [tunnelPortName(ip), ip]));
  const cmds: string[][] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const [name, ip] of wantNames) {
    const cur = have.get(name);
    const ok =
      cur &&
      cur.type === 'vxlan' &&
      cur.options.remote_ip === ip &&
      cur.options.local_ip === o.localIp &&
      cur.options.key === 'flow';
    if (ok) continue;
    if (cur) cmds.push(['--if-exists', 'del-port', name]);
    const host = o.peers.find((p) => p.ip === ip)?.host;
    cmds.push(['--may-exist', 'add-port', o.bridge, name]);
    cmds.push([
      'set',
      'Interface',
      name,
      'type=vxlan',
      `options:remote_ip=${ip}`,
      `options:local_ip=${o.localIp}`,
      'options:key=flow',
      'options:df_default=true',
      ...(host && /^[A-Za-z0-9_.-]{1,255}$/.test(host) ? [`external_ids:peer-host=${host}`] : []),
    ]);
    added.push(ip);
  }
  for (const [name, i] of have) {
    if (wantNames.has(name)) continue;
    cmds.push(['--if-exists', 'del-port', name]);
    removed.push(i.options.remote_ip ?? name);
  }
  await vsctl.transact(cmds);
  return { active: [...wantNames.values()].sort(), added: added.sort(), removed: removed.sort() };
}
