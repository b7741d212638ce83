import { LDAP_KEYS } from '../../shared/config/identity-ldap.js';
import { IdentityCore } from '../identity/core.js';
import {
  listDomainBackends,
  setLdapDomain,
  showDomainBackend,
  typedPatch,
  unsetLdapDomain,
} from '../identity/domain-backends.js';
import { IDENTITY_DRIVERS } from '../identity/drivers.js';
import { parseCommand, usageFailure, usageText, UsageError, type CommandSpec, type OptionSpec } from './args.js';
import { openContext, printTable, type CliContext } from './context.js';

/** Every LDAP key as an option: --user-tree-dn DN sets user_tree_dn. */
const KEY_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  LDAP_KEYS.map((k) => [k.replaceAll('_', '-'), { type: 'string', value: 'VALUE' } satisfies OptionSpec]),
);

export const DOMAIN_COMMANDS: Record<string, CommandSpec> = {
  list: {
    words: 'domain list',
    options: { json: { type: 'boolean' } },
    help: 'domains and where their users come from (sql | ldap)',
  },
  set: {
    words: 'domain ldap set',
    args: 'DOMAIN',
    options: { ...KEY_OPTIONS, create: { type: 'boolean' } },
    optionsText: '--url URL [--create] [--<ldap key> VALUE ...]',
    help:
      "read DOMAIN's users and groups from LDAP (read-only; keys as Keystone's [ldap]: --user-tree-dn, --user-id-attribute, " +
      '--use-tls true, --tls-cacertfile F, --password-file F...; given keys replace stored ones; see README)',
  },
  show: { words: 'domain ldap show', args: 'DOMAIN', options: { json: { type: 'boolean' } }, help: "a domain's LDAP settings" },
  unset: {
    words: 'domain ldap unset',
    args: 'DOMAIN',
    help: 'back to SQL: drops the settings and what the directory left (shadow users, their tokens and role assignments)',
  },
  check: {
    words: 'domain ldap check',
    args: 'DOMAIN',
    help: 'connect (TLS as configured), bind as the service user and count users and groups',
  },
};

/** `homestack domain list | domain ldap set|show|unset|check DOMAIN …`. */
export async function domainCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const action = sub === 'list' ? 'list' : sub === 'ldap' ? words[words.indexOf('ldap') + 1] : undefined;
  const spec = action ? DOMAIN_COMMANDS[action] : undefined;
  if (!spec || (action === 'list') !== (sub === 'list')) {
    process.stderr.write(`usage:\n${usageText(Object.values(DOMAIN_COMMANDS))}`);
    return 2;
  }
  let a: ReturnType<typeof parseCommand>;
  try {
    a = parseCommand(spec, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e);
    throw e;
  }
  const ctx = openContext(argv);
  try {
    const core = new IdentityCore(ctx.db, ctx.config);
    const json = a.values.json === true;
    const ref = a.positionals[0]!;
    switch (action) {
      case 'list':
        printTable(
          listDomainBackends(core).map((v) => ({
            id: v.domain.id,
            name: v.domain.name,
            enabled: !!v.domain.enabled,
            backend: v.driver,
            url: v.config?.url ?? '',
          })),
          ['id', 'name', 'enabled', 'backend', 'url'],
          json,
        );
        return 0;
      case 'show': {
        const v = showDomainBackend(core, ref);
        if (json)
          process.stdout.write(
            `${JSON.stringify({ domain: v.domain.name, id: v.domain.id, backend: v.driver, ...v.config }, null, 2)}\n`,
          );
        else {
          process.stdout.write(`domain ${v.domain.name} (${v.domain.id}): ${v.driver}\n`);
          for (const [k, val] of Object.entries(v.config ?? {})) process.stdout.write(`  ${k} = ${JSON.stringify(val)}\n`);
        }
        return 0;
      }
      case 'set': {
        const raw: Record<string, string> = {};
        for (const k of LDAP_KEYS) {
          const v = a.values[k.replaceAll('_', '-')];
          if (typeof v === 'string') raw[k] = v;
        }
        const r = await setLdapDomain(core, ref, typedPatch(raw), { create: a.values.create === true });
        process.stdout.write(
          `${r.created ? 'created' : 'configured'} domain ${r.view.domain.name} (${r.view.domain.id}): users and groups from ${r.view.config!.url}\n`,
        );
        for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
        return 0;
      }
      case 'unset': {
        const r = unsetLdapDomain(core, ref);
        process.stdout.write(`domain ${r.domain.name} is SQL again; ${r.removedUsers} directory users removed\n`);
        return 0;
      }
      case 'check': {
        const r = await checkDomain(core, ref);
        (r.ok ? process.stdout : process.stderr).write(`${r.line}\n`);
        return r.ok ? 0 : 1;
      }
    }
    return 2;
  } finally {
    ctx.close();
  }
}

async function checkDomain(core: IdentityCore, ref: string): Promise<{ ok: boolean; line: string }> {
  const v = showDomainBackend(core, ref);
  if (!v.config) return { ok: true, line: `domain ${v.domain.name}: SQL (the controller database)` };
  const driver = IDENTITY_DRIVERS.ldap(v.config, { domainId: v.domain.id, domainName: v.domain.name, repo: core.repo });
  try {
    return { ok: true, line: `domain ${v.domain.name}: ${await driver.check()}` };
  } catch (e) {
    const why = (e as { reason?: string }).reason ?? (e as Error).message;
    return { ok: false, line: `domain ${v.domain.name}: LDAP unavailable: ${why}` };
  }
}

/** One line per LDAP domain for `homestack doctor`: reachable (TLS, CA, service bind), how many users and groups. */
export async function ldapDoctorChecks(
  ctx: CliContext,
): Promise<Array<{ name: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }>> {
  const core = new IdentityCore(ctx.db, ctx.config);
  const out = [];
  for (const v of listDomainBackends(core)) {
    if (!v.config) continue;
    const name = `ldap domain ${v.domain.name}`;
    const fix = `check the directory and the settings (homestack domain ldap show ${v.domain.name}; homestack domain ldap set ${v.domain.name} --KEY VALUE)`;
    try {
      const driver = IDENTITY_DRIVERS.ldap(v.config, { domainId: v.domain.id, domainName: v.domain.name, repo: core.repo });
      const detail = await driver.check();
      const clear = v.config.url.split(',').some((u) => u.startsWith('ldap://')) && !v.config.use_tls;
      out.push(
        clear
          ? {
              name,
              status: 'warn' as const,
              detail: `${detail}; passwords cross the network in clear text`,
              fix: `homestack domain ldap set ${v.domain.name} --use-tls true (or an ldaps:// URL)`,
            }
          : { name, status: 'ok' as const, detail },
      );
    } catch (e) {
      out.push({ name, status: 'fail' as const, detail: (e as { reason?: string }).reason ?? (e as Error).message, fix });
    }
  }
  return out;
}
