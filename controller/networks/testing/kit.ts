import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { Unauthorized } from '../../../shared/errors/index.js';
import { newUuid } from '../../../shared/util/ids.js';
import { createAgentLayer, type AgentLayer } from '../../agents/index.js';
import type { AgentClientsOptions } from '../../agents/client.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';
import type { AuthContext, AuthService } from '../../http/auth.js';
import { installJsonParser } from '../../http/json-body.js';
import type { ServiceDeps } from '../../http/service-deps.js';
import { PolicyEngine } from '../../identity/policy.js';
import { networkPlugin, networkingOf, type Networking } from '../plugin.js';

/** Test callers (token → project, admin?). */
export const USERS: Record<string, { project: string; admin: boolean }> = {
  admin: { project: 'p-admin', admin: true },
  alice: { project: 'p-alice', admin: false },
  bob: { project: 'p-bob', admin: false },
};

export function ctxFor(token: string): AuthContext {
  const u = USERS[token];
  if (!u) throw new Unauthorized();
  const roles = u.admin ? ['admin', 'member', 'reader'] : ['member', 'reader'];
  return {
    token,
    userId: `u-${token}`,
    userName: token,
    userDomainId: 'default',
    userDomainName: 'Default',
    projectId: u.project,
    projectName: u.project,
    projectDomainId: 'default',
    roles,
    roleIds: roles,
    isAdmin: u.admin,
    methods: ['password'],
    auditIds: [],
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 3_600_000),
  };
}

/** Fixed tokens and the real policy engine (identity's defaults plus networking's). */
export function fakeAuth(): AuthService {
  return { validator: { validate: ctxFor }, policy: new PolicyEngine() };
}

export interface NetTestApp {
  app: FastifyInstance;
  db: Db;
  config: ControllerConfig;
  net: Networking;
  layer: AgentLayer;
  req(method: string, url: string, token?: string, payload?: unknown): Promise<{ status: number; body: any }>;
  addHost(name: string, o?: { roles?: string[]; tunnelIp?: string; state?: 'up' | 'down' }): string;
  close(): Promise<void>;
}

/** A fastify with only the network plugin under /network, an in-memory db and a dispatcher that sends nothing. */
export async function netTestApp(
  network: Partial<ControllerConfig['network']> = {},
  o: { clientOptions?: AgentClientsOptions; live?: boolean } = {},
): Promise<NetTestApp> {
  const db = openDb(':memory:');
  migrate(db);
  const base = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
  const config: ControllerConfig = { ...base, network: { ...base.network, bind_wait_ms: 0, resync_s: 0, ...network } };
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 } });
  app.decorateRequest('auth', null);
  installJsonParser(app);
  const layer = createAgentLayer({ config, db, log: app.log, clientOptions: o.clientOptions, backoffBaseMs: 50 });
  if (!o.clientOptions && !o.live) await layer.dispatcher.close(0); // rows are written, nothing is sent
  const deps: ServiceDeps = { config, db, auth: fakeAuth(), log: app.log, facades: {}, extras: { agentLayer: layer } };
  const net = networkingOf(deps);
  deps.facades.networks = net.facade;
  await app.register(networkPlugin(deps), { prefix: '/network' });
  await app.ready();
  const req: NetTestApp['req'] = async (method, url, token = 'admin', payload) => {
    const r = await app.inject({
      method: method as 'GET',
      url: url.startsWith('/network') ? url : `/network${url}`,
      headers: { 'x-auth-token': token, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
      payload: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let body: unknown = null;
    try {
      body = r.body ? r.json() : null;
    } catch {
      body = r.body;
    }
    return { status: r.statusCode, body };
  };
  const addHost: NetTestApp['addHost'] = (name, o = {}) => {
    const id = newUuid();
    const now = new Date().toISOString();
    db.prepare(`INSERT INTO hosts (id, name, agent_url, credential_hash, roles, tunnel_ip, state, registered_at, last_heartbeat_at, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      id,
      name,
      `http://${name}:8001`,
      `hash-${id}`,
      JSON.stringify(o.roles ?? ['compute', 'network']),
      o.tunnelIp ?? '',
      o.state ?? 'up',
      now,
      now,
      now,
      now,
    );
    return id;
  };
  return {
    app,
    db,
    config,
    net,
    layer,
    req,
    addHost,
    async close() {
      await layer.dispatcher.close(0);
      await app.close();
      db.close();
    },
  };
}
