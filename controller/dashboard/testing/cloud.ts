import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { startAgent, type RunningAgent } from '../../../agents/host/start.js';
import { ROLE_MODULES } from '../../../agents/roles.js';
import { AgentConfigSchema, type AgentConfig } from '../../../shared/config/agent.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { agentLayerOf } from '../../agents/index.js';
import { buildApp } from '../../app.js';
import { bootstrap } from '../../cli/bootstrap.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';
import { controllerJobs } from '../../jobs/index.js';
import { startJobs } from '../../jobs/cron.js';

export const ADMIN_PASSWORD = 'dashboard-admin-pw';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });

export interface DashboardCloud {
  app: FastifyInstance;
  url: string;
  dir: string;
  adminToken(): Promise<string>;
  api<T = any>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A public image from a local file (the test guest). */
  uploadImage(file: string, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * An all-in-one cloud in this process, for browser tests: the controller listening on
 * 127.0.0.1 with its jobs, and a real compute agent (libvirt, TCG guests) enrolled as
 * its only host. No network agent: guests boot without NICs.
 */
export async function startDashboardCloud(runId: string, overrides: Record<string, unknown> = {}): Promise<DashboardCloud> {
  const dir = mkdtempSync(join(tmpdir(), `${runId}-dash-`));
  const [ctlPort, agentPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${ctlPort}`;
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: join(dir, 'ctl'),
    public_url: url,
    listen: { host: '127.0.0.1', port: ctlPort },
    identity: { scrypt_log_n: 10 },
    agents: { heartbeat_s: 2, down_after_missed: 3 },
    ...overrides,
  }) as ControllerConfig;
  const db: Db = openDb(':memory:');
  migrate(db);
  await bootstrap(db, config, { adminPassword: ADMIN_PASSWORD });
  const app = await buildApp({ config, db, logger: false });
  await app.listen({ host: '127.0.0.1', port: ctlPort });
  const layer = agentLayerOf(app.homestack.deps);
  layer.dispatcher.resume();
  const jobs = startJobs(controllerJobs({ agents: layer, db, log: app.log }), app.log);

  const secret = `${runId}-dashboard-agent-secret-0123456789`;
  const agentConfig = Value.Default(AgentConfigSchema, {
    host: `${runId}-h1`,
    roles: ['compute'],
    data_dir: join(dir, 'agent'),
    credential_file: join(dir, 'agent.key'), // not /etc/homestack's: its tls/ would turn on mutual TLS (agent-tls.ts)
    controller_url: url,
    listen: { host: '127.0.0.1', port: agentPort },
    heartbeat_s: 2,
    log: { level: 'error' },
    compute: { virt_type: 'qemu' },
  }) as AgentConfig;
  const host = layer.hosts.enrol({ name: `${runId}-h1`, agentUrl: `http://127.0.0.1:${agentPort}`, secret });
  layer.hosts.rememberSecret(host.id, secret);
  let agent: RunningAgent | null = await startAgent({ config: agentConfig, secret, roleModules: ROLE_MODULES, logger: false });

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await app.inject({
      method: method as 'GET',
      url: path,
      headers: { 'x-auth-token': token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    let parsed: any = null;
    try {
      parsed = r.body ? r.json() : null;
    } catch {
      parsed = r.body;
    }
    return { status: r.statusCode, body: parsed };
  };
  const adminToken = async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/identity/v3/auth/tokens',
      headers: { 'content-type': 'application/json' },
      payload: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { name: 'Default' }, password: ADMIN_PASSWORD } },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    return String(r.headers['x-subject-token']);
  };
  // The host is up once its first heartbeat arrived.
  const t0 = Date.now();
  for (;;) {
    const h = layer.hosts.list().find((x) => x.id === host.id);
    if (h?.state === 'up') break;
    if (Date.now() - t0 > 60_000) throw new Error(`host ${host.name} did not come up`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    app,
    url,
    dir,
    api,
    adminToken,
    async uploadImage(file, name) {
      const token = await adminToken();
      const img = await api('POST', '/image/v2/images', token, {
        name,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'public',
      });
      await app.homestack.deps.facades.images!.upload(img.body.id, createReadStream(file));
      return img.body.id as string;
    },
    async close() {
      await jobs.stop();
      await layer.dispatcher.close(5_000);
      await agent?.close();
      agent = null;
      await app.close();
      await layer.agents.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
