#!/usr/bin/env node
import { ConfigError } from '../../shared/config/load.js';
import { SchemaTooNewError } from '../db/migrate.js';
import { aioCommand, daemonsCommand } from './aio/index.js';
import { backupCommand, restoreCommand } from './backup.js';
import { doctorCommand } from './doctor.js';
import { hostCommand } from './hosts.js';
import { bootstrapCommand, keysCommand } from './identity-commands.js';
import { opsCommand, opsEcho } from './ops.js';

const USAGE = `homestack: the Homestack admin CLI

  homestack aio up|down|restart|status     the all-in-one cloud on this machine (as root)
  homestack daemons start                 start libvirtd, virtlogd, ovsdb-server, ovs-vswitchd, tgtd if not running
  homestack bootstrap --admin-password PW [--public-url URL] [--region R]   admin, roles, catalog (idempotent)
  homestack keys rotate                   rotate the token keys
  homestack host list [--json]            hosts and whether they are up
  homestack host enrol-local              enrol this machine's agent (agent.toml's credential_file, created if absent)
  homestack host enrol --name N --url U --secret-file F
  homestack host remove NAME
  homestack ops list [--state S] [--host H] [--limit N] [--json]
  homestack ops echo HOST MESSAGE [--delay-ms N]   enqueue a diagnostic no-op operation
  homestack backup DIR                    online copy of the database, token keys and configs
  homestack restore DIR [--with-configs]  onto a stopped controller (refuses a newer schema)
  homestack doctor [--json]               check this host's prerequisites (agent.toml's roles) and say how to fix

Options: --config FILE (controller.toml; env HOMESTACK_CONTROLLER_CONFIG),
         --agent-config FILE (agent.toml; env HOMESTACK_AGENT_CONFIG)
`;

type Command = (sub: string | undefined, argv: readonly string[]) => Promise<number>;

/** The command table: a literal map, one entry per top-level command. */
export const COMMANDS: Record<string, Command> = {
  aio: aioCommand,
  bootstrap: bootstrapCommand,
  daemons: (sub) => daemonsCommand(sub),
  keys: keysCommand,
  host: hostCommand,
  ops: (sub, argv) => (sub === 'echo' ? opsEcho(argv) : opsCommand(sub, argv)),
  backup: backupCommand,
  restore: restoreCommand,
  doctor: doctorCommand,
};

async function main(argv: string[]): Promise<number> {
  const positional = argv.filter(
    (a, i) =>
      !a.startsWith('--') &&
      !(i > 0 && argv[i - 1]!.startsWith('--') && !argv[i - 1]!.includes('=') && VALUE_FLAGS.has(argv[i - 1]!)),
  );
  const [cmd, sub] = positional;
  if (!cmd || cmd === 'help' || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`homestack: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  return run(sub, argv);
}

/** Flags that take a value (so the value is not read as a command word). */
const VALUE_FLAGS = new Set([
  '--config',
  '--agent-config',
  '--state',
  '--host',
  '--limit',
  '--name',
  '--url',
  '--secret-file',
  '--delay-ms',
  '--admin-password',
  '--admin-password-file',
  '--public-url',
  '--region',
]);

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
