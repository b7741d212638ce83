import { describe, expect, it } from 'vitest';
import { agentVersionNote } from './agent-version.js';

describe('agent version vs controller', () => {
  it('accepts the same minor and one minor behind, flags the rest', () => {
    expect(agentVersionNote('0.2.0', '0.2.3')).toBe('0.2.3');
    expect(agentVersionNote('0.2.0', '0.1.9')).toMatch(/one minor behind: supported/);
    expect(agentVersionNote('0.3.0', '0.1.0')).toMatch(/2 minors behind: unsupported/);
    expect(agentVersionNote('0.1.0', '0.2.0')).toMatch(/newer than controller/);
    expect(agentVersionNote('1.0.0', '0.9.0')).toMatch(/major differs/);
    expect(agentVersionNote('0.1.0', '')).toBe('(not reported)');
  });
});

describe('the controller accepts an agent one minor behind', () => {
  it('registers it and host list says so', async () => {
    const { Value } = await import('typebox/value');
    const { ControllerConfigSchema } = await import('../../shared/config/controller.js');
    const { openDb } = await import('../db/open.js');
    const { migrate } = await import('../db/migrate.js');
    const { HostRegistry } = await import('../agents/registry.js');
    const db = openDb(':memory:');
    migrate(db);
    const hosts = new HostRegistry(db, Value.Default(ControllerConfigSchema, {}) as never);
    const secret = 'agent-version-test-secret-0123456789';
    hosts.enrol({ name: 'tav-node', agentUrl: 'http://127.0.0.1:8001', secret });
    hosts.register(secret, {
      hostname: 'tav-node',
      roles: ['compute'],
      vcpus: 2,
      memory_mb: 1000,
      disk_gb: 10,
      hypervisor_type: 'QEMU',
      agent_version: '0.1.4',
      api_version: 1,
      agent_url: 'http://127.0.0.1:8001',
      tunnel_ip: '127.0.0.1',
      capabilities: {},
      usage: {},
    } as never);
    const h = hosts.get('tav-node');
    expect(h.state).toBe('up');
    expect(agentVersionNote('0.2.0', h.agent_version)).toBe('0.1.4 (one minor behind: supported, upgrade soon)');
    db.close();
  });
});
