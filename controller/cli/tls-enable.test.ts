import { parse as parseToml } from 'smol-toml';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { bootstrap } from './bootstrap.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { httpsPublicUrl, rebaseCatalog, setTomlKey } from './tls-enable.js';

const config = (o: Record<string, unknown>) => Value.Default(ControllerConfigSchema, o) as ControllerConfig;

describe('setTomlKey', () => {
  const text = ['# the controller', 'data_dir = "/var/lib/homestack"', '', '[listen]', 'port = 8000  # API', ''].join('\n');

  it('adds a top-level key before the first section, keeping comments', () => {
    const t = setTomlKey(text, null, 'public_url', '"https://h:8000"');
    expect(parseToml(t)).toEqual({ public_url: 'https://h:8000', data_dir: '/var/lib/homestack', listen: { port: 8000 } });
    expect(t).toContain('# the controller');
    expect(t).toContain('port = 8000  # API');
  });

  it('replaces a key where it is, and never one of another section', () => {
    const t1 = setTomlKey(`${text}[tls]\nenabled = false\n`, 'tls', 'enabled', 'true');
    expect(parseToml(t1)).toMatchObject({ tls: { enabled: true }, listen: { port: 8000 } });
    const t2 = setTomlKey(t1, null, 'port', '9');
    expect(parseToml(t2)).toMatchObject({ port: 9, listen: { port: 8000 } });
  });

  it('adds a section that is not there', () => {
    const t = setTomlKey(setTomlKey(text, 'tls', 'enabled', 'true'), 'tls', 'plain_agents', 'true');
    expect(parseToml(t)).toMatchObject({ listen: { port: 8000 }, tls: { enabled: true, plain_agents: true } });
  });
});

describe('httpsPublicUrl', () => {
  it('changes the scheme of the configured or default URL, or takes the one given', () => {
    expect(httpsPublicUrl(config({ public_url: 'http://cloud.lan:8000/' }))).toBe('https://cloud.lan:8000');
    expect(httpsPublicUrl(config({ listen: { host: '192.0.2.4', port: 8000 } }))).toBe('https://192.0.2.4:8000');
    expect(httpsPublicUrl(config({}), 'https://c.lan:8443')).toBe('https://c.lan:8443');
    expect(() => httpsPublicUrl(config({}), 'ftp://c.lan')).toThrow(/not an https/);
  });
});

describe('rebaseCatalog', () => {
  it("moves the catalog's endpoints under the old base to the new one, and only those", async () => {
    const db = openDb(':memory:');
    migrate(db);
    const cfg = config({ data_dir: '/tmp/hs-tls-enable-unused', identity: { scrypt_log_n: 10 } });
    await bootstrap(db, cfg, { adminPassword: 'pw', publicUrl: 'http://192.0.2.4:8000' });
    db.prepare("UPDATE catalog_endpoints SET url = 'http://192.0.2.4:80000/x' WHERE interface = 'admin'").run();
    expect(rebaseCatalog(db, 'http://192.0.2.4:8000', 'https://192.0.2.4:8000')).toBe(12);
    const urls = db.prepare('SELECT interface, url FROM catalog_endpoints').all() as { interface: string; url: string }[];
    for (const u of urls)
      expect(u.url).toMatch(u.interface === 'admin' ? /^http:\/\/192\.0\.2\.4:80000\/x$/ : /^https:\/\/192\.0\.2\.4:8000\//);
    expect(rebaseCatalog(db, 'http://192.0.2.4:8000', 'https://192.0.2.4:8000')).toBe(0);
    db.close();
  });
});
