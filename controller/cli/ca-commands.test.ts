import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { caCommand } from './ca-commands.js';

/** `homestack ca show` and `homestack ca api-cert --san`, on a controller.toml of a temporary data_dir. */
const dir = mkdtempSync(join(tmpdir(), 'hs-ca-cli-'));
const out: string[] = [];
let argv: string[] = [];
beforeAll(() => {
  writeFileSync(join(dir, 'controller.toml'), `data_dir = "${dir}"\n[listen]\nhost = "192.0.2.40"\n[tls]\nenabled = true\n`);
  argv = ['--config', join(dir, 'controller.toml')];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});
const said = () => out.splice(0).join('');

describe('homestack ca', () => {
  it('api-cert issues the certificate with the listen address and --san names, keeps it the second time', async () => {
    expect(await caCommand('api-cert', ['ca', 'api-cert', '--san', 'cloud.home.lan, 203.0.113.4', ...argv])).toBe(0);
    expect(said()).toMatch(
      /^issued .*\/pki\/api\.pem \(until \d{4}-\d\d-\d\d\): cloud\.home\.lan, 192\.0\.2\.40, 203\.0\.113\.4\nsend SIGHUP to the controller to serve it\n$/,
    );
    expect(await caCommand('api-cert', ['ca', 'api-cert', ...argv])).toBe(0);
    expect(said()).toMatch(/^kept .*: cloud\.home\.lan, 192\.0\.2\.40, 203\.0\.113\.4\n$/);
    expect(await caCommand('api-cert', ['ca', 'api-cert', '--force', ...argv])).toBe(0);
    expect(said()).toMatch(/^issued /);
  });

  it('show --json: the CA, the API certificate and its names, the TLS setting', async () => {
    expect(await caCommand('show', ['ca', 'show', '--json', ...argv])).toBe(0);
    const j = JSON.parse(said());
    expect(j.ca).toMatchObject({ file: join(dir, 'pki', 'ca.pem'), subject: expect.stringContaining('O=Homestack') });
    expect(j.api).toMatchObject({
      dns: ['cloud.home.lan'],
      ips: ['192.0.2.40', '203.0.113.4'],
      subject: expect.stringContaining('CN=homestack-api'),
    });
    expect(j.api_extra_sans).toEqual(['cloud.home.lan', '203.0.113.4']);
    expect(j.tls).toEqual({ enabled: true, cert_file: null });
  });

  it('refuses an unknown option and an unknown subcommand with exit code 2', async () => {
    expect(await caCommand('api-cert', ['ca', 'api-cert', '--sans', 'x', ...argv])).toBe(2);
    expect(await caCommand('nope', ['ca', 'nope', ...argv])).toBe(2);
    expect(said()).toMatch(/usage/);
  });
});
