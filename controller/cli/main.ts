#!/usr/bin/env node
import { ConfigError } from '../../shared/config/load.js';
import { SchemaTooNewError } from '../db/migrate.js';
import { parseArgs } from 'node:util';
import { AIO_COMMANDS, aioCommand, DAEMONS_START, daemonsCommand } from './aio/index.js';
import { GLOBAL_OPTIONS, usageText, type CommandSpec } from './args.js';
import { BACKUP, backupCommand, RESTORE, restoreCommand } from './backup.js';
import { backupScheduleCommand, SCHEDULE_COMMANDS } from './backup-schedule.js';
import { CA_COMMANDS, caCommand } from './ca-commands.js';
import { DOCTOR, doctorCommand } from './doctor.js';
import { DOMAIN_COMMANDS, domainCommand } from './domain-commands.js';
import { HOST_COMMANDS, hostCommand } from './hosts.js';
import { BOOTSTRAP, bootstrapCommand, KEYS_ROTATE, keysCommand } from './identity-commands.js';
import { OPS_COMMANDS, opsCommand } from './ops.js';
import { TLS_ENABLE, tlsCommand } from './tls-enable.js';

type Command = (sub: string | undefined, argv: readonly string[]) => Promise<number>;

/**
 * The command table: a literal map, one entry per top-level command, with the
 * definitions (words, arguments, options, help) that parse its command lines and make
 * the usage text.
 */
export const COMMANDS: Record<string, { run: Command; specs: CommandSpec[] }> = {
  aio: { run: aioCommand, specs: Object.values(AIO_COMMANDS) },
  daemons: { run: daemonsCommand, specs: [DAEMONS_START] },
  bootstrap: { run: bootstrapCommand, specs: [BOOTSTRAP] },
  keys: { run: keysCommand, specs: [KEYS_ROTATE] },
  ca: { run: caCommand, specs: Object.values(CA_COMMANDS) },
  tls: { run: tlsCommand, specs: [TLS_ENABLE] },
  host: { run: hostCommand, specs: Object.values(HOST_COMMANDS) },
  ops: { run: opsCommand, specs: Object.values(OPS_COMMANDS) },
  backup: { run: backupCommand, specs: [BACKUP] },
  restore: { run: restoreCommand, specs: [RESTORE] },
  'backup-schedule': { run: backupScheduleCommand, specs: Object.values(SCHEDULE_COMMANDS) },
  doctor: { run: doctorCommand, specs: [DOCTOR] },
  domain: { run: domainCommand, specs: Object.values(DOMAIN_COMMANDS) },
};

export const USAGE = `homestack: the Homestack admin CLI

${usageText(Object.values(COMMANDS).flatMap((c) => c.specs))}
Options of every command: --config FILE (controller.toml; env HOMESTACK_CONTROLLER_CONFIG),
  --agent-config FILE (agent.toml; env HOMESTACK_AGENT_CONFIG), --help
`;

/** Every option that takes a value, so that its value is not read as a command word. */
const VALUE_OPTIONS = Object.fromEntries(
  Object.values(COMMANDS)
    .flatMap((c) => c.specs)
    .flatMap((s) => Object.entries({ ...GLOBAL_OPTIONS, ...(s.options ?? {}) }))
    .map(([k, o]) => [k, { type: o.type }]),
) as Record<string, { type: 'string' | 'boolean' }>;

async function main(argv: string[]): Promise<number> {
  // The command words are the first two positionals; each command then parses its own
  // line strictly (controller/cli/args.ts).
  const { positionals } = parseArgs({ args: argv, options: VALUE_OPTIONS, allowPositionals: true, strict: false });
  const [cmd, sub] = positionals;
  if (!cmd || cmd === 'help' || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`homestack: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  return c.run(sub, argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ConfigError || e instanceof SchemaTooNewError) {
      process.stderr.write(`homestack: ${e.message}\n`);
      process.exit(2);
    }
    const ce = e as { status?: number; message?: string; stack?: string };
    if (typeof ce?.status === 'number' && ce.status < 500) {
      process.stderr.write(`homestack: ${ce.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`homestack: ${ce?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
