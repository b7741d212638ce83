import type { FastifyBaseLogger } from 'fastify';
import cron from 'node-cron';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import type { RegisterBody } from '../../shared/agent/host.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { HostRegistry } from '../agents/registry.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { everySeconds } from './cron.js';
import { AGENT_HEALTH_EVERY_S, agentHealthJob, worstCaseDownS } from './agent-health.js';

const SECRET = 'cron-test-secret-0123456789';
const REG: RegisterBody = {
  hostname: 'n1',
  roles: [],
  vcpus: 2,
  memory_mb: 1000,
  disk_gb: 10,
  hypervisor_type: 'QEMU',
  agent_version: '0.1.0',
  api_version: 1,
  agent_url: 'http://127.0.0.1:1',
  tunnel_ip: '127.0.0.1',
  capabilities: { roles: {}, unavailable_roles: {} },
  usage: { load1: 0, memory_mb_total: 1000, memory_mb_used: 1, disk_gb_total: 10, disk_gb_used: 1, uptime_s: 1, roles: {} },
};

describe('jobs', () => {
  it('builds valid node-cron expressions that never wait longer than asked', () => {
    for (const s of [1, 2, 7, 10, 45, 60, 120]) expect(cron.validate(everySeconds(s))).toBe(true);
    expect(everySeconds(10)).toBe('*/10 * * * * *');
    expect(everySeconds(7)).toBe('0,7,14,21,28,35,42,49,56 * * * * *');
  });

  it('with the defaults, a dead agent is marked down by the agent-health job no sooner than 30 s and no later than worstCaseDownS (32 s) after its last beat, whatever the phase', () => {
    const config = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
    const { heartbeat_s: hb, down_after_missed: missed } = config.agents;
    expect([hb, missed]).toEqual([10, 3]); // the defaults the README's figure is about
    const bound = worstCaseDownS(hb, missed);
    expect(bound).toBe(32);
    const silent = { warn() {} } as unknown as FastifyBaseLogger;
    const seen: number[] = [];
    // The last beat lands anywhere between two runs of the job (every 0.1 s of its period).
    for (let phaseMs = 0; phaseMs < AGENT_HEALTH_EVERY_S * 1000; phaseMs += 100) {
      const db = openDb(':memory:');
      migrate(db);
      const t0 = Date.parse('2026-11-22T08:00:00Z');
      let now = t0 + phaseMs;
      const hosts = new HostRegistry(db, config, () => new Date(now));
      hosts.enrol({ name: 'n1', agentUrl: 'http://127.0.0.1:1', secret: SECRET });
      hosts.register(SECRET, REG); // the last beat
      const lastBeat = now;
      const job = agentHealthJob(hosts, silent);
      // The job fires on its cron ticks: every AGENT_HEALTH_EVERY_S seconds from t0.
      let downAt = 0;
      for (let tick = t0; tick < t0 + 120_000 && !downAt; tick += AGENT_HEALTH_EVERY_S * 1000) {
        if (tick < lastBeat) continue;
        now = tick;
        job.run();
        if (hosts.get('n1').state === 'down') downAt = tick;
      }
      expect(downAt, `phase ${phaseMs} ms: never marked down`).toBeGreaterThan(0);
      const s = (downAt - lastBeat) / 1000;
      expect(s, `phase ${phaseMs} ms`).toBeGreaterThanOrEqual(hb * missed);
      expect(s, `phase ${phaseMs} ms`).toBeLessThanOrEqual(bound);
      seen.push(s);
      db.close();
    }
    // And the job's schedule is the period the bound assumes.
    expect(agentHealthJob({} as HostRegistry, silent).schedule).toBe(everySeconds(AGENT_HEALTH_EVERY_S));
    expect(Math.max(...seen)).toBeGreaterThan(bound - 0.2); // the worst case is reached, not just bounded
  });
});

describe('prune-operations', () => {
  it('deletes old finished operations only', async () => {
    const { openDb } = await import('../db/open.js');
    const { migrate } = await import('../db/migrate.js');
    const { pruneOperations } = await import('./prune-operations.js');
    const db = openDb(':memory:');
    migrate(db);
    const t = '2026-01-01T00:00:00.000Z';
    db.prepare(
      `INSERT INTO hosts (id, name, agent_url, credential_hash, created_at, updated_at) VALUES ('h', 'h', 'http://x', 'ab', ?, ?)`,
    ).run(t, t);
    const ins =
      db.prepare(`INSERT INTO operations (id, host_id, kind, payload, state, next_attempt_at, created_at, updated_at, finished_at)
      VALUES (?, 'h', 'k', '{}', ?, ?, ?, ?, ?)`);
    ins.run('old-done', 'done', t, t, t, '2026-01-01T00:00:00.000Z');
    ins.run('new-done', 'done', t, t, t, '2026-01-09T00:00:00.000Z');
    ins.run('old-failed', 'failed', t, t, t, '2026-01-01T00:00:00.000Z');
    ins.run('pending', 'pending', t, t, t, null);
    expect(pruneOperations(db, new Date('2026-01-10T00:00:00Z'))).toBe(1);
    expect(
      db
        .prepare('SELECT id FROM operations ORDER BY id')
        .all()
        .map((r) => (r as { id: string }).id),
    ).toEqual(['new-done', 'old-failed', 'pending']);
    expect(pruneOperations(db, new Date('2026-02-10T00:00:00Z'))).toBe(2);
  });
});
