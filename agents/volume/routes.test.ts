import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockAgent } from 'undici';
import { Value } from 'typebox/value';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKUP_ROUTES } from '../../shared/agent/backup.js';
import {
  CreateSnapshot,
  CreateVolume,
  DeleteSnapshot,
  DeleteVolume,
  ExtendVolume,
  InitializeConnection,
  SyncConnections,
  TerminateConnection,
  VOLUME_ROUTES,
  VolumeStats,
} from '../../shared/agent/volume.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { makeRunner } from '../../shared/exec/run.js';
import { buildAgentApp, type AgentApp } from '../host/app.js';
import { OpStore } from '../host/op-store.repo.js';
import { FakeTarget } from './fake.js';
import { FileBackend } from './file.js';
import { volumeRole } from './main.js';
import { registerVolumeRoutes } from './routes.js';
import { VolumeService } from './service.js';

const SECRET = 'agent-test-secret-0123456789';
const headers = { authorization: `Bearer ${SECRET}` };
const GiB = 1024 ** 3;

let dir: string;
let a: AgentApp;
let target: FakeTarget;
let mock: MockAgent;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-volagent-'));
  a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  target = new FakeTarget();
  mock = new MockAgent();
  mock.disableNetConnect();
  const backend = new FileBackend({ dir: join(dir, 'v'), run: makeRunner() });
  await backend.init();
  registerVolumeRoutes(a, new VolumeService(backend, target, { workDir: join(dir, 'work'), dispatcher: mock }));
});
afterEach(async () => {
  await a.fastify.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(route: (typeof VOLUME_ROUTES)[number], body: Record<string, unknown>) {
  const url = route.url.replace(/:([a-z_]+)/g, (_m, k: string) => String(body[k]));
  const r = await a.fastify.inject({ method: route.method, url, headers, ...(route.method === 'GET' ? {} : { payload: body }) });
  const json = r.json();
  if (r.statusCode === 200) expect(Value.Check(route.reply, json)).toBe(true);
  return { status: r.statusCode, body: json };
}

describe('volume agent routes (file back end, fake target)', () => {
  it('registers every descriptor through the role with the fake back end', async () => {
    const b = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    const config = Value.Default(AgentConfigSchema, { volume: { backend: 'fake', target: 'fake' } }) as never;
    const silent = {
      info() {},
      warn() {},
      error() {},
      debug() {},
      child() {
        return silent;
      },
    };
    const h = await volumeRole.register(b, {
      config,
      log: silent as never,
      run: makeRunner(),
      hostname: 'h1',
      dataDir: dir,
      controller: { url: 'http://x', secret: SECRET },
    });
    expect(b.routes.sort()).toEqual([...VOLUME_ROUTES, ...BACKUP_ROUTES].map((r) => r.name).sort()); // the default posix backup target
    expect(h!.capabilities).toMatchObject({ backend: 'fake', target: 'fake' });
    await b.fastify.close();
  });

  it('create → export, extend, snapshot, clone, connect, delete', async () => {
    const id = randomUUID();
    const c = await call(CreateVolume, { id, size_gb: 1, source: { type: 'empty' } });
    expect(c.status).toBe(200);
    expect(statSync(c.body.device_path).size).toBe(GiB);
    expect(target.exports.get(id)?.devicePath).toBe(c.body.device_path);
    expect((await call(ExtendVolume, { id, size_gb: 2 })).body).toEqual({ size_gb: 2 });
    const shrink = await call(ExtendVolume, { id, size_gb: 1 });
    expect(shrink.status).toBe(400);
    expect(shrink.body.error.code).toBe('BadRequest');
    const snap = randomUUID();
    expect((await call(CreateSnapshot, { id: snap, volume_id: id })).status).toBe(200);
    const clone = randomUUID();
    expect((await call(CreateVolume, { id: clone, size_gb: 2, source: { type: 'snapshot', snapshot_id: snap } })).status).toBe(
      200,
    );
    const missing = await call(CreateVolume, {
      id: randomUUID(),
      size_gb: 1,
      source: { type: 'snapshot', snapshot_id: randomUUID() },
    });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'SnapshotNotFound' } } });
    const conn = await call(InitializeConnection, {
      id,
      connector: { initiator: 'iqn.2005-03.org.homestack:h1', address: '127.0.0.1' },
      auth: { username: 'hs-x', password: 'pw0123456789AB' },
    });
    expect(conn.body.connection.data).toMatchObject({ target_lun: 1, auth_username: 'hs-x', volume_id: id });
    expect(target.exports.get(id)!.users.has('hs-x')).toBe(true);
    await call(TerminateConnection, {
      id,
      connector: { initiator: 'iqn.2005-03.org.homestack:h1' },
      auth: { username: 'hs-x', password: 'pw0123456789AB' },
    });
    expect(target.exports.get(id)!.users.size).toBe(0);
    // The whole desired set (sent when the host registers): every volume exported, wanted credentials made, stale ones removed.
    await call(InitializeConnection, {
      id,
      connector: { initiator: 'iqn.2005-03.org.homestack:h1' },
      auth: { username: 'hs-stale', password: 'pw0123456789AB' },
    });
    expect(target.exports.get(id)!.users.has('hs-stale')).toBe(true);
    const sync = await call(SyncConnections, {
      connections: [
        {
          volume_id: clone,
          connector: { initiator: 'iqn.2005-03.org.homestack:h2', address: '127.0.0.1' },
          auth: { username: 'hs-keep', password: 'pw0123456789AB' },
        },
      ],
    });
    expect(sync.body).toEqual({ exports: 2, connections: 1 });
    expect([...target.exports.get(clone)!.users.keys()]).toEqual(['hs-keep']);
    expect(target.exports.get(id)!.users.size).toBe(0);
    expect((await call(DeleteSnapshot, { id: snap })).status).toBe(200);
    expect((await call(DeleteSnapshot, { id: snap })).status).toBe(200);
    const st = await call(VolumeStats, {});
    expect(st.body).toMatchObject({ backend: 'file', volumes: 2, exports: 2 });
    expect((await call(DeleteVolume, { id })).status).toBe(200);
    expect((await call(DeleteVolume, { id })).status).toBe(200);
    expect(target.exports.has(id)).toBe(false);
  });

  it('creates from an image fetched with the token, checksum verified, converted to raw', async () => {
    const raw = Buffer.alloc(1024 * 1024, 7);
    const md5 = createHash('md5').update(raw).digest('hex');
    const imgId = randomUUID();
    mock
      .get('http://ctl:8000')
      .intercept({ path: `/image/v2/images/${imgId}/file`, method: 'GET', headers: { 'x-auth-token': 'tok-1' } })
      .reply(200, raw);
    const id = randomUUID();
    const r = await call(CreateVolume, {
      id,
      size_gb: 1,
      source: {
        type: 'image',
        image: {
          id: imgId,
          download_url: `http://ctl:8000/image/v2/images/${imgId}/file`,
          token: 'tok-1',
          checksum: md5,
          disk_format: 'raw',
        },
      },
    });
    expect(r.status).toBe(200);
    expect(statSync(r.body.device_path).size).toBe(GiB);
    mock
      .get('http://ctl:8000')
      .intercept({ path: `/image/v2/images/${imgId}/file`, method: 'GET' })
      .reply(200, raw);
    const bad = await call(CreateVolume, {
      id: randomUUID(),
      size_gb: 1,
      source: {
        type: 'image',
        image: {
          id: imgId,
          download_url: `http://ctl:8000/image/v2/images/${imgId}/file`,
          token: 'tok-1',
          checksum: '0'.repeat(32),
          disk_format: 'raw',
        },
      },
    });
    expect(bad.status).toBe(500);
    expect(bad.body.error.code).toBe('ChecksumMismatch');
  });
});
