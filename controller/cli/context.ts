import { join } from 'node:path';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { configPath, loadConfig } from '../../shared/config/load.js';
import { openDb, type Db } from '../db/open.js';
import { migrate } from '../db/migrate.js';

export const DEFAULT_CONTROLLER_CONFIG = '/etc/homestack/controller.toml';
export const DEFAULT_AGENT_CONFIG = '/etc/homestack/agent.toml';

/** The controller's config and (migrated) database, as the CLI sees them. */
export interface CliContext {
  configFile: string;
  config: ControllerConfig;
  db: Db;
  close(): void;
}

export function controllerConfig(argv: readonly string[]): { file: string; config: ControllerConfig } {
  const file = configPath(argv, 'HOMESTACK_CONTROLLER_CONFIG', DEFAULT_CONTROLLER_CONFIG);
  return { file, config: loadConfig(ControllerConfigSchema, file) };
}

/** agent.toml from `--agent-config FILE`, then HOMESTACK_AGENT_CONFIG, then the default. */
export function agentConfig(argv: readonly string[]): { file: string; config: AgentConfig } {
  const i = argv.indexOf('--agent-config');
  const eq = argv.find((a) => a.startsWith('--agent-config='))?.slice('--agent-config='.length);
  const file = (i >= 0 && argv[i + 1] ? argv[i + 1]! : eq) || process.env.HOMESTACK_AGENT_CONFIG || DEFAULT_AGENT_CONFIG;
  return { file, config: loadConfig(AgentConfigSchema, file) };
}

export function dbPath(config: ControllerConfig): string {
  return config.database.path || join(config.data_dir, 'homestack.db');
}

/** Opens the database the controller uses (applying migrations, as the controller would). */
export function openContext(argv: readonly string[]): CliContext {
  const { file, config } = controllerConfig(argv);
  const db = openDb(dbPath(config), config.database.busy_timeout_ms);
  migrate(db);
  return { configFile: file, config, db, close: () => db.close() };
}

/** Prints rows as an aligned table (or JSON lines with --json). */
export function printTable(rows: Array<Record<string, unknown>>, columns: string[], json = false): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns)}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}
