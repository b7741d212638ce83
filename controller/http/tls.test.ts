import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { makeRunner } from '../../shared/exec/run.js';
import { buildApp } from '../app.js';
import { defaultPublicUrl } from '../cli/bootstrap.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { CertificateAuthority } from '../pki/ca.js';
import { localBaseUrl } from './base-url.js';
import { readTlsPair, reloadOnSighup, serverTlsOf } from './tls.js';

/**
 * HTTPS on the API port (issue 17): the CA-issued certificate, a configured one, reloads
 * (in-process and by a real SIGHUP to a controller process), and what is refused.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-tls-'));
const run = makeRunner();
const apps: FastifyInstance[] = [];
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  for (const a of apps) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A free TCP port in 20000-29999 (the team's range for private daemons). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
}

const config = (o: Record<string, unknown>) => Value.Default(ControllerConfigSchema, o) as ControllerConfig;

/** The SHA-256 fingerprint of the certificate a new connection is served, trusting `ca`. */
const servedFingerprint = (port: number, ca: string) =>
  new Promise<string>((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, ca }, () => {
      res(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.once('error', rej);
  });

/**
 * A controller process (controller/main.ts under tsx) with TLS on `port` from the given files:
 * its config path, and its output as it arrives (stdout and stderr together, stderr alone).
 */
function spawnTlsController(name: string, port: number, certFile: string, keyFile: string) {
  const toml = join(dir, `${name}.toml`);
  writeFileSync(
    toml,
    [
      `data_dir = "${join(dir, name)}"`,
      '[listen]',
      'host = "127.0.0.1"',
      `port = ${port}`,
      '[tls]',
      'enabled = true',
      `cert_file = "${certFile}"`,
      `key_file = "${keyFile}"`,
      '',
    ].join('\n'),
  );
  const root = resolve(import.meta.dirname, '..', '..');
  const p = spawn(process.execPath, ['--import', 'tsx', join(root, 'controller/main.ts'), '--config', toml], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(p);
  const seen = { out: '', err: '' };
  p.stdout!.on('data', (d) => {
    seen.out += String(d);
  });
  p.stderr!.on('data', (d) => {
    seen.out += String(d);
    seen.err += String(d);
  });
  return { p, toml, seen };
}

async function start(cfg: ControllerConfig) {
  const tls = serverTlsOf(cfg, run);
  if (!tls) throw new Error('TLS expected');
  const db = openDb(':memory:');
  migrate(db);
  const pair = await tls.load();
  const app = await buildApp({ config: cfg, db, logger: false, https: pair });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: cfg.listen.port });
  return { app, tls, pair };
}

describe('serverTlsOf', () => {
  it('is off by default, and refuses half a configuration with the key named', () => {
    expect(serverTlsOf(config({}), run)).toBeNull();
    expect(() => serverTlsOf(config({ tls: { cert_file: '/x.pem', key_file: '/x.key' } }), run)).toThrow(
      /key 'tls.cert_file': set, but tls.enabled is false/,
    );
    expect(() => serverTlsOf(config({ tls: { enabled: true, cert_file: '/x.pem' } }), run)).toThrow(/key 'tls.key_file': needed/);
    expect(serverTlsOf(config({ tls: { enabled: true, cert_file: '/x.pem', key_file: '/x.key' } }), run)?.source).toBe(
      'configured',
    );
  });

  it('makes the public URL and the local base URL https when TLS is on', () => {
    const on = config({ listen: { host: '192.0.2.5', port: 8443 }, tls: { enabled: true } });
    expect(defaultPublicUrl(on)).toBe('https://192.0.2.5:8443');
    expect(localBaseUrl(on)).toBe('https://192.0.2.5:8443');
    expect(defaultPublicUrl(config({ listen: { host: '192.0.2.5', port: 8000 } }))).toBe('http://192.0.2.5:8000');
    expect(localBaseUrl(config({ listen: { host: '::', port: 8000 } }))).toBe('http://[::1]:8000');
  });
});

describe('reloadOnSighup', () => {
  it('reads one pair at a time: a SIGHUP during the daily check waits for it (never two issues at once)', async () => {
    let active = 0;
    let most = 0;
    let n = 0;
    const tls = {
      source: 'ca' as const,
      certFile: '/x.pem',
      keyFile: '/x.key',
      load: async () => {
        active++;
        most = Math.max(most, active);
        await new Promise((r) => setTimeout(r, 30));
        active--;
        n++;
        return { cert: 'C', key: 'K', notAfter: new Date(Date.now() + 400 * 86_400_000), fingerprint256: `fp${n}` };
      },
    };
    const served: string[] = [];
    const server = { setSecureContext: (o: { cert: string }) => served.push(o.cert) };
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const r = reloadOnSighup(server as never, tls, quiet as never);
    try {
      expect(await Promise.all([r.renew(), r.reload(), r.renew()])).toEqual([true, true, true]);
      expect(most).toBe(1);
      expect(served).toHaveLength(3);
    } finally {
      r.uninstall();
    }
  });
});

describe('HTTPS on the API port', () => {
  it("serves the CA's certificate: a client trusting the cloud's CA gets https links; others are refused", async () => {
    const port = await freePort();
    const cfg = config({ data_dir: join(dir, 'ca-issued'), listen: { host: '127.0.0.1', port }, tls: { enabled: true } });
    const { tls } = await start(cfg);
    expect(tls.source).toBe('ca');
    const ca = (await CertificateAuthority.ensure(join(dir, 'ca-issued', 'pki'), run)).certPem;
    const trusting = new Agent({ connect: { ca } });
    const r = await request(`https://127.0.0.1:${port}/identity/v3`, { dispatcher: trusting });
    expect(r.statusCode).toBe(200);
    const doc = (await r.body.json()) as { version: { links: Array<{ href: string }> } };
    expect(doc.version.links[0]!.href).toBe(`https://127.0.0.1:${port}/identity/v3/`);
    // by name too (localhost is in the certificate for a loopback listen address)
    expect((await request(`https://localhost:${port}/compute/`, { dispatcher: trusting })).statusCode).toBe(200);
    // the dashboard over TLS: HSTS, and its cookie Secure (never sent back over plain HTTP)
    const login = await request(`https://127.0.0.1:${port}/dashboard/login`, { dispatcher: trusting });
    await login.body.dump();
    expect(login.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(String(login.headers['set-cookie'])).toMatch(/hs_login=.*; Secure/);
    await trusting.close();
    // the system's CAs alone do not know the cloud's CA
    await expect(request(`https://127.0.0.1:${port}/identity/v3`)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    // and the port speaks no plain HTTP
    await expect(request(`http://127.0.0.1:${port}/identity/v3`).then((x) => x.statusCode)).rejects.toThrow();
  });

  it('serves a configured pair and swaps it on reload; a pair that does not match is refused and the current one kept', async () => {
    const port = await freePort();
    const ca = await CertificateAuthority.ensure(join(dir, 'byo-ca'), run, { name: 'My PKI' });
    const a = await ca.issue({ commonName: 'api-a', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const b = await ca.issue({ commonName: 'api-b', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const certFile = join(dir, 'byo.pem');
    const keyFile = join(dir, 'byo.key');
    writeFileSync(certFile, a.certPem);
    writeFileSync(keyFile, a.keyPem, { mode: 0o600 });
    const cfg = config({
      data_dir: join(dir, 'byo'),
      listen: { host: '127.0.0.1', port },
      tls: { enabled: true, cert_file: certFile, key_file: keyFile },
    });
    const { app, tls } = await start(cfg);
    const fpA = readTlsPair(certFile, keyFile).fingerprint256;
    expect(await servedFingerprint(port, ca.certPem)).toBe(fpA);
    const logged: string[] = [];
    const log = {
      info: (_o: unknown, m: string) => logged.push(`info ${m}`),
      error: (_o: unknown, m: string) => logged.push(`error ${m}`),
    };
    const hup = reloadOnSighup(app.server as unknown as TlsServer, tls, log as never);
    try {
      writeFileSync(certFile, b.certPem);
      writeFileSync(keyFile, b.keyPem);
      expect(await hup.reload()).toBe(true);
      const fpB = await servedFingerprint(port, ca.certPem);
      expect(fpB).not.toBe(fpA);
      expect(fpB).toBe(readTlsPair(certFile, keyFile).fingerprint256);
      writeFileSync(keyFile, a.keyPem); // b's certificate with a's key
      expect(await hup.reload()).toBe(false);
      expect(await servedFingerprint(port, ca.certPem)).toBe(fpB);
      expect(logged).toEqual(['info TLS certificate reloaded', 'error TLS certificate reload failed: the current one stays']);
    } finally {
      hup.uninstall();
    }
    expect(() => readTlsPair(certFile, keyFile)).toThrow(/is not the key of/);
  });

  it("renewal: the CA's certificate near its end is re-issued and served with no restart; warned about in its last 30 days", async () => {
    const port = await freePort();
    const data = join(dir, 'renew');
    const { app, tls, pair } = await start(
      config({ data_dir: data, listen: { host: '127.0.0.1', port }, tls: { enabled: true } }),
    );
    const ca = await CertificateAuthority.ensure(join(data, 'pki'), run);
    const logged: string[] = [];
    const note = (level: string) => (_o: unknown, m: string) => logged.push(`${level} ${m}`);
    const r = reloadOnSighup(
      app.server as unknown as TlsServer,
      tls,
      { info: note('info'), warn: note('warn'), error: note('error') } as never,
      pair,
    );
    try {
      expect(await r.renew()).toBe(false); // nothing to do
      expect(logged).toEqual([]);
      // the certificate on disk ends in 10 days (same names): the check re-issues it and serves the new one
      const short = await ca.issue({
        commonName: 'homestack-api',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
        usages: ['server'],
        days: 10,
      });
      writeFileSync(tls.keyFile, short.keyPem);
      writeFileSync(tls.certFile, short.certPem);
      expect(await r.renew()).toBe(true);
      const now = readTlsPair(tls.certFile, tls.keyFile);
      expect(now.notAfter.getTime() - Date.now()).toBeGreaterThan(800 * 86_400_000);
      expect(now.fingerprint256).not.toBe(pair.fingerprint256);
      expect(await servedFingerprint(port, ca.certPem)).toBe(now.fingerprint256);
      expect(logged).toEqual(['info TLS certificate renewed']);
      // a clock 800 days on: the same certificate, now in its last 30 days, is warned about
      expect(await r.renew(now.notAfter.getTime() - 5 * 86_400_000)).toBe(false);
      expect(logged.at(-1)).toMatch(/^warn TLS certificate ends within 30 days/);
    } finally {
      r.uninstall();
    }
  });

  it('a controller process started with TLS serves HTTPS and reloads its certificate on SIGHUP without stopping', async () => {
    const port = await freePort();
    const ca = await CertificateAuthority.ensure(join(dir, 'proc-ca'), run, { name: 'Proc PKI' });
    const a = await ca.issue({ commonName: 'proc-a', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const b = await ca.issue({ commonName: 'proc-b', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const certFile = join(dir, 'proc.pem');
    const keyFile = join(dir, 'proc.key');
    writeFileSync(certFile, a.certPem);
    writeFileSync(keyFile, a.keyPem, { mode: 0o600 });
    const { p, seen } = spawnTlsController('proc', port, certFile, keyFile);
    const until = async (what: () => boolean | Promise<boolean>, ms: number) => {
      for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 100))) if (await what()) return;
      throw new Error(`timed out; controller output:\n${seen.out}`);
    };
    await until(() => /Server listening/.test(seen.out), 15_000);
    expect(seen.out).toMatch(/"msg":"serving HTTPS"/);
    await until(() => /jobs scheduled/.test(seen.out), 10_000);
    expect(seen.out).toMatch(/tls-renew \(0 17 3 \* \* \*\)/); // the daily renewal check
    expect(await servedFingerprint(port, ca.certPem)).toBe(readTlsPair(certFile, keyFile).fingerprint256);
    writeFileSync(certFile, b.certPem);
    writeFileSync(keyFile, b.keyPem);
    p.kill('SIGHUP');
    await until(() => /TLS certificate reloaded/.test(seen.out), 10_000);
    expect(await servedFingerprint(port, ca.certPem)).toBe(readTlsPair(certFile, keyFile).fingerprint256);
    expect(p.exitCode).toBeNull();
    p.kill('SIGTERM');
    await until(() => p.exitCode !== null, 15_000);
    expect(p.exitCode).toBe(0);
  }, 40_000);

  it("a controller whose configured key is not its certificate's stops at start with one line naming both (exit 2)", async () => {
    const ca = await CertificateAuthority.ensure(join(dir, 'proc-ca'), run, { name: 'Proc PKI' });
    const a = await ca.issue({ commonName: 'bad-a', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    const b = await ca.issue({ commonName: 'bad-b', ipAddresses: ['127.0.0.1'], usages: ['server'] });
    writeFileSync(join(dir, 'bad.pem'), a.certPem);
    writeFileSync(join(dir, 'bad.key'), b.keyPem);
    const { p, toml, seen } = spawnTlsController('bad', await freePort(), join(dir, 'bad.pem'), join(dir, 'bad.key'));
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    expect(code).toBe(2);
    expect(seen.err.trim()).toBe(
      `homestack-controller: ${toml}: ${join(dir, 'bad.key')} is not the key of ${join(dir, 'bad.pem')}`,
    );
  }, 30_000);
});
