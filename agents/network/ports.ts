import type { PortSpec } from '../../shared/agent/network.js';
import type { OvsInterface, OvsPort } from '../../shared/tools/ovs-vsctl.js';
import { DEAD_VLAN } from './flows.js';

/**
 * Ports on br-int.
 *
 * VM ports belong to libvirt: it creates the tap (`tap` + first 11 characters of the port
 * id) and, with `<virtualport type='openvswitch'>`, the OVS row carrying
 * `external_ids:iface-id=PORT_ID`. The agent finds the row by iface-id and sets the
 * network's local VLAN tag; with `<interface type='ethernet'>` (no virtualport) it adds
 * the existing tap itself. A port whose device is not there yet is DOWN and bound by a
 * later sync (the agent re-syncs while ports are DOWN). Rows with an iface-id that is not
 * wanted go to the dead VLAN, or are deleted when their device is gone (as os-vif does).
 *
 * DHCP and router ports belong to the agent (`external_ids:homestack-owner`), are created
 * by dhcp.ts/router.ts, and are deleted here when no longer wanted.
 */

export const OWNER = 'homestack-owner';

/** The device name of a port (Nova/Neutron: 'tap' + port_id[:11]). */
export const deviceName = (portId: string): string => `tap${portId.slice(0, 11)}`;

export interface PortPlan {
  /** ovs-vsctl commands, one transaction. */
  commands: string[][];
  status: Map<string, 'ACTIVE' | 'DOWN'>;
}

/** Works out what to change for VM ports; pure (tested without OVS). */
export function planVmPorts(o: {
  bridge: string;
  desired: PortSpec[];
  vlanOf: (networkId: string) => number | null;
  interfaces: OvsInterface[];
  ports: OvsPort[];
  /** Links present in the host namespace (for type='ethernet' taps not yet in OVS). */
  links: Set<string>;
  /** Names of ports on the bridge. */
  onBridge: Set<string>;
}): PortPlan {
  const commands: string[][] = [];
  const status = new Map<string, 'ACTIVE' | 'DOWN'>();
  const tagOf = new Map(o.ports.map((p) => [p.name, p.tag]));
  const byIfaceId = new Map<string, OvsInterface>();
  for (const i of o.interfaces) {
    const id = i.externalIds['iface-id'];
    if (id && !i.externalIds[OWNER] && o.onBridge.has(i.name)) byIfaceId.set(id, i);
  }
  const wanted = new Set<string>();
  for (const p of o.desired) {
    wanted.add(p.port_id);
    const vlan = o.vlanOf(p.network_id);
    const tag = vlan === null || p.admin_state_up === false ? DEAD_VLAN : vlan;
    const i = byIfaceId.get(p.port_id);
    if (i) {
      if (tagOf.get(i.name) !== tag) commands.push(['set', 'Port', i.name, `tag=${tag}`]);
      status.set(p.port_id, i.ofport !== null && i.ofport > 0 && tag !== DEAD_VLAN ? 'ACTIVE' : 'DOWN');
      continue;
    }
    const dev = deviceName(p.port_id);
    if (o.links.has(dev) && !o.onBridge.has(dev)) {
      commands.push(['--may-exist', 'add-port', o.bridge, dev, `tag=${tag}`]);
      commands.push([
        'set',
        'Interface',
        dev,
        `external_ids:iface-id=${p.port_id}`,
        `external_ids:attached-mac=${p.mac.toLowerCase()}`,
        'external_ids:iface-status=active',
      ]);
      status.set(p.port_id, tag !== DEAD_VLAN ? 'ACTIVE' : 'DOWN');
    } else {
      status.set(p.port_id, 'DOWN');
    }
  }
  for (const [id, i] of byIfaceId) {
    if (wanted.has(id)) continue;
    if (i.ofport === -1) commands.push(['--if-exists', 'del-port', i.name]);
    else if (tagOf.get(i.name) !== DEAD_VLAN) commands.push(['set', 'Port', i.name, `tag=${DEAD_VLAN}`]);
  }
  return { commands, status };
}

/** Agent-owned ports (DHCP, router) that are no longer wanted. */
export function staleOwnedPorts(interfaces: OvsInterface[], wantedNames: Set<string>): string[] {
  return interfaces
    .filter((i) => i.externalIds[OWNER] && !wantedNames.has(i.name))
    .map((i) => i.name)
    .sort();
}

/** ovs-vsctl commands that plug an agent-owned veth end into br-int with its tag. */
export function ownedPortCommands(
  bridge: string,
  dev: string,
  o: { tag: number; portId: string; mac: string; owner: 'dhcp' | 'router'; ownerId: string; current?: OvsPort },
): string[][] {
  if (o.current) return o.current.tag === o.tag ? [] : [['set', 'Port', dev, `tag=${o.tag}`]];
  return [
    ['--may-exist', 'add-port', bridge, dev, `tag=${o.tag}`],
    [
      'set',
      'Interface',
      dev,
      `external_ids:iface-id=${o.portId}`,
      `external_ids:attached-mac=${o.mac.toLowerCase()}`,
      'external_ids:iface-status=active',
      `external_ids:${OWNER}=${o.owner}`,
      `external_ids:homestack-owner-id=${o.ownerId}`,
    ],
  ];
}
