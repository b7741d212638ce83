#!/usr/bin/env node
import closeWithGrace from 'close-with-grace';
import { join } from 'node:path';
import { ConfigError, configPath, loadConfig } from '../shared/config/load.js';
import { ControllerConfigSchema } from '../shared/config/controller.js';
import { buildApp } from './app.js';
import { openDb } from './db/open.js';
import { migrate, SchemaTooNewError } from './db/migrate.js';

/** Entry point: config → db → buildApp → listen → close with grace. */
async function main(): Promise<void> {
  const file = configPath(process.argv, 'HOMESTACK_CONTROLLER_CONFIG', '/etc/homestack/controller.toml');
  const config = loadConfig(ControllerConfigSchema, file, { dirKeys: [] });
  const db = openDb(config.database.path || join(config.data_dir, 'homestack.db'), config.database.busy_timeout_ms);
  migrate(db);
  const app = await buildApp({ config, db });
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'closing after an error');
    await app.close();
    db.close();
  });
  await app.listen({ host: config.listen.host, port: config.listen.port });
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof SchemaTooNewError) {
    process.stderr.write(`homestack-controller: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`homestack-controller: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
