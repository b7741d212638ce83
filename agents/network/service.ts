import type { NetworkSyncBody, NetworkSyncReply } from '../../shared/agent/network.js';
import type { DesiredState, NetworkDriver } from './driver.js';

export interface ServiceLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}

/**
 * The network role's logic between the routes and the driver: ignores syncs older than
 * the last applied generation, and heals drift locally between controller syncs:
 * every `resyncMs` it re-applies the last desired state, and every `pendingMs` it checks
 * (reads only) whether the device of a DOWN VM port has appeared (libvirt created the
 * tap after the controller's sync) and then syncs, so the port is bound within about a
 * second of its tap appearing. The same check notices a switch that lost its flows
 * (ovs-vswitchd restarted: OpenFlow flows do not survive it) and re-applies them then,
 * rather than leaving the guests cut off until the next periodic resync.
 */
export class NetworkService {
  private generation = 0;
  private timers: NodeJS.Timeout[] = [];
  private busy = false;

  constructor(
    readonly driver: NetworkDriver,
    private readonly log: ServiceLog,
    private readonly o: { resyncMs: number; pendingMs: number; datapath: string; tunnelIp: string } = {
      resyncMs: 60_000,
      pendingMs: 1_000,
      datapath: '',
      tunnelIp: '',
    },
  ) {}

  async sync(body: NetworkSyncBody): Promise<NetworkSyncReply> {
    const t0 = Date.now();
    const gen = body.generation ?? 0;
    if (body.generation !== undefined && gen < this.generation) {
      const st = await this.driver.state();
      return {
        generation: this.generation,
        ignored: true,
        networks: st.networks.map((n) => ({ id: n.id, local_vlan: n.localVlan })),
        ports: st.ports.map((p) => ({ port_id: p.portId, status: p.status })),
        tunnels: { active: st.tunnels, added: [], removed: [] },
        flows: { added: 0, deleted: 0 },
        errors: [],
        duration_ms: Date.now() - t0,
      };
    }
    if (body.generation !== undefined) this.generation = gen;
    const r = await this.driver.sync(body as DesiredState);
    if (r.errors.length)
      this.log.warn({ errors: r.errors.slice(0, 20), count: r.errors.length }, 'network sync converged with errors');
    return {
      generation: this.generation,
      ignored: false,
      networks: r.networks.map((n) => ({ id: n.id, local_vlan: n.localVlan })),
      ports: r.ports.map((p) => ({ port_id: p.portId, status: p.status })),
      tunnels: r.tunnels,
      flows: r.flows,
      errors: r.errors,
      duration_ms: Date.now() - t0,
    };
  }

  async state() {
    const st = await this.driver.state();
    return {
      datapath: this.o.datapath,
      tunnel_ip: this.o.tunnelIp,
      generation: this.generation,
      networks: st.networks.map((n) => ({ id: n.id, local_vlan: n.localVlan })),
      ports: st.ports.map((p) => ({ port_id: p.portId, status: p.status })),
      tunnels: st.tunnels,
      dhcp: st.dhcp.map((d) => ({ network_id: d.networkId, running: d.running })),
      routers: st.routers,
    };
  }

  private async resync(why: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const r = await this.driver.resync();
      if (r.flows.added || r.flows.deleted || r.tunnels.added.length || r.tunnels.removed.length) {
        this.log.info({ why, flows: r.flows, tunnels: r.tunnels }, 'local resync repaired drift');
      }
    } catch (e) {
      this.log.error({ err: e, why }, 'local resync failed');
    } finally {
      this.busy = false;
    }
  }

  /** Why a sync is due now (reads only), or undefined. */
  private async pending(): Promise<string | undefined> {
    if (this.driver.flowsLost && (await this.driver.flowsLost())) return 'the switch lost its flows (ovs-vswitchd restarted)';
    if (this.driver.downPortsAppeared && (await this.driver.downPortsAppeared())) return 'a DOWN port appeared';
    return undefined;
  }

  /** Starts the timers (first a sync of the state saved by the previous run). */
  start(): void {
    void this.resync('start');
    if (this.o.resyncMs > 0) this.timers.push(setInterval(() => void this.resync('periodic'), this.o.resyncMs));
    if (this.o.pendingMs > 0) {
      this.timers.push(
        setInterval(() => {
          if (this.busy) return;
          this.pending().then(
            (why) => (why ? this.resync(why) : undefined),
            () => undefined,
          );
        }, this.o.pendingMs),
      );
    }
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.driver.close();
  }
}
