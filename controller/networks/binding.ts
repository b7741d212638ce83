import type { HostLite } from './context.js';

/**
 * Host binding (the ML2 mechanism driver's decision): which host serves a network's
 * DHCP and a router (the "network node"), and what a bound port's binding looks like.
 * Pure functions; the services store the result (ports.binding_host_id, routers.host).
 */

/** Hosts that run the network agent (OVS), usable for new placements. */
export function networkHosts(hosts: HostLite[]): HostLite[] {
  return hosts.filter((h) => h.roles.includes('network'));
}

/**
 * The host for a new DHCP server or router: an enabled, up host with the network role,
 * the least loaded first (load = DHCP servers + routers it already has), by name on a
 * tie. Null when there is none yet (the service retries when a host comes up).
 */
export function chooseServiceHost(hosts: HostLite[], load: ReadonlyMap<string, number>): string | null {
  const up = networkHosts(hosts).filter((h) => h.enabled && h.state === 'up');
  const pool = up.length ? up : [];
  if (!pool.length) return null;
  return [...pool].sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || a.name.localeCompare(b.name))[0]!.name;
}

/**
 * True when `name` names a host that still runs the network agent. With
 * `downSince` (failover, opt-in), a host that has been down since before that moment
 * no longer counts: its DHCP servers and routers move to another host.
 */
export function hostIsValid(hosts: HostLite[], name: string, downSince?: string): boolean {
  const h = name ? networkHosts(hosts).find((x) => x.name === name) : undefined;
  if (!h) return false;
  if (downSince && h.state === 'down' && (!h.last_heartbeat_at || h.last_heartbeat_at < downSince)) return false;
  return true;
}

/** binding:vif_type / binding:vif_details as Neutron's OVS mechanism driver reports them. */
export function bindingOf(hostId: string, datapathType = 'system'): { vif_type: string; vif_details: Record<string, unknown> } {
  if (!hostId) return { vif_type: 'unbound', vif_details: {} };
  return {
    vif_type: 'ovs',
    vif_details: {
      port_filter: true,
      connectivity: 'l2',
      bridge_name: 'br-int',
      datapath_type: datapathType,
      ovs_hybrid_plug: false,
    },
  };
}

/** The tap device name a hypervisor uses for a port (house style: 'tap' + 11 characters). */
export const tapName = (portId: string): string => `tap${portId.slice(0, 11)}`;
