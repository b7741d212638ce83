import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { readHosts, type Svc } from './context.js';
import { createNetwork } from './networks.service.js';
import { createSubnet } from './subnets.service.js';

/** Three database connections in three threads allocate from one /26 at the same time. */
describe('IPAM across concurrent connections', () => {
  it('never hands out an address twice and fails cleanly when the pool runs out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 't-ipam-'));
    try {
      const path = join(dir, 'db.sqlite');
      const db = openDb(path);
      migrate(db);
      const s: Svc = {
        db,
        config: Value.Default(ControllerConfigSchema, {}) as ControllerConfig,
        log: console as never,
        policy: { enforce: () => {}, allowed: () => true },
        hosts: () => readHosts(db),
        changed: () => {},
        projectExists: () => true,
      };
      db.prepare(`INSERT INTO net_quotas (project_id, resource, hard_limit) VALUES ('p', 'port', -1)`).run();
      const n = createNetwork(s, null, { name: 'race', project_id: 'p' });
      createSubnet(s, null, { network_id: n.id, ip_version: 4, cidr: '10.20.0.0/26', enable_dhcp: false, project_id: 'p' });
      db.close();
      const run = () =>
        new Promise<{ got: string[]; errors: string[] }>((resolve, reject) => {
          // The worker is TypeScript: the .mjs boot file registers tsx's loader in the thread first.
          const w = new Worker(new URL('./testing/ipam-race.worker-boot.mjs', import.meta.url), {
            workerData: { path, networkId: n.id, count: 30 },
          });
          w.once('message', resolve);
          w.once('error', reject);
        });
      const results = await Promise.all([run(), run(), run()]);
      const got = results.flatMap((r) => r.got);
      const errors = results.flatMap((r) => r.errors);
      // 61 usable addresses (.1 is the gateway, .0 and .63 are not usable), 90 asked for.
      expect(got).toHaveLength(61);
      expect(new Set(got).size).toBe(61);
      expect(errors).toHaveLength(29);
      expect(new Set(errors)).toEqual(new Set(['IpAddressGenerationFailure']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
