import { Echo } from '../../shared/agent/host.js';
import { enqueueOnly } from '../agents/dispatch.js';
import { OperationsRepo } from '../agents/operations.repo.js';
import { HostRegistry } from '../agents/registry.js';
import { parseCommand, str, usageFailure, usageText, UsageError, type CommandSpec, type Values } from './args.js';
import { openContext, printTable } from './context.js';

export const OPS_COMMANDS: Record<string, CommandSpec> = {
  list: {
    words: 'ops list',
    options: {
      state: { type: 'string', value: 'pending|sending|done|failed' },
      host: { type: 'string', value: 'H' },
      limit: { type: 'string', value: 'N' },
      json: { type: 'boolean' },
    },
    help: 'agent operations, newest first',
  },
  echo: {
    words: 'ops echo',
    args: 'HOST MESSAGE',
    options: { 'delay-ms': { type: 'string', value: 'N' } },
    help: 'enqueue a diagnostic no-op operation (the running controller sends it)',
  },
};

/** `homestack ops list|echo …`. */
export async function opsCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const spec = sub ? OPS_COMMANDS[sub] : undefined;
  if (!spec) {
    process.stderr.write(`usage:\n${usageText(Object.values(OPS_COMMANDS))}`);
    return 2;
  }
  let a: ReturnType<typeof parseCommand>;
  try {
    a = parseCommand(spec, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e);
    throw e;
  }
  return sub === 'echo' ? opsEcho(a.positionals, a.values, argv) : opsList(a.values, argv);
}

/** `homestack ops list [--state S] [--host NAME] [--limit N] [--json]`: operations, newest first. */
async function opsList(values: Values, argv: readonly string[]): Promise<number> {
  const arg = (k: string) => str(values, k.replace(/^--/, ''));
  const limit = Number(arg('--limit') ?? 50);
  const ctx = openContext(argv);
  try {
    const rows = new OperationsRepo(ctx.db).listing({
      state: arg('--state'),
      host: arg('--host'),
      limit: Number.isFinite(limit) && limit > 0 ? limit : 50,
    });
    printTable(
      rows.map((r) => ({
        ...r,
        resource: r.resource_type ? `${r.resource_type}/${r.resource_id}` : '',
        last_error: (r.last_error ?? '').slice(0, 80),
      })),
      ['id', 'host_name', 'kind', 'state', 'attempts', 'resource', 'created_at', 'finished_at', 'last_error'],
      values.json === true,
    );
  } finally {
    ctx.close();
  }
  return 0;
}

/**
 * `homestack ops echo HOST MESSAGE [--delay-ms N]`: enqueues the agent's diagnostic echo
 * as a durable operation (the running controller sends it). Prints the operation id.
 */
async function opsEcho(positionals: string[], values: Values, argv: readonly string[]): Promise<number> {
  const [host, message] = positionals as [string, string];
  const delay = str(values, 'delay-ms');
  const ctx = openContext(argv);
  try {
    const h = new HostRegistry(ctx.db, ctx.config).get(host);
    const body = delay !== undefined ? { message, delay_ms: Number(delay) } : { message };
    const op = enqueueOnly(ctx.db, { hostId: h.id, route: Echo, body, resource: { type: 'echo', id: message } });
    process.stdout.write(`${op.id}\n`);
  } finally {
    ctx.close();
  }
  return 0;
}
