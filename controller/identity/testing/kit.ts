import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { buildApp } from '../../app.js';
import { bootstrap } from '../../cli/bootstrap.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';

/** For the identity unit tests: an in-memory controller with a bootstrapped cloud. */
export interface TestCloud {
  app: FastifyInstance;
  db: Db;
  config: ControllerConfig;
  dir: string;
  adminToken: string;
  adminProjectId: string;
  adminUserId: string;
  /** POST /v3/auth/tokens with a password; returns the token and the response. */
  login(user: string, password: string, project?: string, domain?: string): Promise<{ token: string; status: number; body: any }>;
  req(
    method: string,
    url: string,
    token?: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export const ADMIN_PASSWORD = 'secret-admin';

export async function testCloud(overrides: Record<string, unknown> = {}): Promise<TestCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-identity-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    public_url: 'http://cloud.test:8000',
    ...overrides,
    identity: { scrypt_log_n: 10, ...(overrides.identity as object | undefined) },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  const boot = await bootstrap(db, config, { adminPassword: ADMIN_PASSWORD });
  const app = await buildApp({ config, db, logger: false });
  const req: TestCloud['req'] = async (method, url, token, payload, headers = {}) => {
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(token ? { 'x-auth-token': token } : {}),
        ...(payload !== undefined && typeof payload !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      payload: payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    let body: unknown = null;
    try {
      body = r.body ? r.json() : null;
    } catch {
      body = r.body;
    }
    return { status: r.statusCode, body, headers: r.headers };
  };
  const login: TestCloud['login'] = async (user, password, project, domain = 'Default') => {
    const auth: any = {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: domain }, password } } },
    };
    if (project) auth.scope = { project: { name: project, domain: { name: domain } } };
    const r = await req('POST', '/v3/auth/tokens', undefined, { auth });
    return { token: String(r.headers['x-subject-token'] ?? ''), status: r.status, body: r.body };
  };
  const admin = await login('admin', ADMIN_PASSWORD, 'admin');
  return {
    app,
    db,
    config,
    dir,
    adminToken: admin.token,
    adminProjectId: boot.adminProjectId,
    adminUserId: boot.adminUserId,
    login,
    req,
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
