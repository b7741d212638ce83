import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import {
  InstanceSpec as InstanceSpecSchema,
  PowerState,
  type InstanceSpec,
  type InstanceState,
} from '../../../shared/agent/compute.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { agentLayerOf } from '../../agents/index.js';
import { buildApp } from '../../app.js';
import { bootstrap } from '../../cli/bootstrap.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';
import { settle, type ComputeCtx } from '../context.js';
import { HostOpError, type ComputeHostGateway, type HostRef, type PowerOp } from '../host-gateway.js';
import { addHost, type FakeHost } from './fixtures.js';
import type { MoveGateway } from '../move-gateway.js';

/**
 * A compute host gateway that keeps "domains" in memory. `failSpawn` makes spawns on
 * the named hosts fail (as the agent would: nothing left behind); `hold` keeps spawns
 * pending until released.
 */
export class FakeGateway implements ComputeHostGateway {
  readonly domains = new Map<string, { host: string; power: InstanceState['power_state']; spec?: InstanceSpec }>();
  readonly calls: Array<{ op: string; host: string; uuid: string }> = [];
  readonly volumes = new Map<string, Map<string, string>>();
  failSpawn = new Set<string>();
  failPower = new Set<string>();
  console = 'line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\n';
  private held: Array<() => void> | null = null;

  hold(): void {
    this.held = [];
  }
  release(): void {
    const h = this.held ?? [];
    this.held = null;
    for (const f of h) f();
  }

  private state(uuid: string): InstanceState {
    const d = this.domains.get(uuid);
    return {
      uuid,
      power_state: d?.power ?? 0,
      state: d ? 'running' : 'absent',
      suspended_to_disk: false,
      vcpus: 1,
      memory_mb: 64,
      cpu_time_ns: 0,
      volumes: Object.fromEntries(this.volumes.get(uuid) ?? []),
      ports: [],
    };
  }

  async spawn(host: HostRef, spec: InstanceSpec) {
    this.calls.push({ op: 'spawn', host: host.name, uuid: spec.uuid });
    // The agent validates the body against the contract: so does the fake.
    if (!Value.Check(InstanceSpecSchema, spec)) {
      const e = [...Value.Errors(InstanceSpecSchema, spec)][0] as { instancePath?: string; message?: string } | undefined;
      throw new Error(`the spec breaks the compute contract at ${e?.instancePath}: ${e?.message}`);
    }
    if (this.held) await new Promise<void>((r) => this.held!.push(r));
    if (this.failSpawn.has(host.name))
      throw new HostOpError('SpawnFailed', `define domain: virsh: error: failed on ${host.name}`);
    // One domain per uuid and host; a copy on another host (a move) is replaced in this map.
    if (this.domains.get(spec.uuid)?.host === host.name) throw new HostOpError('InstanceExists', 'exists');
    this.domains.set(spec.uuid, { host: host.name, power: PowerState.RUNNING, spec });
    return { state: this.state(spec.uuid), libvirtStartMs: 5 };
  }

  async destroy(host: HostRef, uuid: string) {
    this.calls.push({ op: 'destroy', host: host.name, uuid });
    this.domains.delete(uuid);
  }

  async power(host: HostRef, uuid: string, op: PowerOp) {
    this.calls.push({ op, host: host.name, uuid });
    const d = this.domains.get(uuid);
    if (!d) throw new HostOpError('InstanceNotFound', `no domain ${uuid}`);
    if (this.failPower.has(op)) throw new HostOpError('HypervisorError', `${op} failed`);
    const to: Record<PowerOp, InstanceState['power_state']> = {
      start: 1,
      stop: 4,
      reboot_soft: 1,
      reboot_hard: 1,
      pause: 3,
      unpause: 1,
      suspend: 4,
      resume: 1,
    };
    d.power = to[op];
    return this.state(uuid);
  }

  async consoleLog(host: HostRef, uuid: string) {
    this.calls.push({ op: 'console', host: host.name, uuid });
    return this.console;
  }

  /** Set by tests: what "uploading" the snapshot does (the real agent PUTs the disk to upload_url). */
  onSnapshot: ((imageId: string) => Promise<void>) | null = null;

  async snapshot(host: HostRef, uuid: string, req: { image_id: string }) {
    this.calls.push({ op: 'snapshot', host: host.name, uuid });
    await this.onSnapshot?.(req.image_id);
  }

  async attachVolume(host: HostRef, uuid: string, volumeId: string, _c: unknown, device: string | null) {
    this.calls.push({ op: 'attach', host: host.name, uuid });
    const d = this.domains.get(uuid);
    if (!d) throw new HostOpError('InstanceNotFound', `no domain ${uuid}`);
    const vols = this.volumes.get(uuid) ?? new Map<string, string>();
    const dev = device ?? `/dev/vd${String.fromCharCode(98 + vols.size)}`;
    vols.set(volumeId, dev);
    this.volumes.set(uuid, vols);
    return dev;
  }

  async detachVolume(host: HostRef, uuid: string, volumeId: string) {
    this.calls.push({ op: 'detach', host: host.name, uuid });
    this.volumes.get(uuid)?.delete(volumeId);
  }

  /** The fake display every running domain has (tests of the console API). */
  async vncConsole(host: HostRef, uuid: string) {
    this.calls.push({ op: 'vnc', host: host.name, uuid });
    const d = this.domains.get(uuid);
    if (!d) throw new HostOpError('InstanceNotFound', `no domain ${uuid}`);
    if (d.power !== PowerState.RUNNING && d.power !== PowerState.PAUSED)
      throw new HostOpError('InvalidState', `Instance ${uuid} has no VNC display (it is not running).`);
    return { host: '127.0.0.1', port: 5900 };
  }

  async listInstances(host: HostRef) {
    return [...this.domains.entries()].filter(([, d]) => d.host === host.name).map(([u]) => this.state(u));
  }
}

export const ADMIN_PASSWORD = 'secret-admin';

export interface ComputeCloud {
  app: FastifyInstance;
  db: Db;
  config: ControllerConfig;
  gw: FakeGateway;
  ctx: ComputeCtx;
  admin: string;
  adminProjectId: string;
  req(
    method: string,
    url: string,
    token?: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /** A member of a new project: its token and project id. */
  member(name: string): Promise<{ token: string; projectId: string; userId: string }>;
  host(h: FakeHost): string;
  flavor(name: string, o?: { ram?: number; vcpus?: number; disk?: number }): Promise<string>;
  image(name: string, token?: string, properties?: Record<string, string>): Promise<string>;
  network(name: string, cidr: string, token?: string): Promise<string>;
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** An in-memory controller (identity, images, networks, compute) with a fake compute gateway. */
export async function computeCloud(
  compute: Partial<ControllerConfig['compute']> = {},
  o: { realAgents?: boolean; moves?: (gw: FakeGateway) => MoveGateway } = {},
): Promise<ComputeCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-compute-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    public_url: 'http://cloud.test:8000',
    identity: { scrypt_log_n: 10 },
    images: { qemu_img_check: false },
    compute: { sync_power_state_s: 0, ...compute },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  const boot = await bootstrap(db, config, { adminPassword: ADMIN_PASSWORD });
  const gw = new FakeGateway();
  // realAgents: the compute service talks to agents through the real dispatcher.
  const extras: Record<string, unknown> = o.realAgents ? {} : { computeGateway: gw };
  if (o.moves) extras.moveGateway = o.moves(gw);
  const app = await buildApp({ config, db, logger: false, extras });
  await app.ready();
  const ctx = app.homestack.deps.extras.computeCtx as ComputeCtx;
  const req: ComputeCloud['req'] = async (method, url, token, payload, headers = {}) => {
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(token ? { 'x-auth-token': token } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      payload: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let body: unknown = null;
    try {
      body = r.body ? r.json() : null;
    } catch {
      body = r.body;
    }
    return { status: r.statusCode, body, headers: r.headers };
  };
  const login = async (user: string, password: string, project: string) => {
    const r = await req('POST', '/identity/v3/auth/tokens', undefined, {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
        scope: { project: { name: project, domain: { name: 'Default' } } },
      },
    });
    if (r.status !== 201) throw new Error(`login ${user}: ${r.status} ${JSON.stringify(r.body)}`);
    return String(r.headers['x-subject-token']);
  };
  const admin = await login('admin', ADMIN_PASSWORD, 'admin');
  const ok = (r: { status: number; body: any }, what: string) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    app,
    db,
    config,
    gw,
    ctx,
    admin,
    adminProjectId: boot.adminProjectId,
    req,
    async member(name) {
      const p = ok(
        await req('POST', '/identity/v3/projects', admin, { project: { name: `${name}-p`, domain_id: 'default' } }),
        'project',
      ).project;
      const u = ok(
        await req('POST', '/identity/v3/users', admin, {
          user: { name, password: 'pw', domain_id: 'default', default_project_id: p.id },
        }),
        'user',
      ).user;
      const roles = ok(await req('GET', '/identity/v3/roles?name=member', admin), 'roles').roles;
      ok(await req('PUT', `/identity/v3/projects/${p.id}/users/${u.id}/roles/${roles[0].id}`, admin), 'grant');
      return { token: await login(name, 'pw', `${name}-p`), projectId: p.id, userId: u.id };
    },
    host: (h) => {
      const id = addHost(db, h);
      ctx.scheduler.cache.invalidate();
      return id;
    },
    async flavor(name, o = {}) {
      return ok(
        await req('POST', '/compute/v2.1/flavors', admin, {
          flavor: { name, ram: o.ram ?? 512, vcpus: o.vcpus ?? 1, disk: o.disk ?? 1, id: null },
        }),
        'flavor',
      ).flavor.id;
    },
    async image(name, token = admin, properties = {}) {
      const auth = app.homestack.auth.validator.validate(token);
      const images = app.homestack.deps.facades.images!;
      const rec = images.createRecord(auth, {
        name,
        owner: auth.projectId!,
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
        properties,
      });
      await images.upload(rec.id, Readable.from([Buffer.alloc(4096, 1)]));
      return rec.id;
    },
    async network(name, cidr, token = admin) {
      const n = ok(await req('POST', '/network/v2.0/networks', token, { network: { name } }), 'network').network;
      ok(
        await req('POST', '/network/v2.0/subnets', token, {
          subnet: { network_id: n.id, cidr, ip_version: 4, name: `${name}-sub` },
        }),
        'subnet',
      );
      return n.id;
    },
    settle: () => settle(ctx),
    async close() {
      await settle(ctx);
      // The dispatcher first: nothing may touch the database once it is closed.
      await agentLayerOf(app.homestack.deps).dispatcher.close(1000);
      await app.close();
      await agentLayerOf(app.homestack.deps).agents.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
