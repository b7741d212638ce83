#!/usr/bin/env node
import closeWithGrace from 'close-with-grace';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { ConfigError, configPath, loadConfig } from '../shared/config/load.js';
import { ControllerConfigSchema } from '../shared/config/controller.js';
import { makeRunner } from '../shared/exec/run.js';
import { agentLayerOf } from './agents/index.js';
import { buildApp } from './app.js';
import { acceptPlainAgents } from './http/plain-agents.js';
import { reloadOnSighup, serverTlsOf, type ServerTls, type TlsPair } from './http/tls.js';
import { LocalImageFacade } from './images/facade.js';
import { sweepUnreferencedImageData } from './images/plugin.js';
import { openDb } from './db/open.js';
import { migrate, SchemaTooNewError } from './db/migrate.js';
import { controllerJobs, startJobs } from './jobs/index.js';
import { tlsRenewJob } from './jobs/tls-renew.js';
import { CertificateAuthority } from './pki/ca.js';
import { ensureControllerClientCert, renewControllerClientCert } from './pki/controller-cert.js';
import { computeCtxOf } from './compute/plugin.js';
import { volumeCtxOf } from './volumes/plugin.js';

/**
 * Entry point: config → db (migrate) → TLS (tls.enabled: the configured pair or the
 * CA's, reloaded on SIGHUP) → agent layer (hosts, clients, dispatcher) → buildApp →
 * listen → resume interrupted operations → cron jobs → close with grace (stop jobs, let
 * operations in flight finish, close HTTP, agent pools, db).
 */
async function main(): Promise<void> {
  const file = configPath(process.argv, 'HOMESTACK_CONTROLLER_CONFIG', '/etc/homestack/controller.toml');
  const config = loadConfig(ControllerConfigSchema, file, { dirKeys: [] });
  const db = openDb(config.database.path || join(config.data_dir, 'homestack.db'), config.database.busy_timeout_ms);
  const applied = migrate(db);
  // A TLS setting or certificate that cannot be used stops the controller with one line, as a bad key does.
  let tls: ServerTls | null;
  let pair: TlsPair | null;
  try {
    tls = serverTlsOf(config, makeRunner());
    pair = tls ? await tls.load() : null;
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  // The controller's client certificate for agents serving mutual TLS (issued at enrolment;
  // here again when missing or near its end). Only where the cloud's CA exists.
  const pki = join(config.data_dir, 'pki');
  if (existsSync(join(pki, 'ca.pem'))) {
    try {
      await ensureControllerClientCert(await CertificateAuthority.ensure(pki, makeRunner()));
    } catch (e) {
      throw new ConfigError(`${pki}: the controller's client certificate for the agent channel: ${(e as Error).message}`);
    }
  }
  // buildApp creates the pino logger (JSON lines) and the agent layer (hosts, clients, dispatcher).
  const app = await buildApp({ config, db, ...(pair ? { https: pair } : {}) });
  const log = app.log;
  if (applied.length) log.info({ applied }, 'database migrated');
  await app.ready();
  const images = app.homestack.deps.facades.images;
  if (images instanceof LocalImageFacade) await sweepUnreferencedImageData(images.core, log);
  const agentLayer = agentLayerOf(app.homestack.deps);
  let jobs: { stop(): Promise<void> } | null = null;
  // SIGHUP is a reload (systemctl reload), never a stop as close-with-grace has it by
  // default: with TLS it re-reads the certificate; without, there is nothing to reload.
  const hup = tls
    ? reloadOnSighup(app.server as unknown as TlsServer, tls, log, pair ?? undefined)
    : (() => {
        const onHup = () => log.info('SIGHUP: TLS is off, nothing to reload');
        process.on('SIGHUP', onHup);
        return { uninstall: () => process.removeListener('SIGHUP', onHup) };
      })();
  // Agents not moved to https:// yet (homestack tls enable) keep calling the same port in plain HTTP.
  const plainAgents = tls && config.tls.plain_agents ? acceptPlainAgents(app.server as unknown as TlsServer, log) : null;
  if (plainAgents) log.warn('tls.plain_agents: the HTTPS port also takes plain HTTP on /internal/v1/ from agents not moved yet');
  // The agent channel's client certificate: renewed without a restart (daily, and on
  // SIGHUP, which also picks up files replaced by hand); new pools to agents read it.
  const renewClientCert = async (why: 'SIGHUP' | 'daily'): Promise<void> => {
    try {
      const issued = await renewControllerClientCert(pki, () => CertificateAuthority.ensure(pki, makeRunner()));
      if (issued || why === 'SIGHUP')
        log.info({ issued, pools: agentLayer.agents.reloadTls() }, "the agent channel's client certificate reloaded");
    } catch (err) {
      log.error({ err }, "the agent channel's client certificate renewal failed: the current one stays");
    }
  };
  const onHupClient = () => void renewClientCert('SIGHUP');
  process.on('SIGHUP', onHupClient);
  if (tls && pair)
    log.info(
      { source: tls.source, certFile: tls.certFile, notAfter: pair.notAfter.toISOString(), fingerprint256: pair.fingerprint256 },
      'serving HTTPS',
    );
  closeWithGrace({ delay: 15_000, skip: ['SIGHUP'] }, async ({ err, signal }) => {
    if (err) log.error({ err }, 'closing after an error');
    else log.info({ signal }, 'closing');
    hup.uninstall();
    process.removeListener('SIGHUP', onHupClient);
    await jobs?.stop();
    await agentLayer.dispatcher.close(5_000);
    plainAgents?.close();
    await app.close();
    await agentLayer.agents.close();
    db.close();
  });
  await app.listen({ host: config.listen.host, port: config.listen.port });
  agentLayer.dispatcher.resume();
  jobs = startJobs(
    [
      ...controllerJobs({
        agents: agentLayer,
        db,
        log,
        volumes: volumeCtxOf(app.homestack.deps),
        compute: computeCtxOf(app.homestack.deps),
      }),
      ...('renew' in hup ? [tlsRenewJob(hup)] : []),
      { name: 'controller-cert-renew', schedule: '0 19 3 * * *', run: () => renewClientCert('daily') },
    ],
    log,
  );
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof SchemaTooNewError) {
    process.stderr.write(`homestack-controller: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`homestack-controller: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
