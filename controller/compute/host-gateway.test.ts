import Fastify from 'fastify';
import { MockAgent } from 'undici';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceSpec } from '../../shared/agent/compute.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { createAgentLayer } from '../agents/index.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { dispatcherGateway, HostOpError } from './host-gateway.js';

const ORIGIN = 'http://10.9.9.8:8001';
const SECRET = 'compute-secret-compute';
const UUID = '1b4c8d2e-3f4a-4b5c-8d6e-7f8091a2b3c4';
let mock: MockAgent;
afterEach(async () => {
  await mock?.close();
});

function setup(o: { giveUpAfter?: number; pollMs?: number } = {}) {
  mock = new MockAgent();
  mock.disableNetConnect();
  const db = openDb(':memory:');
  migrate(db);
  const config = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
  const layer = createAgentLayer({
    config,
    db,
    log: Fastify({ logger: false }).log,
    clientOptions: { dispatcher: mock },
    backoffBaseMs: 10,
  });
  const h = layer.hosts.enrol({ name: 'cmp9', agentUrl: ORIGIN, secret: SECRET });
  layer.hosts.rememberSecret(h.id, SECRET);
  return { gw: dispatcherGateway(layer, o), host: { id: h.id, name: h.name }, layer };
}

const state = {
  uuid: UUID,
  power_state: 1,
  state: 'running',
  suspended_to_disk: false,
  vcpus: 1,
  memory_mb: 64,
  cpu_time_ns: 0,
  volumes: {},
  ports: [],
};
const spec: InstanceSpec = {
  uuid: UUID,
  name: 'vm',
  hostname: 'vm',
  vcpus: 1,
  memory_mb: 64,
  root_gb: 1,
  nics: [],
  config_drive: null,
};

describe('the dispatcher-backed compute gateway', () => {
  it('spawns through a durable operation and returns the hypervisor state and libvirt start time', async () => {
    const { gw, host, layer } = setup();
    let body: unknown;
    mock
      .get(ORIGIN)
      .intercept({ path: '/v1/compute/instances', method: 'POST' })
      .reply(200, (o) => {
        body = JSON.parse(String(o.body));
        return {
          instance: state,
          timings: { image_ms: 1, disk_ms: 1, config_drive_ms: 1, define_ms: 1, libvirt_start_ms: 42, total_ms: 50 },
          image_cached: true,
        };
      });
    const r = await gw.spawn(host, spec, 'req-1');
    expect(r).toEqual({ state, libvirtStartMs: 42 });
    expect(body).toEqual(spec);
    const ops = layer.dispatcher.list({ resource: { type: 'server', id: `${UUID}@${host.id}` } });
    expect(ops[0]).toMatchObject({ kind: 'compute.spawn', state: 'done', request_id: 'req-1' });
  });

  it("turns an agent error into HostOpError with the agent's code and message", async () => {
    const { gw, host } = setup();
    mock
      .get(ORIGIN)
      .intercept({ path: '/v1/compute/instances', method: 'POST' })
      .reply(500, { error: { code: 'SpawnFailed', message: 'qemu-img create: No space left on device', retryable: false } });
    const e = await gw.spawn(host, spec).catch((x) => x);
    expect(e).toBeInstanceOf(HostOpError);
    expect(e).toMatchObject({ code: 'SpawnFailed', message: 'qemu-img create: No space left on device' });
  });

  it('maps power operations to their routes and reads the console synchronously', async () => {
    const { gw, host } = setup();
    const pool = mock.get(ORIGIN);
    let stopBody: unknown;
    pool.intercept({ path: `/v1/compute/instances/${UUID}/stop`, method: 'POST' }).reply(200, (o) => {
      stopBody = JSON.parse(String(o.body));
      return { instance: { ...state, power_state: 4 }, forced: false };
    });
    pool.intercept({ path: `/v1/compute/instances/${UUID}/reboot`, method: 'POST' }).reply(200, { instance: state });
    pool
      .intercept({ path: `/v1/compute/instances/${UUID}/console`, method: 'GET' })
      .reply(200, { output: 'boot ok\n', truncated: false });
    pool.intercept({ path: `/v1/compute/instances/${UUID}`, method: 'DELETE' }).reply(200, { uuid: UUID, existed: true });
    expect((await gw.power(host, UUID, 'stop')).power_state).toBe(4);
    expect(stopBody).toEqual({ uuid: UUID, timeout_s: 60 });
    expect((await gw.power(host, UUID, 'reboot_hard')).power_state).toBe(1);
    expect(await gw.consoleLog(host, UUID)).toBe('boot ok\n');
    await gw.destroy(host, UUID);
  });

  it('gives up on a spawn the agent keeps refusing with a retryable error, so the build moves on', async () => {
    const { gw, host, layer } = setup({ giveUpAfter: 2, pollMs: 20 });
    mock
      .get(ORIGIN)
      .intercept({ path: '/v1/compute/instances', method: 'POST' })
      .reply(500, { error: { code: 'ImageFetchFailed', message: 'the image API answered 500', retryable: true } })
      .persist();
    const pump = setInterval(() => void layer.dispatcher.pump(), 10);
    try {
      const e = await gw.spawn(host, spec).catch((x) => x);
      expect(e).toBeInstanceOf(HostOpError);
      expect(e.code).toBe('Cancelled');
      expect(e.message).toContain('the image API answered 500');
      const op = layer.dispatcher.list({ resource: { type: 'server', id: `${UUID}@${host.id}` } })[0]!;
      expect(op.state).toBe('failed');
    } finally {
      clearInterval(pump);
    }
  });
});
