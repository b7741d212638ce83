import type { FastifyBaseLogger } from 'fastify';
import { NetworkSync, type NetworkSyncBody, type NetworkSyncReply } from '../../shared/agent/network.js';
import type { Dispatcher, Operation, OpOutcome } from '../agents/index.js';
import type { Db } from '../db/open.js';
import { hostIsValid, chooseServiceHost } from './binding.js';
import { readHosts, type HostLite } from './context.js';
import { computeDesiredState, type DesiredState, type Snapshot } from './desired-state.js';
import { floatingIpsRepo } from './floatingips.repo.js';
import { networksRepo } from './networks.repo.js';
import { allocRepo, portSgRepo, portsRepo } from './ports.repo.js';
import { routersRepo } from './routers.repo.js';
import { groupsRepo, rulesRepo } from './secgroups.repo.js';
import { portStatusRepo } from './ports.repo.js';
import { subnetsRepo } from './subnets.repo.js';

/** The network agent said (capabilities.roles.network.live_migration_ports) that it understands PortSpec.live_migration. */
function movingPorts(caps: Record<string, unknown>): boolean {
  const roles = caps.roles as Record<string, Record<string, unknown>> | undefined;
  return roles?.network?.live_migration_ports === true;
}

/** Reads everything computeDesiredState needs, in one read transaction (`hosts`: already read by the caller). */
export function loadSnapshot(db: Db, hosts?: HostLite[]): Snapshot {
  return db.transaction(() => {
    const allocs = allocRepo.all(db);
    const groups = portSgRepo.all(db);
    return {
      hosts: (hosts ?? readHosts(db)).map((h) => ({
        name: h.name,
        tunnel_ip: h.tunnel_ip,
        roles: h.roles,
        moving_ports: movingPorts(h.capabilities),
      })),
      networks: networksRepo.where(db),
      subnets: subnetsRepo.where(db),
      ports: portsRepo
        .where(db)
        .map((p) => ({ ...p, fixed_ips: allocs.get(p.id) ?? [], security_groups: groups.get(p.id) ?? [] })),
      routers: routersRepo.where(db),
      floatingips: floatingIpsRepo.where(db),
      rules: rulesRepo.where(db),
      groups: groupsRepo.where(db).map((g) => g.id),
    };
  })();
}

/**
 * Places DHCP servers and routers that have no (valid) network host yet — made before
 * any agent registered, or left on a host that was removed, or (opt-in,
 * `network.reschedule_down_s`) on a host down for that long — and moves their ports'
 * bindings with them. Returns how many it placed.
 */
export function placeOrphans(db: Db, o: { rescheduleDownS?: number; now?: Date; hosts?: HostLite[] } = {}): number {
  const hosts = o.hosts ?? readHosts(db);
  const downSince = o.rescheduleDownS
    ? new Date((o.now ?? new Date()).getTime() - o.rescheduleDownS * 1000).toISOString()
    : undefined;
  const valid = (name: string) => hostIsValid(hosts, name, downSince);
  let placed = 0;
  db.transaction(() => {
    const load = new Map<string, number>();
    const bump = (h: string) => load.set(h, (load.get(h) ?? 0) + 1);
    const dhcp = portsRepo.where(db, { device_owner: 'network:dhcp' });
    const routers = routersRepo.where(db);
    for (const p of dhcp) if (valid(p.binding_host_id)) bump(p.binding_host_id);
    for (const r of routers) if (valid(r.host)) bump(r.host);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const p of dhcp) {
      if (valid(p.binding_host_id)) continue;
      const h = chooseServiceHost(hosts, load);
      if (!h) break;
      portsRepo.update(db, { ...p, binding_host_id: h, status: 'ACTIVE', updated_at: now });
      bump(h);
      placed++;
    }
    for (const r of routers) {
      if (valid(r.host)) continue;
      const h = chooseServiceHost(hosts, load);
      if (!h) break;
      routersRepo.update(db, { ...r, host: h, updated_at: now });
      for (const p of portsRepo.where(db, { device_id: r.id })) {
        if (p.device_owner === 'network:router_interface' || p.device_owner === 'network:router_gateway') {
          portsRepo.update(db, { ...p, binding_host_id: h, status: 'ACTIVE', updated_at: now });
        }
      }
      bump(h);
      placed++;
    }
  }).immediate();
  return placed;
}

/**
 * Hands each host's desired state to its agent through the durable dispatcher (ML2's
 * postcommit: called after the change committed). Only hosts whose desired state
 * differs from what was last handed over get a new `network.sync`; a host with a sync
 * still waiting to be sent gets that waiting operation's body replaced instead of a
 * second one queued (the agent converges to the latest state either way). `force`
 * re-sends to every host (drift healing, a host that (re)registered).
 */
export class NetworkSyncer {
  private readonly last = new Map<string, string>();
  private generation = 0;
  private scheduled: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: {
      db: Db;
      dispatcher: Dispatcher | null;
      log: FastifyBaseLogger;
      leaseSeconds?: number;
      /** Move DHCP servers and routers off a host down this long (0/undefined: never). */
      rescheduleDownS?: number;
      /** Changes within this window coalesce into one push (a push reads everything: ~30 ms at 1,000 ports). */
      debounceMs?: number;
    },
  ) {
    o.dispatcher?.onComplete(NetworkSync, (op, out) => this.completed(op, out));
  }

  /** Coalesces the changes of a short window into one push. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = setTimeout(() => {
      this.scheduled = null;
      try {
        this.push();
      } catch (err) {
        this.o.log.error({ err }, 'network desired-state push failed');
      }
    }, this.o.debounceMs ?? 25);
    this.scheduled.unref?.();
  }

  cancel(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = null;
  }

  /** The desired state of every network host now. */
  desired(hosts: HostLite[] = readHosts(this.o.db)): Map<string, DesiredState> {
    const moved = placeOrphans(this.o.db, { rescheduleDownS: this.o.rescheduleDownS, hosts });
    if (moved) this.o.log.info({ placed: moved }, 'placed DHCP servers / routers on network hosts');
    const snap = loadSnapshot(this.o.db, hosts);
    if (this.o.leaseSeconds) snap.dhcpLeaseSeconds = this.o.leaseSeconds;
    return computeDesiredState(snap);
  }

  /**
   * Enqueues `network.sync` for the hosts whose state changed (all with `force`, or
   * just `onlyHost` when given). Returns the operation id per host it enqueued or updated.
   */
  push(o: { force?: boolean; onlyHost?: string } = {}): Map<string, string> {
    const sent = new Map<string, string>();
    const d = this.o.dispatcher;
    if (!d) return sent;
    // One read of the hosts per push (it was three: at 1,000 hosts each cost ~10 ms).
    const all = readHosts(this.o.db);
    const hosts = new Map(all.map((h) => [h.name, h]));
    for (const [name, state] of this.desired(all)) {
      const h = hosts.get(name);
      if (!h || (o.onlyHost && o.onlyHost !== name && o.onlyHost !== h.id)) continue;
      const text = JSON.stringify(state);
      if (!o.force && this.last.get(name) === text) continue;
      this.generation = Math.max(this.generation + 1, Date.now());
      const body: NetworkSyncBody = { generation: this.generation, ...state };
      const id = d.enqueueLatest({ hostId: h.id, route: NetworkSync, body, resource: { type: 'network-host', id: h.id } });
      this.last.set(name, text);
      sent.set(name, id);
    }
    return sent;
  }

  /** Forget what was sent to a host, so the next push re-sends it. */
  forget(hostName?: string): void {
    if (hostName) this.last.delete(hostName);
    else this.last.clear();
  }

  /** The agent reports ports it has plugged: those become ACTIVE. */
  private completed(op: Operation, out: OpOutcome): void {
    if (!out.ok) {
      this.o.log.warn({ op: op.id, host: op.host_id, err: out.error }, 'network sync failed');
      const h = readHosts(this.o.db).find((x) => x.id === op.host_id);
      if (h) this.last.delete(h.name);
      return;
    }
    const reply = out.reply as NetworkSyncReply;
    if (reply.errors?.length) this.o.log.warn({ host: op.host_id, errors: reply.errors }, 'network sync converged with errors');
    for (const p of reply.ports ?? []) if (p.status === 'ACTIVE') portStatusRepo.markActive(this.o.db, p.port_id);
  }
}
