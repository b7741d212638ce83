import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { buildApp } from '../app.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { testCloud, type TestCloud } from '../identity/testing/kit.js';
import { makeRunner } from '../../shared/exec/run.js';
import { CertificateAuthority } from '../pki/ca.js';
import { createBackup, restoreBackup, type BackupManifest } from './backup.js';

const dirs: string[] = [];
let cloud: TestCloud | undefined;
afterEach(async () => {
  await cloud?.close();
  cloud = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'hs-backup-'));
  dirs.push(d);
  return d;
};

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('backup and restore', () => {
  it('round trip: rows and token keys come back, tokens issued before still validate', async () => {
    cloud = await testCloud();
    const c = cloud;
    const created = await c.req('POST', '/v3/projects', c.adminToken, { project: { name: 'tbk-proj', domain_id: 'default' } });
    expect(created.status).toBe(201);
    const out = tmp();
    const cfgFile = join(out, 'controller.toml');
    writeFileSync(cfgFile, 'data_dir = "/x"\n');
    const dest = join(out, 'bk');
    const m = await createBackup({ db: c.db, config: c.config, dest, configFiles: [cfgFile] });
    expect(m.schema_version).toBeGreaterThan(0);
    expect(statSync(join(dest, 'homestack.db')).mode & 0o077).toBe(0);
    expect(m.files).toContain('etc/controller.toml');
    expect(m.files.some((f) => f.startsWith('fernet-keys/'))).toBe(true);
    expect((JSON.parse(readFileSync(join(dest, 'manifest.json'), 'utf8')) as BackupManifest).homestack_version).toMatch(
      /^\d+\.\d+\.\d+/,
    );
    const token = c.adminToken;
    await c.close();
    cloud = undefined;

    // A fresh, empty controller somewhere else (the old data_dir is gone).
    const dataDir = tmp();
    const config = Value.Default(ControllerConfigSchema, {
      data_dir: dataDir,
      public_url: 'http://cloud.test:8000',
      listen: { host: '127.0.0.1', port: await freePort() },
      identity: { scrypt_log_n: 10 },
    }) as ControllerConfig;
    const etc = join(dataDir, 'etc');
    await restoreBackup({ config, src: dest, configDir: etc });
    expect(readFileSync(join(etc, 'controller.toml'), 'utf8')).toContain('data_dir');
    const db = openDb(join(dataDir, 'homestack.db'));
    migrate(db);
    const app = await buildApp({ config, db, logger: false });
    try {
      const list = await app.inject({ url: '/v3/projects?name=tbk-proj', headers: { 'x-auth-token': token } });
      expect(list.statusCode).toBe(200);
      expect(list.json().projects.map((p: { name: string }) => p.name)).toEqual(['tbk-proj']);
    } finally {
      await app.close();
      db.close();
    }
  });

  it("carries the cloud's CA (key 0600, no half-made files): certificates it issued stay trusted after a restore", async () => {
    const from = tmp();
    const run = makeRunner();
    const ca = await CertificateAuthority.ensure(join(from, 'pki'), run);
    const leaf = await ca.issue({ commonName: 'host-a', usages: ['client'] });
    mkdirSync(join(from, 'pki', '.issue-leftover'));
    const db = openDb(':memory:');
    migrate(db);
    const dest = join(tmp(), 'bk');
    const cfg = (dataDir: string, port = 1) =>
      Value.Default(ControllerConfigSchema, { data_dir: dataDir, listen: { host: '127.0.0.1', port } }) as ControllerConfig;
    const m = await createBackup({ db, config: cfg(from), dest, configFiles: [] });
    db.close();
    expect(m.files.filter((f) => f.startsWith('pki/')).sort()).toEqual(['pki/ca.key', 'pki/ca.pem']);
    expect(statSync(join(dest, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    const to = tmp();
    await restoreBackup({ config: cfg(to, await freePort()), src: dest });
    expect(statSync(join(to, 'pki')).mode & 0o777).toBe(0o700);
    const back = await CertificateAuthority.ensure(join(to, 'pki'), run);
    expect(back.certPem).toBe(ca.certPem);
    expect(back.isCurrent(leaf.certPem)).toBe(true);
  });

  it('refuses a backup newer than the code and a controller that is running', async () => {
    cloud = await testCloud();
    const dest = join(tmp(), 'bk');
    await createBackup({ db: cloud.db, config: cloud.config, dest, configFiles: [] });
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    const config = Value.Default(ControllerConfigSchema, {
      data_dir: tmp(),
      listen: { host: '127.0.0.1', port },
    }) as ControllerConfig;
    try {
      await expect(restoreBackup({ config, src: dest, codeSchemaVersion: 1 })).rejects.toThrow(
        /schema is version \d+ .*upgrade Homestack/,
      );
      await expect(restoreBackup({ config, src: dest })).rejects.toThrow(/stop the controller/);
      await expect(restoreBackup({ config, src: tmp() })).rejects.toThrow(/not a Homestack backup/);
    } finally {
      await new Promise((r) => s.close(r));
    }
    await expect(createBackup({ db: cloud.db, config: cloud.config, dest, configFiles: [] })).rejects.toThrow(/exists/);
  });
});
