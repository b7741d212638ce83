import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { buildAgentApp, type AgentApp } from '../../../agents/host/app.js';
import { OpStore } from '../../../agents/host/op-store.repo.js';
import type { VolumeBackend } from '../../../agents/volume/backend.js';
import { FakeBackend, FakeTarget } from '../../../agents/volume/fake.js';
import { registerVolumeRoutes } from '../../../agents/volume/routes.js';
import { VolumeService } from '../../../agents/volume/service.js';
import type { IscsiTarget } from '../../../agents/volume/target.js';
import { ChunkedDriver } from '../../../agents/volume/backup/chunked.js';
import { PosixTarget } from '../../../agents/volume/backup/posix.js';
import { BackupService } from '../../../agents/volume/backup/service.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { newUuid } from '../../../shared/util/ids.js';
import { createAgentLayer, type AgentLayer } from '../../agents/index.js';
import { buildApp } from '../../app.js';
import { bootstrap } from '../../cli/bootstrap.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';
import { settle, type VolumeCtx } from '../context.js';

/**
 * An in-memory controller (buildApp) with one volume host whose agent is the real
 * agent app (schemas, op store, VolumeService) listening on loopback, with a fake (or
 * given) back end and the fake target: what the dispatcher sends is what the agent accepts.
 */
export interface VolumeCloud {
  app: FastifyInstance;
  db: Db;
  config: ControllerConfig;
  layer: AgentLayer;
  ctx: VolumeCtx;
  agent: AgentApp;
  backend: VolumeBackend;
  /** The fake target (unused when `iscsi` was given). */
  target: FakeTarget;
  /** The agent's backup service (when `backups` was asked for). */
  backups: BackupService | null;
  hostId: string;
  admin: string;
  adminProjectId: string;
  req(
    method: string,
    url: string,
    token?: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  member(name: string): Promise<{ token: string; projectId: string; userId: string }>;
  image(name: string, token?: string): Promise<string>;
  /** Waits until every queued operation has finished. */
  settle(): Promise<void>;
  waitStatus(id: string, token: string, status: string): Promise<any>;
  close(): Promise<void>;
}

export async function volumeCloud(
  o: {
    volume?: Partial<ControllerConfig['volume']>;
    backend?: VolumeBackend;
    backendName?: string;
    extras?: Record<string, unknown>;
    iscsi?: IscsiTarget;
    /** A posix backup target in this directory (default none), chunks of chunkKiB (default 1024). */
    backups?: { dir: string; chunkKiB?: number };
  } = {},
): Promise<VolumeCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-volumes-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    public_url: 'http://cloud.test:8000',
    identity: { scrypt_log_n: 10 },
    images: { qemu_img_check: false },
    compute: { sync_power_state_s: 0 },
    volume: { operation_wait_s: 10, ...o.volume },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  const boot = await bootstrap(db, config, { adminPassword: 'secret-admin' });
  const silent = {
    info() {},
    warn() {},
    error() {},
    debug() {},
    trace() {},
    fatal() {},
    child() {
      return silent;
    },
    level: 'silent',
  };
  const layer = createAgentLayer({ config, db, log: silent as never, backoffBaseMs: 20 });
  const app = await buildApp({ config, db, logger: false, extras: { ...o.extras, agentLayer: layer } });
  // Listen: volume agents fetch images from the controller's image API.
  config.public_url = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/\/+$/, '');
  const ctx = app.homestack.deps.extras.volumeCtx as VolumeCtx;

  const secret = 'volume-agent-secret-0123456789';
  const agent = buildAgentApp({ secret, opStore: new OpStore(':memory:'), logger: false });
  const backend = o.backend ?? new FakeBackend();
  await backend.init();
  const target = new FakeTarget('iqn.2026-11.org.homestack', '127.0.0.1:3260');
  let backups: BackupService | null = null;
  if (o.backups) {
    const driver = new ChunkedDriver(new PosixTarget({ path: o.backups.dir }), {
      compression: 'zstd',
      level: 3,
      chunkSize: (o.backups.chunkKiB ?? 1024) * 1024,
      parallel: 2,
    });
    backups = new BackupService(driver, backend, { workDir: join(dir, 'work') });
    await backups.init();
  }
  registerVolumeRoutes(agent, new VolumeService(backend, o.iscsi ?? target, { workDir: join(dir, 'work'), backups }));
  const url = await agent.fastify.listen({ host: '127.0.0.1', port: 0 });
  const hostId = newUuid();
  const ts = new Date().toISOString();
  const backupCaps = backups
    ? { backup_target: backups.target.kind, backup_target_id: backups.target.id, backup_service: backups.service }
    : {};
  const caps = { roles: { volume: { backend: o.backendName ?? 'fake', target: 'fake', ...backupCaps } }, unavailable_roles: {} };
  const usage = { roles: { volume: { total_gb: 100, free_gb: 100, volumes: 0 } } };
  db.prepare(
    `INSERT INTO hosts (id, name, agent_url, credential_hash, roles, capabilities, usage, state, registered_at, last_heartbeat_at, created_at, updated_at, tunnel_ip)
     VALUES (?, 'vol1', ?, 'x', '["volume"]', ?, ?, 'up', ?, ?, ?, ?, '127.0.0.1')`,
  ).run(hostId, url, JSON.stringify(caps), JSON.stringify(usage), ts, ts, ts, ts);
  layer.hosts.rememberSecret(hostId, secret);

  const req: VolumeCloud['req'] = async (method, u, token, payload, headers = {}) => {
    const r = await app.inject({
      method: method as 'GET',
      url: u,
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
    if (r.status !== 201) throw new Error(`login ${user}: ${r.status}`);
    return String(r.headers['x-subject-token']);
  };
  const admin = await login('admin', 'secret-admin', 'admin');
  const ok = (r: { status: number; body: any }, what: string) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const settleOps = async () => {
    // Time-bound, not count-bound: a backup or restore of a 1 GiB volume on a loaded host outlasts 500 × 10 ms.
    for (const end = Date.now() + 60_000; Date.now() < end; ) {
      await settle(ctx);
      const busy = db.prepare(`SELECT COUNT(*) FROM operations WHERE state IN ('pending', 'sending')`).pluck().get() as number;
      if (!busy && layer.dispatcher.busy() === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(
      `operations did not finish: ${JSON.stringify(db.prepare('SELECT kind, state, attempts, last_error FROM operations').all())}`,
    );
  };
  return {
    app,
    db,
    config,
    layer,
    ctx,
    agent,
    backend,
    target,
    backups,
    hostId,
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
    async image(name, token = admin) {
      const auth = app.homestack.auth.validator.validate(token);
      const images = app.homestack.deps.facades.images!;
      const rec = images.createRecord(auth, {
        name,
        owner: auth.projectId!,
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
      });
      await images.upload(rec.id, Readable.from([Buffer.alloc(4096, 1)]));
      return rec.id;
    },
    settle: settleOps,
    async waitStatus(id, token, status) {
      await settleOps();
      const r = await req('GET', `/volume/v3/volumes/${id}`, token);
      if (r.body?.volume?.status !== status)
        throw new Error(
          `volume ${id} is ${r.body?.volume?.status}, not ${status}: ${JSON.stringify(db.prepare('SELECT status, reason FROM volumes WHERE id = ?').get(id))}`,
        );
      return r.body.volume;
    },
    async close() {
      await settleOps().catch(() => {});
      await app.close();
      await layer.dispatcher.close(100);
      await layer.agents.close();
      await agent.fastify.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
