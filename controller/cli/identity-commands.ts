import { readFileSync } from 'node:fs';
import { bootstrap, rotateKeys } from './bootstrap.js';
import { controllerConfig, openContext } from './context.js';

const arg = (argv: readonly string[], k: string) => {
  const i = argv.indexOf(k);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${k}=`))?.slice(k.length + 1);
};

/**
 * `homestack bootstrap --admin-password PW | --admin-password-file F [--public-url U] [--region R]`
 * (env HOMESTACK_ADMIN_PASSWORD also works, to keep the password out of argv).
 */
export async function bootstrapCommand(_sub: string | undefined, argv: readonly string[]): Promise<number> {
  const file = arg(argv, '--admin-password-file');
  const adminPassword =
    arg(argv, '--admin-password') ?? (file ? readFileSync(file, 'utf8').trim() : process.env.HOMESTACK_ADMIN_PASSWORD);
  if (!adminPassword) {
    process.stderr.write(
      'usage: homestack bootstrap --admin-password PW | --admin-password-file FILE [--public-url URL] [--region NAME]\n',
    );
    return 2;
  }
  const ctx = openContext(argv);
  try {
    const r = await bootstrap(ctx.db, ctx.config, {
      adminPassword,
      publicUrl: arg(argv, '--public-url'),
      region: arg(argv, '--region'),
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
    process.stderr.write('usage: homestack keys rotate\n');
    return 2;
  }
  const keys = rotateKeys(controllerConfig(argv).config);
  process.stdout.write(`token keys now: ${keys.join(', ')}\n`);
  return 0;
}
