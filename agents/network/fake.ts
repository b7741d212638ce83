import { SyncBackedDriver, type DesiredState, type DriverInfo, type DriverState, type SyncResult } from './driver.js';
import { floodPlan } from './tunnels.js';
import { LocalVlans } from './vlans.js';

/**
 * In-memory NetworkDriver for controller and contract tests (`network.driver = "fake"`).
 * It keeps the same bookkeeping as the OVS driver (local VLANs, tunnel set, port
 * statuses) without touching the host; every VM port is ACTIVE, DHCP "runs".
 */
export class FakeNetworkDriver extends SyncBackedDriver {
  private readonly vlans = new LocalVlans(null);
  private tunnels: string[] = [];
  readonly syncs: DesiredState[] = [];

  constructor(private readonly tunnelIp = '192.0.2.1') {
    super();
  }

  async init(): Promise<DriverInfo> {
    return { datapath: 'netdev', tunnelIp: this.tunnelIp, bridges: ['br-int', 'br-tun'] };
  }

  protected async apply(desired: DesiredState): Promise<SyncResult> {
    this.syncs.push(structuredClone(desired));
    const errors: SyncResult['errors'] = [];
    const ok = desired.networks.filter((n) => {
      const bad = n.type === 'vxlan' && !n.vni;
      if (bad) errors.push({ kind: 'network', id: n.id, message: 'a vxlan network needs a vni' });
      return !bad;
    });
    this.vlans.retain(new Set(ok.map((n) => n.id)));
    for (const n of ok) this.vlans.ensure(n.id);
    const wanted = floodPlan(ok, desired.tunnels, this.tunnelIp).wanted;
    const added = wanted.filter((t) => !this.tunnels.includes(t));
    const removed = this.tunnels.filter((t) => !wanted.includes(t));
    this.tunnels = wanted;
    this.desired = desired;
    return {
      networks: ok.map((n) => ({ id: n.id, localVlan: this.vlans.get(n.id)! })),
      ports: desired.ports.map((p) => ({ portId: p.port_id, status: this.vlans.get(p.network_id) !== null ? 'ACTIVE' : 'DOWN' })),
      tunnels: { active: wanted, added, removed },
      flows: { added: 0, deleted: 0 },
      errors,
    };
  }

  async state(): Promise<DriverState> {
    return {
      networks: this.vlans.entries(),
      ports: this.desired.ports.map((p) => ({ portId: p.port_id, status: 'ACTIVE' as const })),
      tunnels: this.tunnels,
      dhcp: this.desired.dhcp.map((d) => ({ networkId: d.network_id, running: true })),
      routers: this.desired.routers.map((r) => r.id),
    };
  }

  async close(): Promise<void> {}
}
