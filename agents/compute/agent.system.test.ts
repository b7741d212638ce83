import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Value } from 'typebox/value';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as C from '../../shared/agent/compute.js';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
import { checkReply, requestOf } from '../../controller/agents/client.js';
import type { AgentRoute, BodyOf, ReplyOf } from '../../shared/agent/contract.js';
import { makeRunner } from '../../shared/exec/run.js';
import { startAgent, type RunningAgent } from '../host/start.js';
import { ROLE_MODULES } from '../roles.js';

/**
 * The whole agent process path with the real compute role: startAgent (data_dir created
 * 0700, libvirt driver from config) → HTTP with the bearer secret → a real TCG guest
 * booted from an image already in the host's cache → console → stop → destroy. Every
 * reply is checked the way the controller's AgentClient checks it.
 */

const IMAGE = resolve(
  process.env.ACC_GUEST_IMAGE ?? new URL('../../build/test-image/homestack-guest.qcow2', import.meta.url).pathname,
);
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : process.getuid?.() !== 0
      ? 'not root'
      : !existsSync('/run/libvirt/libvirt-sock')
        ? 'libvirtd is not running'
        : !existsSync(IMAGE)
          ? `no test image at ${IMAGE}`
          : '';
if (why) console.log(`agent.system.test: skipped: ${why}`);

const runId = randomBytes(3).toString('hex');
const SECRET = `t${runId}-agent-secret-0123456789`;

describe.skipIf(Boolean(why))('compute agent process (startAgent + libvirt)', () => {
  let dir = '';
  let running: RunningAgent;
  let origin = '';
  const uuid = randomUUID();
  const imageId = randomUUID();

  const call = async <R extends AgentRoute>(r: R, body: BodyOf<R>): Promise<ReplyOf<R>> => {
    const q = requestOf(r, body);
    const res = await request(`${origin}${q.path}`, {
      method: q.method,
      body: q.payload,
      headers: { authorization: `Bearer ${SECRET}`, ...(q.payload ? { 'content-type': 'application/json' } : {}) },
    });
    const text = await res.body.text();
    expect(res.statusCode, `${r.name}: ${text}`).toBe(200);
    return checkReply(r, JSON.parse(text));
  };

  beforeAll(async () => {
    dir = await mkdtemp(`/tmp/t${runId}-agent-`);
    const port = 20000 + (parseInt(runId, 16) % 20000);
    const config = Value.Default(AgentConfigSchema, {
      host: `t${runId}`,
      roles: ['compute'],
      data_dir: join(dir, 'data'),
      credential_file: join(dir, 'agent.key'), // not /etc/homestack's: its tls/ would turn on mutual TLS (agent-tls.ts)
      controller_url: 'http://127.0.0.1:9',
      listen: { host: '127.0.0.1', port },
      heartbeat_s: 3600,
      log: { level: 'error' },
    }) as AgentConfig;
    running = await startAgent({ config, secret: SECRET, roleModules: ROLE_MODULES, logger: false });
    origin = `http://127.0.0.1:${port}`;
    // Seed the cache as a finished download would have left it.
    await makeRunner()('qemu-img', [
      'convert',
      '-f',
      'qcow2',
      '-O',
      'qcow2',
      IMAGE,
      join(dir, 'data', 'images', `${imageId}.qcow2`),
    ]);
  });

  afterAll(async () => {
    if (origin) await call(C.DestroyInstance, { uuid, delete_disks: true }).catch(() => {});
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the compute role and boots a guest over HTTP', async () => {
    expect(running.roles).toEqual(['compute']);
    expect(running.unavailable).toEqual({});
    const host = await call(C.HostInfo, {});
    expect(host.virt_type).toBe(/\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'kvm' : 'qemu');
    const sp = await call(C.Spawn, {
      uuid,
      name: `t${runId}`,
      hostname: `t${runId}-agent`,
      vcpus: 1,
      memory_mb: 192,
      root_gb: 1,
      nics: [],
      image: { id: imageId, download_url: 'http://127.0.0.1:9/unused', token: 'x', checksum: null, disk_format: 'qcow2' },
      config_drive: {
        meta_data: { uuid, name: `t${runId}`, hostname: `t${runId}-agent` },
        user_data: Buffer.from('#!/bin/sh\necho AGENT-E2E-$(hostname)\n').toString('base64'),
        network_data: { links: [], networks: [], services: [] },
      },
    });
    console.log(`spawn over HTTP: ${JSON.stringify(sp.timings)}`);
    expect(sp.image_cached).toBe(true);
    const end = Date.now() + 180_000;
    let out = '';
    while (Date.now() < end && !out.includes(`AGENT-E2E-t${runId}-agent`)) {
      out = (await call(C.ConsoleLog, { uuid, max_bytes: 65536 })).output;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(out).toContain(`AGENT-E2E-t${runId}-agent`);
    expect((await call(C.ListInstances, {})).instances.map((i) => i.uuid)).toContain(uuid);
    expect((await call(C.PowerOff, { uuid, timeout_s: 60 })).instance.power_state).toBe(C.PowerState.SHUTDOWN);
    expect(await call(C.DestroyInstance, { uuid, delete_disks: true })).toEqual({ uuid, existed: true });
    expect((await call(C.GetInstance, { uuid })).instance).toBeNull();
  });
});
