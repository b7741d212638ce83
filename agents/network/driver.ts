import type {
  DhcpSpec,
  NetworkSpec,
  NetworkSyncBody,
  PortSpec,
  RouterSpec,
  SecurityGroupSpec,
  SyncError,
  TunnelPeer,
} from '../../shared/agent/network.js';

/** The whole desired state of one host (the contract's sync body). */
export type DesiredState = NetworkSyncBody;

export const emptyState = (): DesiredState => ({
  tunnels: [],
  networks: [],
  ports: [],
  security_groups: [],
  dhcp: [],
  routers: [],
});

export interface DriverInfo {
  datapath: 'system' | 'netdev';
  tunnelIp: string;
  bridges: string[];
}

export interface TunnelReport {
  active: string[];
  added: string[];
  removed: string[];
}

export interface SyncResult {
  networks: Array<{ id: string; localVlan: number }>;
  ports: Array<{ portId: string; status: 'ACTIVE' | 'DOWN' }>;
  tunnels: TunnelReport;
  flows: { added: number; deleted: number };
  errors: SyncError[];
}

export interface DriverState {
  networks: Array<{ id: string; localVlan: number }>;
  ports: Array<{ portId: string; status: 'ACTIVE' | 'DOWN' }>;
  tunnels: string[];
  dhcp: Array<{ networkId: string; running: boolean }>;
  routers: string[];
}

/**
 * The network agent's driver: Open vSwitch + VXLAN (`ovs`) or in-memory (`fake`),
 * chosen from DRIVERS in main.ts by `network.driver`.
 *
 * The primary operation is `sync(desired)`: the controller always sends the whole set.
 * The finer methods below are conveniences that change one part of the last desired
 * state and converge with `sync`, so both paths share one implementation.
 */
export interface NetworkDriver {
  /**
   * Ensures br-int, br-tun (fail-mode secure), the patch ports and the provider bridges,
   * with the datapath type chosen by config (netdev when the kernel has no openvswitch
   * module). Idempotent (run at every agent start). Partial failure: throws; whatever
   * was created stays and the next init completes it. Never deletes anything.
   */
  init(): Promise<DriverInfo>;

  /**
   * Converges the host to `desired` (whole sets): adds what is missing, changes what
   * differs, removes what this agent owns and is no longer wanted (flows without this
   * agent's cookie, tunnel ports no network floods to, qdhcp-/qrouter- namespaces and
   * agent-owned OVS ports not in the set; VM ports not in the set go to the dead VLAN).
   * Idempotent: a second call with the same body adds and deletes no flow. Partial
   * failure: a failing item is reported in `errors` and the rest still converges; the
   * next sync retries it. Absent things are not an error (a VM port whose tap does not
   * exist yet is reported DOWN and bound as soon as it appears).
   */
  sync(desired: DesiredState): Promise<SyncResult>;

  /** What exists now (read-only). */
  state(): Promise<DriverState>;

  /**
   * The whole desired set of tunnel peers: add missing ports, delete unused ones.
   * Idempotent; partial failure reported in the result's errors by `sync`.
   */
  syncTunnels(peers: TunnelPeer[]): Promise<TunnelReport>;
  /** Allocates the local VLAN and installs the network's flows. Idempotent. */
  ensureNetwork(n: NetworkSpec): Promise<{ localVlan: number }>;
  /** Removes the network's flows and frees its VLAN; succeeds if absent. */
  releaseNetwork(id: string): Promise<void>;
  /** br-int port by iface-id, VLAN tag, anti-spoofing and security-group flows. Idempotent; DOWN until the device exists. */
  plugPort(p: PortSpec, groups?: SecurityGroupSpec[]): Promise<{ status: 'ACTIVE' | 'DOWN' }>;
  /** Dead VLAN and no flows for the port (the OVS row is libvirt's); succeeds if absent. */
  unplugPort(portId: string): Promise<void>;
  /** Rewrites the hosts and opts files; starts dnsmasq or sends SIGHUP. Idempotent. */
  ensureDhcp(networkId: string, d: DhcpSpec): Promise<void>;
  /** Stops dnsmasq, deletes its namespace and port; succeeds if absent. */
  removeDhcp(networkId: string): Promise<void>;
  /** Router namespace, qr-/qg- interfaces, SNAT and floating IP rules. Idempotent. */
  ensureRouter(r: RouterSpec): Promise<void>;
  /** Deletes the router namespace and its ports; succeeds if absent. */
  removeRouter(id: string): Promise<void>;

  /**
   * True when a VM port that was DOWN at the last sync now has its device (an OVS row
   * with its iface-id, or its tap): a sync would bind it. Cheap (reads only), so the
   * agent can poll it every second without re-running the whole sync.
   */
  downPortsAppeared?(): Promise<boolean>;

  /** True when the switch lost the flows a sync installed (its daemon restarted). Cheap (reads only). */
  flowsLost?(): Promise<boolean>;

  /**
   * Converges again to the last desired state, read when this call's turn comes after
   * every sync queued before it (so it never undoes one of them). The agent's periodic
   * and triggered local resyncs use it.
   */
  resync(): Promise<SyncResult>;

  /** The desired state the driver last converged to (or restored at init). */
  lastDesired(): DesiredState;

  /** Stops background work (not the datapath: guests keep their network). */
  close(): Promise<void>;
}

/**
 * The finer methods expressed on top of `sync` (shared by every driver): each edits the
 * last desired state and converges.
 */
export abstract class SyncBackedDriver implements NetworkDriver {
  protected desired: DesiredState = emptyState();
  private queue: Promise<unknown> = Promise.resolve();

  abstract init(): Promise<DriverInfo>;
  abstract state(): Promise<DriverState>;
  abstract close(): Promise<void>;

  /**
   * Converges to one desired state and records it as `desired`. Never called twice at
   * once: every sync, resync and edit goes through one queue, in call order.
   */
  protected abstract apply(desired: DesiredState): Promise<SyncResult>;

  lastDesired(): DesiredState {
    return this.desired;
  }

  sync(desired: DesiredState): Promise<SyncResult> {
    return this.converge(() => desired);
  }

  resync(): Promise<SyncResult> {
    return this.converge(() => this.desired);
  }

  /** Resolves once every sync queued so far has finished. */
  protected idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /**
   * Queues one convergence; `make` runs when its turn comes, so it sees what the syncs
   * before it left. (Reading the desired state at call time let a periodic resync that
   * raced a controller sync re-apply the state from before it: the security group rule
   * the controller had just added was deleted again until the next sync.)
   */
  private converge(make: () => DesiredState): Promise<SyncResult> {
    const p = this.queue.then(() => this.apply(make()));
    this.queue = p.catch(() => undefined);
    return p;
  }

  protected throwIfErrors(r: SyncResult, kind: SyncError['kind'], id: string): SyncResult {
    const e = r.errors.find((x) => x.kind === kind && x.id === id);
    if (e) throw new Error(`${kind} ${id}: ${e.message}`);
    return r;
  }

  /** Edits the desired state as it stands when the edit's turn comes, and converges. */
  private edit(f: (d: DesiredState) => DesiredState): Promise<SyncResult> {
    return this.converge(() => f(structuredClone(this.desired)));
  }

  async syncTunnels(peers: TunnelPeer[]): Promise<TunnelReport> {
    return (await this.edit((d) => ({ ...d, tunnels: peers }))).tunnels;
  }
  async ensureNetwork(n: NetworkSpec): Promise<{ localVlan: number }> {
    const r = this.throwIfErrors(
      await this.edit((d) => ({ ...d, networks: [...d.networks.filter((x) => x.id !== n.id), n] })),
      'network',
      n.id,
    );
    return { localVlan: r.networks.find((x) => x.id === n.id)!.localVlan };
  }
  async releaseNetwork(id: string): Promise<void> {
    await this.edit((d) => ({ ...d, networks: d.networks.filter((x) => x.id !== id) }));
  }
  async plugPort(p: PortSpec, groups: SecurityGroupSpec[] = []): Promise<{ status: 'ACTIVE' | 'DOWN' }> {
    const r = this.throwIfErrors(
      await this.edit((d) => ({
        ...d,
        ports: [...d.ports.filter((x) => x.port_id !== p.port_id), p],
        security_groups: [...d.security_groups.filter((g) => !groups.some((x) => x.id === g.id)), ...groups],
      })),
      'port',
      p.port_id,
    );
    return { status: r.ports.find((x) => x.portId === p.port_id)?.status ?? 'DOWN' };
  }
  async unplugPort(portId: string): Promise<void> {
    await this.edit((d) => ({ ...d, ports: d.ports.filter((x) => x.port_id !== portId) }));
  }
  async ensureDhcp(networkId: string, s: DhcpSpec): Promise<void> {
    this.throwIfErrors(
      await this.edit((d) => ({ ...d, dhcp: [...d.dhcp.filter((x) => x.network_id !== networkId), s] })),
      'dhcp',
      networkId,
    );
  }
  async removeDhcp(networkId: string): Promise<void> {
    await this.edit((d) => ({ ...d, dhcp: d.dhcp.filter((x) => x.network_id !== networkId) }));
  }
  async ensureRouter(r: RouterSpec): Promise<void> {
    this.throwIfErrors(
      await this.edit((d) => ({ ...d, routers: [...d.routers.filter((x) => x.id !== r.id), r] })),
      'router',
      r.id,
    );
  }
  async removeRouter(id: string): Promise<void> {
    await this.edit((d) => ({ ...d, routers: d.routers.filter((x) => x.id !== id) }));
  }
}
