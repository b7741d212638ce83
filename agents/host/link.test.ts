import { afterEach, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import type { FastifyInstance } from 'fastify';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { buildApp } from '../../controller/app.js';
import { openDb } from '../../controller/db/open.js';
import { migrate } from '../../controller/db/migrate.js';
import { agentLayerOf } from '../../controller/agents/index.js';
import { ControllerLink } from './link.js';
import { sampleUsage } from './resources.js';

const SECRET = 'link-test-secret-0123456789abcdef';
let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

const quiet = { info: () => {}, warn: () => {} };

describe('agent → controller link (real loopback HTTP)', () => {
  it('registers, heartbeats, and registers again when the controller forgot the host', async () => {
    const db = openDb(':memory:');
    migrate(db);
    app = await buildApp({ config: Value.Default(ControllerConfigSchema, {}) as ControllerConfig, db, logger: false });
    const { hosts } = agentLayerOf(app.homestack.deps);
    hosts.enrol({ name: 'h1', agentUrl: 'http://127.0.0.1:1', secret: SECRET });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    let registrations = 0;
    const link = new ControllerLink({
      controllerUrl: url,
      secret: SECRET,
      log: quiet,
      registration: async () => {
        registrations += 1;
        return {
          hostname: 'h1',
          roles: [],
          vcpus: 1,
          memory_mb: 1,
          disk_gb: 1,
          hypervisor_type: '',
          agent_version: '0.1.0',
          api_version: 1,
          agent_url: 'http://127.0.0.1:9',
          tunnel_ip: '',
          capabilities: { roles: {}, unavailable_roles: {} },
          usage: sampleUsage('/'),
        };
      },
      heartbeat: async () => ({ hostname: 'h1', api_version: 1, usage: sampleUsage('/') }),
    });
    await link.tick();
    expect(link.registered).toBe(true);
    expect(hosts.get('h1').state).toBe('up');
    await link.tick();
    expect(registrations).toBe(1);
    db.prepare('UPDATE hosts SET registered_at = NULL').run();
    await link.tick();
    expect(registrations).toBe(2);
  });

  it('keeps trying while the controller is unreachable, without throwing', async () => {
    const link = new ControllerLink({
      controllerUrl: 'http://127.0.0.1:1',
      secret: SECRET,
      log: quiet,
      registration: async () => ({}) as never,
      heartbeat: async () => {
        throw new Error('unused');
      },
    });
    await expect(link.tick()).resolves.toBeUndefined();
    expect(link.registered).toBe(false);
  });
  it('warns when it beats less often than the controller expects', async () => {
    const db = openDb(':memory:');
    migrate(db);
    app = await buildApp({
      config: Value.Default(ControllerConfigSchema, { agents: { heartbeat_s: 2 } }) as ControllerConfig,
      db,
      logger: false,
    });
    agentLayerOf(app.homestack.deps).hosts.enrol({ name: 'h1', agentUrl: 'http://127.0.0.1:1', secret: SECRET });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const warnings: string[] = [];
    const link = new ControllerLink({
      controllerUrl: url,
      secret: SECRET,
      heartbeatS: 10,
      log: { info: () => {}, warn: (_o, m) => warnings.push(m ?? '') },
      registration: async () => ({
        hostname: 'h1',
        roles: [],
        vcpus: 1,
        memory_mb: 1,
        disk_gb: 1,
        hypervisor_type: '',
        agent_version: '0.1.0',
        api_version: 1,
        agent_url: 'http://127.0.0.1:9',
        tunnel_ip: '',
        capabilities: { roles: {}, unavailable_roles: {} },
        usage: sampleUsage('/'),
      }),
      heartbeat: async () => ({ hostname: 'h1', api_version: 1, usage: sampleUsage('/') }),
    });
    await link.tick();
    expect(link.registered).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/less often than the controller expects/)]);
  });
});
