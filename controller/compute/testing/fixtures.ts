import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { newUuid } from '../../../shared/util/ids.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';

/** Test helpers shared by the compute unit tests and benchmarks (no test framework here). */
export function testDb(path = ':memory:'): Db {
  const db = openDb(path);
  migrate(db);
  return db;
}

export function testConfig(over: Partial<ControllerConfig['compute']> = {}): ControllerConfig {
  const c = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
  c.public_url = 'http://ctl:8000';
  Object.assign(c.compute, over);
  return c;
}

export interface FakeHost {
  name: string;
  vcpus?: number;
  memory_mb?: number;
  disk_gb?: number;
  state?: 'up' | 'down';
  enabled?: boolean;
  roles?: string[];
  az?: string;
  arch?: string;
}

/** Inserts a registered host row (as the agent layer would after registration). */
export function addHost(db: Db, h: FakeHost): string {
  const id = newUuid();
  const ts = new Date().toISOString();
  const caps = {
    roles: { compute: { ...(h.az ? { availability_zone: h.az } : {}), ...(h.arch ? { arch: h.arch } : {}) } },
    unavailable_roles: {},
  };
  db.prepare(
    `INSERT INTO hosts (id, name, agent_url, credential_hash, roles, hypervisor_type, vcpus, memory_mb, disk_gb, capabilities,
       enabled, state, registered_at, last_heartbeat_at, created_at, updated_at, tunnel_ip)
     VALUES (?, ?, ?, ?, ?, 'QEMU', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    h.name,
    `http://${h.name}:8001`,
    newUuid(),
    JSON.stringify(h.roles ?? ['compute']),
    h.vcpus ?? 8,
    h.memory_mb ?? 16384,
    h.disk_gb ?? 100,
    JSON.stringify(caps),
    h.enabled === false ? 0 : 1,
    h.state ?? 'up',
    ts,
    ts,
    ts,
    ts,
    '192.0.2.1',
  );
  return id;
}
