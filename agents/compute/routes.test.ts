import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import * as C from '../../shared/agent/compute.js';
import { sampleConnection, sampleSpec, sampleVif } from '../../shared/agent/compute.sample.js';
import type { AgentRoute, BodyOf } from '../../shared/agent/contract.js';
import { AgentConfigSchema } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { checkReply, requestOf } from '../../controller/agents/client.js';
import { buildAgentApp } from '../host/app.js';
import { OpStore } from '../host/op-store.repo.js';
import { FakeHypervisor } from './fake.js';
import { computeRole, registerComputeRole } from './main.js';

const SECRET = 'agent-test-secret-0123456789';
const auth = { authorization: `Bearer ${SECRET}` };
const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  fatal() {},
  trace() {},
  child() {
    return silent;
  },
  level: 'silent',
  silent() {},
};
const U = sampleSpec.uuid;

async function agent(driver = new FakeHypervisor()) {
  const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
  const config = Value.Default(AgentConfigSchema, { compute: { driver: 'fake' } }) as never;
  const fake = new FakeRunner();
  const ctx = {
    config,
    log: silent as never,
    run: fake.run,
    hostname: 'h1',
    dataDir: '/nonexistent',
    controller: { url: 'http://x', secret: SECRET },
  };
  const handle = await registerComputeRole(a, ctx, driver);
  /** Calls a route the way the controller's AgentClient does and checks the reply like it does. */
  const call = async <R extends AgentRoute>(r: R, body: BodyOf<R>, status = 200) => {
    const q = requestOf(r, body);
    const res = await a.fastify.inject({
      method: q.method,
      url: q.path,
      headers: { ...auth, ...(q.payload ? { 'content-type': 'application/json' } : {}) },
      payload: q.payload,
    });
    expect(res.statusCode, `${r.name}: ${res.body}`).toBe(status);
    return status === 200 ? checkReply(r, res.json()) : res.json();
  };
  return { a, handle, call, driver, fake };
}

describe('compute contract: every descriptor through the agent app with the fake driver', () => {
  it('samples validate against the schemas', () => {
    expect(Value.Check(C.InstanceSpec, sampleSpec)).toBe(true);
    expect(Value.Check(C.VifSpec, sampleVif)).toBe(true);
    expect(Value.Check(C.IscsiConnectionInfo, sampleConnection)).toBe(true);
  });

  it('registers every descriptor exactly once', async () => {
    const { a } = await agent();
    expect(a.routes.sort()).toEqual(C.COMPUTE_ROUTES.map((r) => r.name).sort());
    expect(new Set(C.COMPUTE_ROUTES.map((r) => `${r.method} ${r.url}`)).size).toBe(C.COMPUTE_ROUTES.length);
  });

  it('the role module reports the hypervisor and usage', async () => {
    const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    const config = Value.Default(AgentConfigSchema, { compute: { driver: 'fake' } }) as never;
    const h = (await computeRole.register(a, {
      config,
      log: silent as never,
      run: new FakeRunner().run,
      hostname: 'h1',
      dataDir: '/x',
      controller: { url: 'http://x', secret: SECRET },
    }))!;
    expect(h.hypervisorType).toBe('QEMU');
    expect(h.capabilities).toMatchObject({ driver: 'fake', virt_type: 'qemu' });
    expect(await h.usage!()).toEqual({ vcpus_used: 0, memory_mb_used: 0, running_vms: 0, disk_gb_used: 0 });
  });

  it('walks a server through its life; every reply validates', async () => {
    const { call } = await agent();
    expect((await call(C.HostInfo, {})).hypervisor_type).toBe('QEMU');
    const sp = await call(C.Spawn, sampleSpec);
    expect(sp.instance.power_state).toBe(C.PowerState.RUNNING);
    expect(sp.image_cached).toBe(false);
    expect((await call(C.Spawn, sampleSpec, 409)).error.code).toBe('InstanceExists');
    const listed = await call(C.ListInstances, {});
    expect(listed.instances.map((i: C.InstanceState) => i.uuid)).toEqual([U]);
    expect(listed.orphans).toEqual([]);
    expect((await call(C.GetInstance, { uuid: U })).instance!.ports).toEqual([sampleVif.port_id]);
    expect((await call(C.GetInstance, { uuid: '00000000-0000-4000-8000-000000000000' })).instance).toBeNull();
    expect((await call(C.PowerOff, { uuid: U, timeout_s: 5 })).instance.power_state).toBe(C.PowerState.SHUTDOWN);
    expect((await call(C.VncConsole, { uuid: U }, 409)).error.code).toBe('InvalidState');
    expect((await call(C.PowerOn, { uuid: U })).instance.power_state).toBe(C.PowerState.RUNNING);
    expect((await call(C.Reboot, { uuid: U, hard: false })).instance.power_state).toBe(C.PowerState.RUNNING);
    expect((await call(C.Pause, { uuid: U })).instance.power_state).toBe(C.PowerState.PAUSED);
    expect((await call(C.Unpause, { uuid: U })).instance.power_state).toBe(C.PowerState.RUNNING);
    expect((await call(C.Suspend, { uuid: U })).instance.suspended_to_disk).toBe(true);
    expect((await call(C.Resume, { uuid: U })).instance.power_state).toBe(C.PowerState.RUNNING);
    expect(await call(C.VncConsole, { uuid: U })).toEqual({ host: '127.0.0.1', port: 5900 });
    const snap = await call(C.Snapshot, {
      uuid: U,
      image_id: sampleSpec.image!.id,
      upload_url: 'http://127.0.0.1:8000/image/v2/images/x/file',
      token: 't',
      disk_format: 'qcow2',
    });
    expect(snap.image_id).toBe(sampleSpec.image!.id);
    expect(
      (await call(C.AttachVolume, { uuid: U, volume_id: sampleConnection.data.volume_id, connection: sampleConnection })).device,
    ).toBe('/dev/vdb');
    expect(
      (
        await call(C.AttachVolume, {
          uuid: U,
          volume_id: sampleConnection.data.volume_id,
          connection: sampleConnection,
          device: '/dev/vdc',
        })
      ).device,
    ).toBe('/dev/vdb');
    expect((await call(C.GetInstance, { uuid: U })).instance!.volumes).toEqual({ [sampleConnection.data.volume_id]: 'vdb' });
    expect(await call(C.DetachVolume, { uuid: U, volume_id: sampleConnection.data.volume_id })).toEqual({
      volume_id: sampleConnection.data.volume_id,
      existed: true,
    });
    expect((await call(C.DetachVolume, { uuid: U, volume_id: sampleConnection.data.volume_id })).existed).toBe(false);
    const vif2 = { ...sampleVif, port_id: '10011000-0000-4000-8000-000000000099', mac: 'fa:16:3e:00:00:99' };
    expect(await call(C.PlugVif, { uuid: U, vif: vif2 })).toEqual({ port_id: vif2.port_id, tap: 'tap10011000-00' });
    expect((await call(C.UnplugVif, { uuid: U, port_id: vif2.port_id })).existed).toBe(true);
    expect((await call(C.ConsoleLog, { uuid: U, max_bytes: 10 })).truncated).toBe(true);
    expect((await call(C.ConsoleLog, { uuid: U })).output).toContain('HOMESTACK-GUEST-UP');
    expect((await call(C.ListCachedImages, {})).images[0]).toMatchObject({ image_id: sampleSpec.image!.id, used_by: [U] });
    expect((await call(C.EvictCachedImage, { image_id: sampleSpec.image!.id }, 409)).error.code).toBe('InvalidState');
    expect(await call(C.DestroyInstance, { uuid: U, delete_disks: true })).toEqual({ uuid: U, existed: true });
    expect(await call(C.DestroyInstance, { uuid: U, delete_disks: true })).toEqual({ uuid: U, existed: false });
    expect((await call(C.PowerOn, { uuid: U }, 404)).error).toEqual({
      code: 'InstanceNotFound',
      message: expect.stringContaining(U),
      retryable: false,
    });
    expect((await call(C.EvictCachedImage, { image_id: sampleSpec.image!.id })).existed).toBe(true);
  });

  it('a failed spawn is a SpawnFailed error document whose message names the step', async () => {
    const d = new FakeHypervisor();
    d.failNextSpawn('start domain: boom');
    const { call } = await agent(d);
    expect((await call(C.Spawn, sampleSpec, 500)).error).toEqual({
      code: 'SpawnFailed',
      message: 'start domain: boom',
      retryable: false,
    });
    expect((await call(C.GetInstance, { uuid: U })).instance).toBeNull();
  });

  it('rejects a spec that breaks the schema with 400 naming the field', async () => {
    const { a } = await agent();
    const r = await a.fastify.inject({ method: 'POST', url: C.Spawn.url, headers: auth, payload: { ...sampleSpec, vcpus: 0 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toContain('/vcpus');
  });
});
