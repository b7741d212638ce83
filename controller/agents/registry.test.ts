import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import type { RegisterBody } from '../../shared/agent/host.js';
import { buildApp } from '../app.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { agentLayerOf } from './index.js';
import { HostsRepo } from './hosts.repo.js';
import { HostRegistry } from './registry.js';

const SECRET = 'registry-test-secret-0123456789';
const usage = {
  load1: 0.1,
  memory_mb_total: 1000,
  memory_mb_used: 100,
  disk_gb_total: 10,
  disk_gb_used: 1,
  uptime_s: 5,
  roles: {},
};
const reg: RegisterBody = {
  hostname: 'node1',
  roles: ['compute'],
  vcpus: 2,
  memory_mb: 1000,
  disk_gb: 10,
  hypervisor_type: 'QEMU',
  agent_version: '0.1.0',
  api_version: 1,
  agent_url: 'http://127.0.0.1:8001',
  tunnel_ip: '127.0.0.1',
  capabilities: { roles: { compute: { virt_type: 'qemu' } }, unavailable_roles: { volume: 'not built' } },
  usage,
};

async function setup() {
  const db = openDb(':memory:');
  migrate(db);
  const config = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
  const app = await buildApp({ config, db, logger: false });
  const layer = agentLayerOf(app.homestack.deps);
  return { app, db, config, layer };
}

describe('internal agent routes and the host registry', () => {
  it('refuses a registration without an enrolled credential (agent error document)', async () => {
    const { app, layer } = await setup();
    layer.hosts.enrol({ name: 'node1', agentUrl: 'http://127.0.0.1:8001', secret: SECRET });
    for (const authorization of [undefined, 'Bearer some-other-secret-123456']) {
      const r = await app.inject({
        method: 'POST',
        url: '/internal/v1/hosts/register',
        headers: authorization ? { authorization } : {},
        payload: reg,
      });
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toBe('Unauthorized');
    }
  });

  it('registers, marks up, records what the agent reported, and learns its secret', async () => {
    const { app, layer } = await setup();
    const h0 = layer.hosts.enrol({ name: 'node1', agentUrl: 'http://127.0.0.1:9', secret: SECRET });
    expect(h0.state).toBe('down');
    expect(layer.hosts.secretOf(h0.id)).toBeUndefined();
    const hb0 = await app.inject({
      method: 'POST',
      url: '/internal/v1/hosts/heartbeat',
      headers: { authorization: `Bearer ${SECRET}` },
      payload: { hostname: 'node1', api_version: 1, usage },
    });
    expect(hb0.statusCode).toBe(404); // never registered: the agent registers next
    const r = await app.inject({
      method: 'POST',
      url: '/internal/v1/hosts/register',
      headers: { authorization: `Bearer ${SECRET}` },
      payload: reg,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ host_id: h0.id, state: 'up', heartbeat_s: 10, down_after_missed: 3 });
    const h = layer.hosts.get('node1');
    expect(h).toMatchObject({
      state: 'up',
      roles: ['compute'],
      vcpus: 2,
      hypervisor_type: 'QEMU',
      agent_url: 'http://127.0.0.1:8001',
    });
    expect(h.capabilities).toMatchObject({ unavailable_roles: { volume: 'not built' } });
    expect(layer.hosts.secretOf(h0.id)).toBe(SECRET);
    const hb = await app.inject({
      method: 'POST',
      url: '/internal/v1/hosts/heartbeat',
      headers: { authorization: `Bearer ${SECRET}` },
      payload: { hostname: 'node1', api_version: 1, usage },
    });
    expect(hb.json()).toEqual({ host_id: h0.id, state: 'up' });
  });

  it('validates the registration body, naming the field', async () => {
    const { app, layer } = await setup();
    layer.hosts.enrol({ name: 'node1', agentUrl: 'http://127.0.0.1:8001', secret: SECRET });
    const r = await app.inject({
      method: 'POST',
      url: '/internal/v1/hosts/register',
      headers: { authorization: `Bearer ${SECRET}` },
      payload: { ...reg, vcpus: 'two' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.message).toContain('/vcpus');
  });

  it('marks a host down after heartbeat_s × down_after_missed without a beat, and up on the next', () => {
    const db = openDb(':memory:');
    migrate(db);
    const config = Value.Default(ControllerConfigSchema, {
      agents: { heartbeat_s: 10, down_after_missed: 3 },
    }) as ControllerConfig;
    let now = new Date('2026-11-22T08:00:00Z');
    const hosts = new HostRegistry(db, config, () => now);
    const ups: string[] = [];
    const downs: string[] = [];
    hosts.onUp((h) => ups.push(h.name));
    hosts.onDown((h) => downs.push(h.name));
    hosts.enrol({ name: 'node1', agentUrl: 'http://127.0.0.1:8001', secret: SECRET });
    hosts.register(SECRET, reg);
    now = new Date(now.getTime() + 29_000);
    expect(hosts.markStale()).toEqual([]);
    now = new Date(now.getTime() + 2_000);
    expect(hosts.markStale().map((h) => h.name)).toEqual(['node1']);
    expect(hosts.get('node1').state).toBe('down');
    expect(hosts.markStale()).toEqual([]);
    hosts.heartbeat(SECRET, { hostname: 'node1', api_version: 1, usage });
    expect(hosts.get('node1').state).toBe('up');
    expect(ups).toEqual(['node1', 'node1']);
    expect(downs).toEqual(['node1']);
  });

  it('refuses to enrol one credential for two hosts', () => {
    const db = openDb(':memory:');
    migrate(db);
    const hosts = new HostRegistry(db, Value.Default(ControllerConfigSchema, {}) as ControllerConfig);
    hosts.enrol({ name: 'a', agentUrl: 'http://127.0.0.1:1', secret: SECRET });
    expect(() => hosts.enrol({ name: 'b', agentUrl: 'http://127.0.0.1:2', secret: SECRET })).toThrow(/already enrolled/);
  });

  it('lists summaries without usage, and hosts by role on the decoded roles only', () => {
    const db = openDb(':memory:');
    migrate(db);
    const hosts = new HostRegistry(db, Value.Default(ControllerConfigSchema, {}) as ControllerConfig);
    hosts.enrol({ name: 'node1', agentUrl: 'http://127.0.0.1:8001', secret: SECRET });
    hosts.enrol({ name: 'volume-ish', agentUrl: 'http://127.0.0.1:8002', secret: `${SECRET}-2` });
    hosts.register(SECRET, reg);
    // A role name inside another string is not the role.
    hosts.register(`${SECRET}-2`, { ...reg, hostname: 'volume-ish', roles: ['network'], tunnel_ip: '"volume"' });
    const repo = new HostsRepo(db);
    const s = repo.listSummaries();
    expect(s.map((h) => [h.name, h.roles, h.enabled, h.state])).toEqual([
      ['node1', ['compute'], true, 'up'],
      ['volume-ish', ['network'], true, 'up'],
    ]);
    expect(s[0]).not.toHaveProperty('usage');
    expect(s[0]!.capabilities).toEqual(reg.capabilities);
    expect(repo.listWithRole('volume')).toEqual([]);
    expect(repo.listWithRole('compute').map((h) => h.name)).toEqual(['node1']);
    hosts.register(`${SECRET}-2`, { ...reg, hostname: 'volume-ish', roles: ['network', 'volume'] });
    expect(repo.listWithRole('volume').map((h) => h.name)).toEqual(['volume-ish']);
  });
});
