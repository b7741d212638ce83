import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { agentLayerOf } from '../../controller/agents/index.js';
import { buildApp } from '../../controller/app.js';
import { bootstrap } from '../../controller/cli/bootstrap.js';
import { migrate } from '../../controller/db/migrate.js';
import { openDb } from '../../controller/db/open.js';

/**
 * Secrets stay out of logs and error bodies: a controller logging at trace level sees
 * password logins (good and bad), tokens, an application credential's secret used to
 * authenticate, a user created with a password, and an agent registering with its host
 * credential; none of those values may appear in the log or in any error body.
 */
const PASSWORD = 'Sekr3t-admin-password-xyz';
const WRONG = 'Wr0ng-password-should-not-appear';
const USER_PW = 'Us3r-password-abc-123';
const AGENT_SECRET = 'agent-secret-0123456789abcdef0123456789';
let log = '';
let app: Awaited<ReturnType<typeof buildApp>>;
let dir = '';
const secrets: string[] = [PASSWORD, WRONG, USER_PW, AGENT_SECRET];
const bodies: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-secrets-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    public_url: 'http://cloud.test:8000',
    identity: { scrypt_log_n: 10 },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  await bootstrap(db, config, { adminPassword: PASSWORD });
  const sink = new Writable({
    write(chunk, _e, cb) {
      log += chunk.toString();
      cb();
    },
  });
  app = await buildApp({ config, db, logger: pino({ level: 'trace' }, sink) });
}, 60_000);
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (
  method: string,
  url: string,
  o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) => {
  const r = await app.inject({
    method: method as 'GET',
    url,
    headers: {
      ...(o.token ? { 'x-auth-token': o.token } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...o.headers,
    },
    ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
  });
  if (r.statusCode >= 400) bodies.push(r.body);
  return r;
};
const pwAuth = (user: string, password: string, project?: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
    ...(project ? { scope: { project: { name: project, domain: { name: 'Default' } } } } : {}),
  },
});

describe('secrets in logs and error bodies', () => {
  it('none of the secrets used in a session appears in the trace log or an error body', async () => {
    const bad = await call('POST', '/identity/v3/auth/tokens', { body: pwAuth('admin', WRONG, 'admin') });
    expect(bad.statusCode).toBe(401);
    const good = await call('POST', '/identity/v3/auth/tokens', { body: pwAuth('admin', PASSWORD, 'admin') });
    expect(good.statusCode).toBe(201);
    const token = String(good.headers['x-subject-token']);
    secrets.push(token);
    const me = good.json().token.user.id as string;
    const u = await call('POST', '/identity/v3/users', {
      token,
      body: { user: { name: 'tsec-user', password: USER_PW, domain_id: 'default' } },
    });
    expect(u.statusCode).toBe(201);
    const ac = await call('POST', `/identity/v3/users/${me}/application_credentials`, {
      token,
      body: { application_credential: { name: 'tsec-ac' } },
    });
    expect(ac.statusCode).toBe(201);
    const { id: acId, secret: acSecret } = ac.json().application_credential as { id: string; secret: string };
    secrets.push(acSecret);
    const viaAc = await call('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: { identity: { methods: ['application_credential'], application_credential: { id: acId, secret: acSecret } } },
      },
    });
    expect(viaAc.statusCode).toBe(201);
    secrets.push(String(viaAc.headers['x-subject-token']));
    const badAc = await call('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: { identity: { methods: ['application_credential'], application_credential: { id: acId, secret: `${acSecret}x` } } },
      },
    });
    expect(badAc.statusCode).toBe(401);
    // Token validation with a token in a header, and a request with a bad token.
    expect((await call('GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } })).statusCode).toBe(
      200,
    );
    expect((await call('GET', '/compute/v2.1/servers', { token: `${token}tampered` })).statusCode).toBe(401);
    // An agent registering with its host credential (enrolled first), and with a wrong one.
    const hosts = agentLayerOf(app.homestack.deps).hosts;
    hosts.enrol({ name: 'tsec-host', agentUrl: 'http://127.0.0.1:8001', secret: AGENT_SECRET });
    const reg = {
      hostname: 'tsec-host',
      roles: [],
      vcpus: 1,
      memory_mb: 1,
      disk_gb: 1,
      hypervisor_type: 'QEMU',
      agent_version: '0.1.0',
      api_version: 1,
      agent_url: 'http://127.0.0.1:8001',
      tunnel_ip: '127.0.0.1',
      capabilities: {},
      usage: { load1: 0, memory_mb_total: 1, memory_mb_used: 0, disk_gb_total: 1, disk_gb_used: 0, uptime_s: 1, roles: {} },
    };
    await call('POST', '/internal/v1/hosts/register', { body: reg, headers: { authorization: `Bearer ${AGENT_SECRET}` } });
    await call('POST', '/internal/v1/hosts/register', { body: reg, headers: { authorization: `Bearer ${AGENT_SECRET}-wrong` } });

    expect(log.length).toBeGreaterThan(1000);
    const inLog = secrets.filter((s) => log.includes(s));
    const inBodies = secrets.filter((s) => bodies.some((b) => b.includes(s)));
    console.log(
      `[figures] secrets: ${secrets.length} secret values checked against ${log.split('\n').length} trace log lines and ${bodies.length} error bodies`,
    );
    expect(inLog).toEqual([]);
    expect(inBodies).toEqual([]);
  });
});
