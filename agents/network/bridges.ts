import { existsSync } from 'node:fs';
import type { Ip } from '../../shared/tools/ip.js';
import type { OvsVsctl } from '../../shared/tools/ovs-vsctl.js';

/**
 * The agent's bridges: br-int (VM, DHCP and router ports; a local VLAN per network),
 * br-tun (VXLAN ports, fail-mode secure) joined by the patch ports patch-tun/patch-int,
 * and one provider bridge per physical network (br-ex for "public") joined to br-int by
 * int-<bridge>/phy-<bridge>. All use one datapath type: `netdev` (userspace) when the
 * kernel has no openvswitch module, `system` otherwise, or what the config forces.
 */

export interface BridgeNames {
  int: string;
  tun: string;
  /** physical_network → provider bridge. */
  physical: Record<string, string>;
}

export const PATCH_TUN = 'patch-tun';
export const PATCH_INT = 'patch-int';
/** Patch port names for a provider bridge (Neutron's int-br-ex / phy-br-ex). */
export const intPatchFor = (bridge: string): string => `int-${bridge}`.slice(0, 15);
export const phyPatchFor = (bridge: string): string => `phy-${bridge}`.slice(0, 15);

export const PROTOCOLS = ['OpenFlow10', 'OpenFlow13', 'OpenFlow14'];

/** `auto` → netdev when /sys/module/openvswitch is absent (no kernel datapath), else system. */
export function chooseDatapath(
  setting: 'auto' | 'system' | 'netdev',
  hasKernelModule: () => boolean = () => existsSync('/sys/module/openvswitch'),
): 'system' | 'netdev' {
  if (setting !== 'auto') return setting;
  return hasKernelModule() ? 'system' : 'netdev';
}

/** Creates or re-applies every bridge and patch port. Idempotent; never deletes. */
export async function ensureBridges(vsctl: OvsVsctl, names: BridgeNames, datapath: 'system' | 'netdev'): Promise<void> {
  const owner = { 'homestack-owner': 'network-agent' };
  await vsctl.ensureBridge(names.int, { datapathType: datapath, failMode: 'secure', protocols: PROTOCOLS, externalIds: owner });
  await vsctl.ensureBridge(names.tun, { datapathType: datapath, failMode: 'secure', protocols: PROTOCOLS, externalIds: owner });
  await vsctl.transact([
    ['--may-exist', 'add-port', names.int, PATCH_TUN],
    ['set', 'Interface', PATCH_TUN, 'type=patch', `options:peer=${PATCH_INT}`],
    ['--may-exist', 'add-port', names.tun, PATCH_INT],
    ['set', 'Interface', PATCH_INT, 'type=patch', `options:peer=${PATCH_TUN}`],
  ]);
  for (const bridge of new Set(Object.values(names.physical))) {
    // The provider bridge may already exist with the host's uplink and address (the
    // all-in-one creates it); only its datapath and protocols are set here. Its fail mode
    // stays standalone, so it keeps switching (default NORMAL) until the first sync.
    await vsctl.ensureBridge(bridge, { datapathType: datapath, protocols: PROTOCOLS });
    const ip = intPatchFor(bridge);
    const pp = phyPatchFor(bridge);
    await vsctl.transact([
      ['--may-exist', 'add-port', names.int, ip],
      ['set', 'Interface', ip, 'type=patch', `options:peer=${pp}`],
      ['--may-exist', 'add-port', bridge, pp],
      ['set', 'Interface', pp, 'type=patch', `options:peer=${ip}`],
    ]);
  }
}

/**
 * Puts the host's address on a provider bridge (its LOCAL port) and brings it up, as
 * devstack does for br-ex: the host is then the external network's gateway, which is
 * what routers SNAT to and where floating IPs are reached from. Idempotent
 * (`ip addr replace`). Waits briefly for vswitchd to create the bridge's device.
 */
export async function ensureBridgeAddress(ipTool: Ip, bridge: string, cidr: string): Promise<void> {
  for (let i = 0; i < 40 && !(await ipTool.linkExists(bridge)); i++) await new Promise((r) => setTimeout(r, 50));
  await ipTool.addAddr(bridge, cidr);
  await ipTool.setLink(bridge, { up: true });
}
