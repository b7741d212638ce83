import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { openDb } from '../db/open.js';
import { bootstrap, rotateKeys } from './bootstrap.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(): ControllerConfig {
  const dir = mkdtempSync(join(tmpdir(), 'hs-boot-'));
  dirs.push(dir);
  return Value.Default(ControllerConfigSchema, { data_dir: dir, identity: { scrypt_log_n: 10 } }) as ControllerConfig;
}

describe('bootstrap', () => {
  it('creates the cloud once and changes only what differs when run again', async () => {
    const cfg = config();
    const db = openDb(':memory:');
    const first = await bootstrap(db, cfg, { adminPassword: 'a', publicUrl: 'http://h:8000/' });
    expect(first.changes).toContain('created user admin');
    expect(first.publicUrl).toBe('http://h:8000');
    const count = (t: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect(count('catalog_services')).toBe(6);
    expect(count('catalog_endpoints')).toBe(18);
    expect(count('implied_roles')).toBe(2);
    expect(readdirSync(join(cfg.data_dir, 'fernet-keys')).sort()).toEqual(['0', '1']);

    const again = await bootstrap(db, cfg, { adminPassword: 'a', publicUrl: 'http://h:8000' });
    expect(again.changes).toEqual([]);
    expect(again.adminUserId).toBe(first.adminUserId);

    const moved = await bootstrap(db, cfg, { adminPassword: 'b', publicUrl: 'http://other:9000', region: 'RegionOne' });
    expect(moved.changes).toContain('changed the admin password');
    expect(moved.changes.filter((c) => c.startsWith('updated'))).toHaveLength(18);
    expect(count('catalog_endpoints')).toBe(18);
    const url = db
      .prepare(
        "SELECT url FROM catalog_endpoints e JOIN catalog_services s ON s.id = e.service_id WHERE s.type = 'compute' LIMIT 1",
      )
      .pluck()
      .get();
    expect(url).toBe('http://other:9000/compute/v2.1');
    await expect(bootstrap(db, cfg, { adminPassword: '' })).rejects.toThrow(/admin password/);
    await expect(bootstrap(db, cfg, { adminPassword: 'x', publicUrl: 'ftp://x' })).rejects.toThrow(/not an http/);
  });

  it('rotates keys keeping max_active_keys', () => {
    const cfg = config();
    expect(rotateKeys(cfg)).toEqual([0, 1, 2]);
    expect(rotateKeys(cfg)).toEqual([0, 2, 3]);
    expect(rotateKeys(cfg)).toEqual([0, 3, 4]);
  });
});
