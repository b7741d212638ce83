import { readFileSync } from 'node:fs';
import { parsed, str, usageFailure, usageText, UsageError, type CommandSpec } from './args.js';
import { bootstrap, rotateKeys } from './bootstrap.js';
import { controllerConfig, openContext } from './context.js';

export const BOOTSTRAP: CommandSpec = {
  words: 'bootstrap',
  options: {
    'admin-password': { type: 'string', value: 'PW' },
    'admin-password-file': { type: 'string', value: 'F' },
    'public-url': { type: 'string', value: 'URL' },
    region: { type: 'string', value: 'NAME' },
  },
  optionsText: '--admin-password PW | --admin-password-file F [--public-url URL] [--region NAME]',
  help: 'admin user, roles and catalog (idempotent; env HOMESTACK_ADMIN_PASSWORD keeps the password out of argv)',
};
export const KEYS_ROTATE: CommandSpec = { words: 'keys rotate', help: 'rotate the token keys' };

/**
 * `homestack bootstrap --admin-password PW | --admin-password-file F [--public-url U] [--region R]`
 * (env HOMESTACK_ADMIN_PASSWORD also works, to keep the password out of argv).
 */
export async function bootstrapCommand(_sub: string | undefined, argv: readonly string[]): Promise<number> {
  const a = parsed(BOOTSTRAP, argv);
  if (typeof a === 'number') return a;
  const file = str(a.values, 'admin-password-file');
  const adminPassword =
    str(a.values, 'admin-password') ?? (file ? readFileSync(file, 'utf8').trim() : process.env.HOMESTACK_ADMIN_PASSWORD);
  if (!adminPassword) return usageFailure(new UsageError('give --admin-password or --admin-password-file', BOOTSTRAP));
  const ctx = openContext(argv);
  try {
    const r = await bootstrap(ctx.db, ctx.config, {
      adminPassword,
      publicUrl: str(a.values, 'public-url'),
      region: str(a.values, 'region'),
    });
    process.stdout.write(
      `bootstrapped: ${r.publicUrl} region ${r.region}; admin user ${r.adminUserId}, project ${r.adminProjectId}\n`,
    );
    for (const c of r.changes) process.stdout.write(`  ${c}\n`);
  } finally {
    ctx.close();
  }
  return 0;
}

/** `homestack keys rotate`: rotate the token key repository (Keystone's fernet_rotate). */
export async function keysCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  if (sub !== 'rotate') {
    process.stderr.write(`usage:\n${usageText([KEYS_ROTATE])}`);
    return 2;
  }
  const a = parsed(KEYS_ROTATE, argv);
  if (typeof a === 'number') return a;
  const keys = rotateKeys(controllerConfig(argv).config);
  process.stdout.write(`token keys now: ${keys.join(', ')}\n`);
  return 0;
}
