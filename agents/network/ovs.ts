import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkSpec, SecurityGroupSpec, SyncError } from '../../shared/agent/network.js';
import type { Runner } from '../../shared/exec/run.js';
import { ip } from '../../shared/tools/ip.js';
import { flowLine, ovsOfctl, strictMatch } from '../../shared/tools/ovs-ofctl.js';
import { ovsAppctl } from '../../shared/tools/ovs-appctl.js';
import { ovsVsctl, type OvsInterface } from '../../shared/tools/ovs-vsctl.js';
import {
  chooseDatapath,
  ensureBridgeAddress,
  ensureBridges,
  intPatchFor,
  PATCH_INT,
  PATCH_TUN,
  phyPatchFor,
  type BridgeNames,
} from './bridges.js';
import { DhcpManager, dhcpNamespace } from './dhcp.js';
import { MetadataProxies, routerProxyKey, type MetadataProxyDeps } from './metadata-proxy.js';
import {
  emptyState,
  SyncBackedDriver,
  type DesiredState,
  type DriverInfo,
  type DriverState,
  type SyncResult,
  type TunnelReport,
} from './driver.js';
import { agentCookie, INT, learnCookie, renderFlows, TUN, type FlowModel, type FlowPort } from './flows.js';
import { deviceName, OWNER, planVmPorts, staleOwnedPorts } from './ports.js';
import { RouterManager, routerNamespace } from './router.js';
import { allowedSources, compilePortRules } from './security-groups.js';
import { floodPlan, isTunnelPort, reconcileTunnels, tunnelPortName } from './tunnels.js';
import { LocalVlans } from './vlans.js';

export interface OvsDriverOptions {
  run: Runner;
  hostname: string;
  /** <data_dir>/network: local VLANs, last desired state, DHCP files. */
  stateDir: string;
  tunnelIp: string;
  datapath: 'auto' | 'system' | 'netdev';
  bridges: BridgeNames;
  dnsDomain?: string;
  /** The host's address on each provider bridge (bridge → "a.b.c.d/n"), set at init. */
  bridgeAddresses?: Record<string, string>;
  log?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  /** The controller and this host's credential, for the metadata proxies; absent: no metadata service. */
  metadata?: Pick<MetadataProxyDeps, 'controllerUrl' | 'secret' | 'listen'>;
}

/** Runs `f` over `items` with at most `limit` at a time (independent DHCP servers converge in parallel). */
async function eachLimited<T>(items: T[], limit: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Open vSwitch + VXLAN driver (house style 3.2). One `sync` converges everything, in
 * this order: local VLANs → tunnel ports → VM port tags → DHCP → routers → stale
 * agent-owned ports → flows on every bridge (rendered whole, applied as a diff).
 * Syncs are serialized.
 */
export class OvsDriver extends SyncBackedDriver {
  private readonly vsctl;
  private readonly ofctl;
  private readonly ip;
  private readonly appctl;
  private readonly vlans: LocalVlans;
  private readonly dhcp: DhcpManager;
  private readonly routers: RouterManager;
  private readonly metadata: MetadataProxies | null;
  readonly cookie: bigint;
  private datapath: 'system' | 'netdev' = 'netdev';
  private lastStatus = new Map<string, 'ACTIVE' | 'DOWN'>();
  /** br-int got this agent's flows from a sync of this process. */
  private flowsApplied = false;

  constructor(private readonly o: OvsDriverOptions) {
    super();
    this.vsctl = ovsVsctl(o.run);
    this.ofctl = ovsOfctl(o.run);
    this.ip = ip(o.run);
    this.appctl = ovsAppctl(o.run);
    this.vlans = new LocalVlans(join(o.stateDir, 'local-vlans.json'));
    this.cookie = agentCookie(o.hostname);
    const transact = (c: string[][]) => this.vsctl.transact(c);
    this.dhcp = new DhcpManager({
      run: o.run,
      dir: join(o.stateDir, 'dhcp'),
      bridge: o.bridges.int,
      transact,
      domain: o.dnsDomain ?? 'openstacklocal',
      log: o.log,
    });
    this.routers = new RouterManager({ run: o.run, bridge: o.bridges.int, transact });
    this.metadata = o.metadata ? new MetadataProxies({ ...o.metadata, log: o.log }) : null;
  }

  /** The desired state saved by the last sync (survives agent restarts). */
  savedState(): DesiredState {
    try {
      return JSON.parse(readFileSync(join(this.o.stateDir, 'desired.json'), 'utf8')) as DesiredState;
    } catch {
      return emptyState();
    }
  }

  async init(): Promise<DriverInfo> {
    this.datapath = chooseDatapath(this.o.datapath);
    await ensureBridges(this.vsctl, this.o.bridges, this.datapath);
    for (const [bridge, cidr] of Object.entries(this.o.bridgeAddresses ?? {}))
      if (cidr) await ensureBridgeAddress(this.ip, bridge, cidr);
    this.desired = this.savedState();
    return { datapath: this.datapath, tunnelIp: this.o.tunnelIp, bridges: await this.vsctl.listBridges() };
  }

  async downPortsAppeared(): Promise<boolean> {
    const adminDown = new Set(this.desired.ports.filter((p) => p.admin_state_up === false).map((p) => p.port_id));
    const down = [...this.lastStatus].filter(([id, st]) => st === 'DOWN' && !adminDown.has(id)).map(([id]) => id);
    if (!down.length) return false;
    const ifaces = await this.vsctl.interfaces();
    const live = new Set(
      ifaces.filter((i) => (i.ofport ?? 0) > 0 && i.externalIds['iface-id']).map((i) => i.externalIds['iface-id']!),
    );
    if (down.some((id) => live.has(id))) return true;
    const links = new Set((await this.ip.links()).map((l) => l.ifname));
    return down.some((id) => links.has(deviceName(id)));
  }

  /**
   * True when br-int has none of this agent's flows in its TRANSIENT table (which a
   * sync always fills) although a sync put them there: ovs-vswitchd restarted and
   * forgot every OpenFlow flow. Reads only; polled every second by the service.
   */
  async flowsLost(): Promise<boolean> {
    if (!this.flowsApplied) return false;
    const f = await this.ofctl.dumpFlows(this.o.bridges.int, `table=${INT.TRANSIENT},cookie=0x${this.cookie.toString(16)}/-1`);
    return f.length === 0;
  }

  protected async apply(desired: DesiredState): Promise<SyncResult> {
    const errors: SyncError[] = [];
    const B = this.o.bridges;

    // 1. networks and local VLANs
    const nets = new Map<string, NetworkSpec>();
    for (const n of desired.networks) {
      if (n.type === 'vxlan' && !n.vni) errors.push({ kind: 'network', id: n.id, message: 'a vxlan network needs a vni' });
      else if (n.type === 'flat' && !(n.physical_network && B.physical[n.physical_network])) {
        errors.push({
          kind: 'network',
          id: n.id,
          message: `physical_network ${JSON.stringify(n.physical_network ?? null)} is not mapped to a bridge on this host`,
        });
      } else nets.set(n.id, n);
    }
    this.vlans.retain(new Set(nets.keys()));
    for (const id of nets.keys()) this.vlans.ensure(id);
    this.vlans.save();
    const vlanOf = (id: string) => (nets.has(id) ? this.vlans.get(id) : null);
    const mtuOf = (id: string) => nets.get(id)?.mtu ?? 1500;

    // 2. tunnels
    let ifaces = await this.vsctl.interfaces();
    const plan = floodPlan([...nets.values()], desired.tunnels, this.o.tunnelIp);
    let tunnels: TunnelReport = { active: [], added: [], removed: [] };
    const tunPorts = new Set(await this.vsctl.listPortsOf(B.tun));
    try {
      tunnels = await reconcileTunnels(this.vsctl, {
        bridge: B.tun,
        localIp: this.o.tunnelIp,
        wanted: plan.wanted,
        existing: ifaces.filter((i) => tunPorts.has(i.name)),
        peers: desired.tunnels,
      });
    } catch (e) {
      errors.push({ kind: 'tunnel', id: '*', message: msg(e) });
    }

    // 3. VM ports
    const ovsPorts = await this.vsctl.ports();
    const portByName = new Map(ovsPorts.map((p) => [p.name, p]));
    const onInt = new Set(await this.vsctl.listPortsOf(B.int));
    const vmPorts = desired.ports.filter((p) => {
      if (vlanOf(p.network_id) !== null) return true;
      errors.push({ kind: 'port', id: p.port_id, message: `network ${p.network_id} is not in the desired networks` });
      return false;
    });
    const links = new Set((await this.ip.links()).map((l) => l.ifname));
    const portPlan = planVmPorts({
      bridge: B.int,
      desired: vmPorts,
      vlanOf,
      interfaces: ifaces,
      ports: ovsPorts,
      links,
      onBridge: onInt,
    });
    try {
      await this.vsctl.transact(portPlan.commands);
    } catch (e) {
      for (const p of vmPorts) errors.push({ kind: 'port', id: p.port_id, message: msg(e) });
    }

    // 4. DHCP and 5. routers (agent-owned ports)
    const namespaces = new Set(await this.ip.netnsList());
    const owned = new Set<string>();
    const wantDhcp = new Set<string>();
    await eachLimited(desired.dhcp, 4, async (d) => {
      const vlan = vlanOf(d.network_id);
      if (vlan === null) {
        errors.push({ kind: 'dhcp', id: d.network_id, message: 'the network is not in the desired networks' });
        return;
      }
      wantDhcp.add(d.network_id);
      try {
        owned.add(await this.dhcp.ensure(d, vlan, portByName.get(deviceName(d.port.port_id)), namespaces));
        if (this.metadata && d.metadata)
          await this.metadata.ensure(d.network_id, dhcpNamespace(d.network_id), d.metadata.instances);
        else await this.metadata?.remove(d.network_id);
      } catch (e) {
        owned.add(deviceName(d.port.port_id));
        errors.push({ kind: 'dhcp', id: d.network_id, message: msg(e) });
      }
    });
    for (const id of await this.dhcp.list()) {
      if (wantDhcp.has(id)) continue;
      try {
        await this.metadata?.remove(id); // its socket would keep the namespace alive
        await this.dhcp.remove(id);
      } catch (e) {
        errors.push({ kind: 'dhcp', id, message: msg(e) });
      }
    }
    const wantRouters = new Set(desired.routers.map((r) => r.id));
    for (const r of desired.routers) {
      try {
        for (const n of await this.routers.ensure(r, vlanOf, mtuOf, portByName, namespaces)) owned.add(n);
        if (this.metadata && r.metadata)
          await this.metadata.ensure(routerProxyKey(r.id), routerNamespace(r.id), r.metadata.instances);
        else await this.metadata?.remove(routerProxyKey(r.id));
      } catch (e) {
        for (const leg of [...r.interfaces, ...(r.gateway ? [r.gateway] : [])]) owned.add(deviceName(leg.port_id));
        errors.push({ kind: 'router', id: r.id, message: msg(e) });
      }
    }
    for (const id of await this.routers.list()) {
      if (wantRouters.has(id)) continue;
      try {
        await this.metadata?.remove(routerProxyKey(id)); // its socket would keep the namespace alive
        await this.routers.remove(id);
      } catch (e) {
        errors.push({ kind: 'router', id, message: msg(e) });
      }
    }

    // 6. stale agent-owned ports, then the flows from the final set of ports
    ifaces = await this.vsctl.interfaces();
    try {
      await this.vsctl.delPorts(staleOwnedPorts(ifaces, owned));
    } catch (e) {
      errors.push({ kind: 'port', id: '*', message: `removing stale ports: ${msg(e)}` });
    }
    ifaces = await this.vsctl.interfaces();
    const flows = { added: 0, deleted: 0 };
    try {
      const ownedNet = new Map<string, string>(desired.dhcp.map((d) => [d.port.port_id, d.network_id]));
      for (const r of desired.routers)
        for (const leg of [...r.interfaces, ...(r.gateway ? [r.gateway] : [])]) ownedNet.set(leg.port_id, leg.network_id);
      const model = this.flowModel(ifaces, nets, plan.perNetwork, vmPorts, desired.security_groups, errors, ownedNet);
      for (const [bridge, lines] of renderFlows(model, { int: B.int, tun: B.tun })) {
        const r = await this.applyFlows(bridge, lines, bridge === B.tun);
        flows.added += r.added;
        flows.deleted += r.deleted;
      }
      await this.flushChangedZones(model.ports);
    } catch (e) {
      errors.push({ kind: 'flows', id: '*', message: msg(e) });
    }

    // 7. statuses, and remember the state
    const byIfaceId = new Map(
      ifaces.filter((i) => i.externalIds['iface-id'] && !i.externalIds[OWNER]).map((i) => [i.externalIds['iface-id']!, i]),
    );
    const status = new Map<string, 'ACTIVE' | 'DOWN'>();
    for (const p of vmPorts) {
      const i = byIfaceId.get(p.port_id);
      status.set(p.port_id, portPlan.status.get(p.port_id) === 'ACTIVE' && i && (i.ofport ?? 0) > 0 ? 'ACTIVE' : 'DOWN');
    }
    this.lastStatus = status;
    this.flowsApplied = true;
    this.desired = desired;
    this.saveState(desired);
    return {
      networks: [...nets.keys()].map((id) => ({ id, localVlan: this.vlans.get(id)! })),
      ports: [...status].map(([portId, s]) => ({ portId, status: s })),
      tunnels,
      flows,
      errors,
    };
  }

  private flowModel(
    ifaces: OvsInterface[],
    nets: Map<string, NetworkSpec>,
    flood: Map<string, string[]>,
    vmPorts: DesiredState['ports'],
    groupsList: SecurityGroupSpec[],
    errors: SyncError[],
    ownedNet: Map<string, string>,
  ): FlowModel {
    const ofport = new Map(ifaces.filter((i) => (i.ofport ?? 0) > 0).map((i) => [i.name, i.ofport!]));
    const B = this.o.bridges;
    const groups = new Map(groupsList.map((g) => [g.id, g]));
    const ports: FlowPort[] = [];
    const byIfaceId = new Map(
      ifaces.filter((i) => i.externalIds['iface-id'] && (i.ofport ?? 0) > 0).map((i) => [i.externalIds['iface-id']!, i]),
    );
    for (const p of vmPorts) {
      const i = byIfaceId.get(p.port_id);
      const vlan = this.vlans.get(p.network_id);
      if (!i || i.externalIds[OWNER] || vlan === null || p.admin_state_up === false) continue;
      const rules = p.port_security ? compilePortRules(p, groups) : { egress: [], ingress: [], missing: [] };
      for (const g of rules.missing)
        errors.push({
          kind: 'security_group',
          id: g,
          message: `port ${p.port_id} uses security group ${g}, which is not in the sync`,
        });
      ports.push({
        ofport: i.ofport!,
        vlan,
        mac: p.mac.toLowerCase(),
        protected: p.port_security,
        allowed: allowedSources(p),
        egress: rules.egress,
        ingress: rules.ingress,
        ...(p.live_migration && p.port_security ? { migration: p.live_migration } : {}),
      });
    }
    for (const i of ifaces) {
      const netId = i.externalIds[OWNER] ? ownedNet.get(i.externalIds['iface-id'] ?? '') : undefined;
      if (!netId || (i.ofport ?? 0) <= 0) continue;
      const vlan = this.vlans.get(netId);
      if (vlan !== null) ports.push({ ofport: i.ofport!, vlan, mac: '', protected: false, allowed: [], egress: [], ingress: [] });
    }
    return {
      cookie: this.cookie,
      patchTun: ofport.get(PATCH_TUN) ?? null,
      patchInt: ofport.get(PATCH_INT) ?? null,
      tunnelPorts: ifaces
        .filter((i) => isTunnelPort(i.name) && (i.ofport ?? 0) > 0)
        .map((i) => i.ofport!)
        .sort((a, b) => a - b),
      networks: [...nets.values()].map((n) => {
        const bridge = n.type === 'flat' ? B.physical[n.physical_network!] : undefined;
        const intOf = bridge ? ofport.get(intPatchFor(bridge)) : undefined;
        const phyOf = bridge ? ofport.get(phyPatchFor(bridge)) : undefined;
        return {
          vlan: this.vlans.get(n.id)!,
          vni: n.type === 'vxlan' ? n.vni! : null,
          flood: (flood.get(n.id) ?? [])
            .map((peer) => ofport.get(tunnelPortName(peer)))
            .filter((x): x is number => x !== undefined),
          ...(bridge && intOf && phyOf ? { phys: { bridge, intOfport: intOf, phyOfport: phyOf } } : {}),
        };
      }),
      ports,
      physBridges: [...new Set(Object.values(B.physical))],
    };
  }

  /**
   * When a port's rules narrow, connections they admitted must not live on in conntrack
   * (Neutron deletes them too): each port whose rule set changed gets its zone (= ofport)
   * flushed. A port seen for the first time has nothing to flush.
   */
  private async flushChangedZones(ports: FlowPort[]): Promise<void> {
    const next = new Map<number, string>();
    for (const p of ports) if (p.protected) next.set(p.ofport, JSON.stringify([p.mac, p.allowed, p.egress, p.ingress]));
    for (const [zone, sig] of next) {
      const before = this.zoneRules.get(zone);
      if (before !== undefined && before !== sig) await this.appctl.flushConntrack(zone);
    }
    this.zoneRules = next;
  }

  private zoneRules = new Map<number, string>();

  /** Applies `lines` to `bridge` as a diff: add what is missing/changed, delete the rest (learned flows excepted). */
  private async applyFlows(bridge: string, lines: string[], isTun: boolean): Promise<{ added: number; deleted: number }> {
    const diff = await this.ofctl.diffFlows(bridge, lines.join('\n') + '\n');
    const plus = diff.filter((d) => d.sign === '+');
    const plusKeys = new Set(plus.map(strictMatch));
    const learned = learnCookie(this.cookie);
    const minus = diff.filter(
      (d) =>
        d.sign === '-' &&
        !plusKeys.has(strictMatch(d)) &&
        !(d.cookie === learned && d.table === (isTun ? TUN.UCAST_TO_TUN : INT.MOVING_WHERE)),
    );
    await this.ofctl.addFlows(bridge, plus.map(flowLine).join('\n') + '\n');
    await this.ofctl.delFlowsStrict(bridge, minus.map(strictMatch).join('\n') + '\n');
    return { added: plus.length, deleted: minus.length };
  }

  private saveState(d: DesiredState): void {
    mkdirSync(this.o.stateDir, { recursive: true });
    const f = join(this.o.stateDir, 'desired.json');
    writeFileSync(`${f}.tmp`, JSON.stringify(d));
    renameSync(`${f}.tmp`, f);
  }

  async state(): Promise<DriverState> {
    const ifaces = await this.vsctl.interfaces();
    return {
      networks: this.vlans.entries(),
      ports: [...this.lastStatus].map(([portId, status]) => ({ portId, status })),
      tunnels: ifaces
        .filter((i) => isTunnelPort(i.name))
        .map((i) => i.options.remote_ip ?? '')
        .filter(Boolean)
        .sort(),
      dhcp: (await this.dhcp.list()).map((networkId) => ({ networkId, running: this.dhcp.pidOf(networkId) !== null })),
      routers: await this.routers.list(),
    };
  }

  get datapathType(): 'system' | 'netdev' {
    return this.datapath;
  }

  async close(): Promise<void> {
    await this.idle();
    await this.metadata?.closeAll();
  }

  /** The metadata proxies (tests and diagnostics). */
  get metadataProxies(): MetadataProxies | null {
    return this.metadata;
  }
}
