import { describe, expect, it } from 'vitest';
import type { PortSpec, SecurityGroupSpec } from '../../shared/agent/network.js';
import { emptyState, SyncBackedDriver, type DesiredState, type DriverInfo, type DriverState, type SyncResult } from './driver.js';

const NET = '10010000-0000-4000-8000-000000000000';
const port = (id: string): PortSpec => ({
  port_id: id,
  network_id: NET,
  mac: 'fa:16:3e:00:00:01',
  fixed_ips: [],
  security_group_ids: [],
  port_security: true,
  allowed_address_pairs: [],
});
const SG = '20000000-0000-4000-8000-000000000000';
const group = (ports: number[]): SecurityGroupSpec => ({
  id: SG,
  member_ips: [],
  rules: ports.map((p) => ({
    id: `2100${String(p).padStart(4, '0')}-0000-4000-8000-000000000000`,
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    port_range_min: p,
    port_range_max: p,
    remote_ip_prefix: null,
    remote_group_id: null,
  })),
});

/** A driver whose every convergence waits until the test lets it finish; it records what it applied. */
class HeldDriver extends SyncBackedDriver {
  readonly applied: DesiredState[] = [];
  running = 0;
  maxRunning = 0;
  private gates: Array<() => void> = [];
  async init(): Promise<DriverInfo> {
    return { datapath: 'netdev', tunnelIp: '192.0.2.1', bridges: [] };
  }
  async state(): Promise<DriverState> {
    return { networks: [], ports: [], tunnels: [], dhcp: [], routers: [] };
  }
  async close(): Promise<void> {
    await this.idle();
  }
  protected async apply(desired: DesiredState): Promise<SyncResult> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise<void>((r) => this.gates.push(r));
    this.applied.push(structuredClone(desired));
    this.desired = desired;
    this.running--;
    return {
      networks: [],
      ports: desired.ports.map((p) => ({ portId: p.port_id, status: 'ACTIVE' })),
      tunnels: { active: [], added: [], removed: [] },
      flows: { added: 0, deleted: 0 },
      errors: [],
    };
  }
  /** Lets the convergences queued so far finish, one after another, and waits for the last. */
  async release(): Promise<void> {
    let done = false;
    void this.idle().then(() => {
      done = true;
    });
    while (!done) {
      await new Promise((r) => setTimeout(r, 1));
      this.gates.shift()?.();
    }
  }
}

describe('SyncBackedDriver: one queue for syncs, resyncs and edits', () => {
  it('a resync called while a newer sync is still running re-applies that newer state, never the one before it', async () => {
    const d = new HeldDriver();
    const before: DesiredState = { ...emptyState(), security_groups: [group([22])] };
    const first = d.sync(before);
    await d.release();
    await first;
    // The controller's sync adds tcp/8080; the periodic resync fires while it runs.
    const after: DesiredState = { ...emptyState(), security_groups: [group([22, 8080])] };
    const controller = d.sync(after);
    const periodic = d.resync();
    await d.release();
    await Promise.all([controller, periodic]);
    expect(d.applied.length).toBe(3);
    expect(d.applied[2]).toEqual(after);
    expect(d.lastDesired()).toEqual(after);
    expect(d.maxRunning).toBe(1);
  });

  it('edits called together each see the ones before them (no lost update)', async () => {
    const d = new HeldDriver();
    const a = d.plugPort(port('11000000-0000-4000-8000-000000000000'));
    const b = d.plugPort(port('12000000-0000-4000-8000-000000000000'));
    const c = d.unplugPort('11000000-0000-4000-8000-000000000000');
    await d.release();
    await Promise.all([a, b, c]);
    expect(d.lastDesired().ports.map((p) => p.port_id)).toEqual(['12000000-0000-4000-8000-000000000000']);
    expect(d.maxRunning).toBe(1);
  });

  it('a failed convergence does not stop the ones queued after it', async () => {
    class Failing extends HeldDriver {
      fail = true;
      protected override async apply(desired: DesiredState): Promise<SyncResult> {
        if (this.fail) {
          this.fail = false;
          throw new Error('ovs-vsctl timed out');
        }
        return super.apply(desired);
      }
    }
    const d = new Failing();
    const bad = d.sync(emptyState());
    const good = d.sync({ ...emptyState(), ports: [port('13000000-0000-4000-8000-000000000000')] });
    await expect(bad).rejects.toThrow(/timed out/);
    await d.release();
    await good;
    expect(d.lastDesired().ports).toHaveLength(1);
  });
});
