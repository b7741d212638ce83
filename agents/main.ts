#!/usr/bin/env node
import closeWithGrace from 'close-with-grace';
import { AgentConfigSchema } from '../shared/config/agent.js';
import { ConfigError, configPath, loadConfig } from '../shared/config/load.js';
import { readSecret } from './host/auth.js';
import { startAgent } from './host/start.js';
import { ROLE_MODULES } from './roles.js';

/** Entry point: config → credential → roles → app → listen → register → heartbeat (node-cron). */
async function main(): Promise<void> {
  const file = configPath(process.argv, 'HOMESTACK_AGENT_CONFIG', '/etc/homestack/agent.toml');
  const config = loadConfig(AgentConfigSchema, file);
  let secret: string;
  try {
    secret = readSecret(config.credential_file);
  } catch (e) {
    throw new ConfigError(`${file}: key 'credential_file': ${(e as Error).message}`);
  }
  const running = await startAgent({ config, secret, roleModules: ROLE_MODULES });
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) running.agent.log.error({ err }, 'closing after an error');
    await running.close();
  });
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`homestack-agent: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`homestack-agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
