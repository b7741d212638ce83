// Test helper (../ipam-race.test.ts): allocates ports from its own connection to a shared database file.
import { parentPort, workerData } from 'node:worker_threads';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { openDb } from '../../db/open.js';
import { readHosts, type Svc } from '../context.js';
import { networksRepo } from '../networks.repo.js';
import { createPortTx } from '../ports.service.js';

const { path, networkId, count } = workerData as { path: string; networkId: string; count: number };
const db = openDb(path, 10_000);
const s: Svc = {
  db,
  config: Value.Default(ControllerConfigSchema, {}) as ControllerConfig,
  log: console as never,
  policy: { enforce: () => {}, allowed: () => true },
  hosts: () => readHosts(db),
  changed: () => {},
  projectExists: () => true,
};
const got: string[] = [];
const errors: string[] = [];
for (let i = 0; i < count; i++) {
  try {
    const n = networksRepo.get(db, networkId)!;
    const p = db.transaction(() => createPortTx(s, null, { network: n, projectId: 'p' })).immediate();
    got.push(db.prepare('SELECT ip_address FROM net_ip_allocations WHERE port_id = ?').pluck().get(p.id) as string);
  } catch (e) {
    errors.push((e as Error).name);
  }
}
db.close();
parentPort!.postMessage({ got, errors });
