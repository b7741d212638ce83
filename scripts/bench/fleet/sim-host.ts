import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Value } from 'typebox/value';
import {
  DestroyInstance,
  GetInstance,
  HostInfo,
  ListInstances,
  PowerOff,
  PowerOn,
  PowerState,
  Spawn,
  type InstanceSpec,
  type InstanceState,
} from '../../../shared/agent/compute.js';
import { AGENT_API_VERSION, OP_ID_HEADER, type AgentRoute } from '../../../shared/agent/contract.js';
import {
  Health,
  INTERNAL_HEARTBEAT_PATH,
  INTERNAL_REGISTER_PATH,
  type HeartbeatBody,
  type RegisterBody,
} from '../../../shared/agent/host.js';
import { NetworkState, NetworkSync, type NetworkSyncBody } from '../../../shared/agent/network.js';

/**
 * One simulated host: the agent contract (shared/agent descriptors) served by node:http
 * on its own loopback address, with in-memory "drivers". Bodies are checked against the
 * descriptors as the real agent does (400 otherwise), replies are checked before they
 * are sent, repeated operation ids are answered from memory. Register and heartbeat go
 * to the controller exactly as agents/host/link.ts sends them, from the host's address.
 * Nothing is booted or plugged: spawn waits `spawnMs` and the network sync reports
 * every port ACTIVE (as agents/network/fake.ts does).
 */
export interface SimOptions {
  name: string;
  ip: string;
  port: number;
  secret: string;
  controllerUrl: string;
  spawnMs: number;
  stats: SimStats;
}

export interface SimStats {
  heartbeats: number;
  heartbeatBytes: number;
  heartbeatFailures: number;
  registerRetries: number;
  syncs: number;
  syncBytes: number;
  syncMaxBytes: number;
  calls: Record<string, number>;
  rejected: Record<string, number>;
  /** Security-group rule id → first time (epoch ms) each host received it. */
  arrivals: Map<string, Map<string, number>>;
}

type Handler = (body: any) => Promise<unknown> | unknown;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SimHost {
  private server: Server | null = null;
  private agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly instances = new Map<string, InstanceState>();
  private readonly done = new Map<string, Promise<{ status: number; body: unknown }>>();
  private readonly routes: Array<{ r: AgentRoute; re: RegExp; keys: string[]; h: Handler }> = [];
  private timer: NodeJS.Timeout | null = null;
  private generation = 0;
  registered = false;
  lastSync: NetworkSyncBody | null = null;

  constructor(readonly o: SimOptions) {
    const running = (uuid: string, spec?: InstanceSpec): InstanceState => ({
      uuid,
      power_state: PowerState.RUNNING,
      state: 'running',
      suspended_to_disk: false,
      vcpus: spec?.vcpus ?? 1,
      memory_mb: spec?.memory_mb ?? 512,
      cpu_time_ns: 0,
      volumes: {},
      ports: spec?.nics.map((v) => v.port_id) ?? [],
    });
    this.add(Health, () => ({
      hostname: o.name,
      agent_version: 'fleet-sim',
      api_version: AGENT_API_VERSION,
      roles: ['compute', 'network'],
      unavailable_roles: {},
      uptime_s: Math.floor(process.uptime()),
    }));
    this.add(HostInfo, () => ({
      ...this.capacity(),
      hypervisor_type: 'QEMU',
      hypervisor_version: 8002000,
      virt_type: 'qemu',
      cpu_arch: 'x86_64',
      console_host: o.ip,
    }));
    this.add(ListInstances, () => ({ instances: [...this.instances.values()], unreadable: [], orphans: [] }));
    this.add(GetInstance, (b) => ({ instance: this.instances.get(b.uuid) ?? null }));
    this.add(Spawn, async (b: InstanceSpec) => {
      await sleep(o.spawnMs);
      const s = running(b.uuid, b);
      this.instances.set(b.uuid, s);
      const t = { image_ms: 0, disk_ms: 0, config_drive_ms: 0, define_ms: 0, libvirt_start_ms: o.spawnMs, total_ms: o.spawnMs };
      return { instance: s, timings: t, image_cached: true };
    });
    this.add(DestroyInstance, async (b) => {
      await sleep(Math.min(50, o.spawnMs));
      return { uuid: b.uuid, existed: this.instances.delete(b.uuid) };
    });
    this.add(PowerOn, (b) => ({ instance: this.instances.get(b.uuid) ?? running(b.uuid) }));
    this.add(PowerOff, (b) => ({
      instance: { ...(this.instances.get(b.uuid) ?? running(b.uuid)), power_state: PowerState.SHUTDOWN, state: 'shut off' },
    }));
    this.add(NetworkSync, (b: NetworkSyncBody) => this.sync(b));
    this.add(NetworkState, () => ({
      datapath: 'netdev',
      tunnel_ip: o.ip,
      generation: this.generation,
      networks: (this.lastSync?.networks ?? []).map((n, i) => ({ id: n.id, local_vlan: i + 1 })),
      ports: (this.lastSync?.ports ?? []).map((p) => ({ port_id: p.port_id, status: 'ACTIVE' as const })),
      tunnels: (this.lastSync?.tunnels ?? []).map((t) => t.ip),
      dhcp: (this.lastSync?.dhcp ?? []).map((d) => ({ network_id: d.network_id, running: true })),
      routers: (this.lastSync?.routers ?? []).map((r) => r.id),
    }));
  }

  private add(r: AgentRoute, h: Handler): void {
    const keys: string[] = [];
    const re = new RegExp(`^${r.url.replace(/:([A-Za-z_]+)/g, (_m, k: string) => (keys.push(k), '([^/?]+)'))}$`);
    this.routes.push({ r, re, keys, h });
  }

  private capacity() {
    const used = [...this.instances.values()];
    return {
      vcpus: 64,
      memory_mb: 262144,
      disk_gb: 4000,
      vcpus_used: used.reduce((s, i) => s + i.vcpus, 0),
      memory_mb_used: used.reduce((s, i) => s + i.memory_mb, 0),
      disk_gb_used: 0,
      running_vms: used.length,
    };
  }

  private sync(b: NetworkSyncBody) {
    const st = this.o.stats;
    const ignored = (b.generation ?? 0) < this.generation;
    if (!ignored) {
      this.generation = b.generation ?? 0;
      this.lastSync = b;
      const now = Date.now();
      for (const g of b.security_groups)
        for (const rule of g.rules) {
          let seen = st.arrivals.get(rule.id);
          if (!seen) st.arrivals.set(rule.id, (seen = new Map()));
          if (!seen.has(this.o.name)) seen.set(this.o.name, now);
        }
    }
    const prev = new Set(this.lastSync?.tunnels.map((t) => t.ip));
    return {
      generation: b.generation ?? 0,
      ignored,
      networks: b.networks.map((n, i) => ({ id: n.id, local_vlan: i + 1 })),
      ports: b.ports.map((p) => ({ port_id: p.port_id, status: 'ACTIVE' as const })),
      tunnels: {
        active: b.tunnels.map((t) => t.ip),
        added: b.tunnels.filter((t) => !prev.has(t.ip)).map((t) => t.ip),
        removed: [],
      },
      flows: { added: 0, deleted: 0 },
      errors: [],
      duration_ms: 1,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const send = (status: number, body: unknown) => {
      const data = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
      res.end(data);
    };
    if (req.headers.authorization !== `Bearer ${this.o.secret}`)
      return send(401, { error: { code: 'Unauthorized', message: 'bad credential', retryable: false } });
    const url = new URL(req.url ?? '/', 'http://x');
    const hit = this.routes.find((x) => x.r.method === req.method && x.re.test(url.pathname));
    const st = this.o.stats;
    if (!hit) {
      st.rejected[`${req.method} ${url.pathname}`] = (st.rejected[`${req.method} ${url.pathname}`] ?? 0) + 1;
      return send(404, { error: { code: 'NotFound', message: `No route ${req.method} ${url.pathname}`, retryable: false } });
    }
    const m = hit.re.exec(url.pathname)!;
    const params = Object.fromEntries(hit.keys.map((k, i) => [k, decodeURIComponent(m[i + 1]!)]));
    const query = Object.fromEntries(url.searchParams);
    let body: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    body =
      req.method === 'GET' || body === undefined
        ? Value.Convert(hit.r.body, { ...query, ...params })
        : { ...(body as object), ...params };
    body = Value.Default(hit.r.body, body);
    st.calls[hit.r.name] = (st.calls[hit.r.name] ?? 0) + 1;
    if (hit.r.name === NetworkSync.name) {
      st.syncs++;
      st.syncBytes += raw.length;
      st.syncMaxBytes = Math.max(st.syncMaxBytes, raw.length);
    }
    const work = async () => {
      if (!Value.Check(hit.r.body, body)) {
        st.rejected[hit.r.name] = (st.rejected[hit.r.name] ?? 0) + 1;
        return { status: 400, body: { error: { code: 'BadRequest', message: `${hit.r.name}: invalid body`, retryable: false } } };
      }
      const out = await hit.h(body);
      if (!Value.Check(hit.r.reply, out)) throw new Error(`${hit.r.name}: the simulated reply breaks the contract`);
      return { status: 200, body: out };
    };
    const opId = req.headers[OP_ID_HEADER];
    let p = typeof opId === 'string' ? this.done.get(opId) : undefined;
    if (!p) {
      p = work();
      if (typeof opId === 'string') this.done.set(opId, p);
    }
    const r = await p;
    send(r.status, r.body);
  }

  async start(): Promise<void> {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.server = createServer((req, res) =>
      this.handle(req, res).catch((e) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'SimFailed', message: (e as Error).message, retryable: false } }));
      }),
    );
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port, this.o.ip, () => resolve());
    });
  }

  /** Register, then heartbeat every `heartbeatS` (first beat at a random phase, as unsynchronised hosts do). */
  async join(heartbeatS: number): Promise<boolean> {
    // As agents/host/start.ts: a refused or timed-out registration is retried every second.
    const t0 = Date.now();
    while (!this.registered && Date.now() - t0 < 120_000) {
      const r = await this.post(INTERNAL_REGISTER_PATH, this.registration()).catch(() => ({ status: 0 }));
      this.registered = r.status === 200;
      if (!this.registered) {
        this.o.stats.registerRetries++;
        await sleep(1000);
      }
    }
    const beat = async () => {
      const r = await this.post(INTERNAL_HEARTBEAT_PATH, this.heartbeatBody()).catch(() => ({ status: 0 }));
      if (r.status === 401 || r.status === 404) await this.post(INTERNAL_REGISTER_PATH, this.registration()).catch(() => null);
      if (r.status !== 200) this.o.stats.heartbeatFailures++;
      this.timer = setTimeout(beat, heartbeatS * 1000);
    };
    this.timer = setTimeout(beat, Math.random() * heartbeatS * 1000);
    return this.registered;
  }

  /** Stops heartbeats and closes the listener (a host dying); `start()` + `join()` bring it back. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.registered = false;
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
    this.agent.destroy();
  }

  private registration(): RegisterBody {
    const c = this.capacity();
    return {
      hostname: this.o.name,
      roles: ['compute', 'network'],
      vcpus: c.vcpus,
      memory_mb: c.memory_mb,
      disk_gb: c.disk_gb,
      hypervisor_type: 'QEMU',
      agent_version: 'fleet-sim',
      api_version: AGENT_API_VERSION,
      agent_url: `http://${this.o.ip}:${this.o.port}`,
      tunnel_ip: this.o.ip,
      capabilities: {
        roles: {
          compute: {
            driver: 'fake',
            virt_type: 'qemu',
            hypervisor_version: 8002000,
            cpu_arch: 'x86_64',
            console_host: this.o.ip,
          },
          network: { datapath: 'netdev', driver: 'fake', physical_network: 'physnet1', tunnel_type: 'vxlan' },
        },
        unavailable_roles: {},
      },
      usage: this.usage(),
    };
  }

  private usage(): HeartbeatBody['usage'] {
    const c = this.capacity();
    return {
      load1: 0.5,
      memory_mb_total: c.memory_mb,
      memory_mb_used: c.memory_mb_used,
      disk_gb_total: c.disk_gb,
      disk_gb_used: c.disk_gb_used,
      uptime_s: Math.floor(process.uptime()),
      roles: {
        compute: { vcpus_used: c.vcpus_used, memory_mb_used: c.memory_mb_used, running_vms: c.running_vms, disk_gb_used: 0 },
      },
    };
  }

  private heartbeatBody(): HeartbeatBody {
    return { hostname: this.o.name, api_version: AGENT_API_VERSION, usage: this.usage() };
  }

  private post(path: string, body: unknown): Promise<{ status: number }> {
    const data = Buffer.from(JSON.stringify(body));
    if (path === INTERNAL_HEARTBEAT_PATH) {
      this.o.stats.heartbeats++;
      this.o.stats.heartbeatBytes += data.length;
    }
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.o.controllerUrl),
        {
          method: 'POST',
          agent: this.agent,
          localAddress: this.o.ip,
          timeout: 5_000,
          headers: {
            authorization: `Bearer ${this.o.secret}`,
            'content-type': 'application/json',
            'content-length': data.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('no reply from the controller within 5000 ms')));
      req.on('error', reject);
      req.end(data);
    });
  }
}
