import { Echo } from '../../shared/agent/host.js';
import { enqueueOnly } from '../agents/dispatch.js';
import { OperationsRepo } from '../agents/operations.repo.js';
import { HostRegistry } from '../agents/registry.js';
import { openContext, printTable } from './context.js';

/** `homestack ops list [--state S] [--host NAME] [--limit N] [--json]`: operations, newest first. */
export async function opsCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  if (sub !== 'list') {
    process.stderr.write('usage: homestack ops list [--state pending|sending|done|failed] [--host NAME] [--limit N] [--json]\n');
    return 2;
  }
  const arg = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
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
      argv.includes('--json'),
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
export async function opsEcho(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf('echo');
  const host = argv[i + 1];
  const message = argv[i + 2];
  if (!host || !message) {
    process.stderr.write('usage: homestack ops echo HOST MESSAGE [--delay-ms N]\n');
    return 2;
  }
  const d = argv.indexOf('--delay-ms');
  const ctx = openContext(argv);
  try {
    const h = new HostRegistry(ctx.db, ctx.config).get(host);
    const body = d >= 0 ? { message, delay_ms: Number(argv[d + 1]) } : { message };
    const op = enqueueOnly(ctx.db, { hostId: h.id, route: Echo, body, resource: { type: 'echo', id: message } });
    process.stdout.write(`${op.id}\n`);
  } finally {
    ctx.close();
  }
  return 0;
}
