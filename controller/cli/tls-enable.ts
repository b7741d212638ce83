import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { makeRunner } from '../../shared/exec/run.js';
import type { Db } from '../db/open.js';
import { IdentityRepo } from '../identity/identity.repo.js';
import { ensureApiCertificate } from '../pki/api-cert.js';
import { CertificateAuthority } from '../pki/ca.js';
import { ensureControllerClientCert } from '../pki/controller-cert.js';
import { parsed, str, type CommandSpec } from './args.js';
import { defaultPublicUrl } from './bootstrap.js';
import { agentConfig, openContext } from './context.js';
import { enrolLocal } from './hosts.js';

/**
 * `homestack tls enable` (issue 17): an existing plain-HTTP cloud to HTTPS in one command.
 * It issues the API certificate and the controller's client certificate from the cloud's
 * CA (made if absent), writes `[tls] enabled = true` and `plain_agents = true` and an
 * `https://` `public_url` into controller.toml, moves the catalog's endpoints to it, and
 * moves this machine's agent (enrolment's host certificate, `controller_url` https://).
 * The controller serves it from its next start; agents not moved yet keep calling its
 * port in plain HTTP with their old config (controller/http/plain-agents.ts) until
 * `plain_agents` is turned off. Idempotent.
 */
export const TLS_ENABLE: CommandSpec = {
  words: 'tls enable',
  options: {
    'public-url': { type: 'string', value: 'URL' },
    'no-local-agent': { type: 'boolean' },
    'no-libvirt-tls': { type: 'boolean' },
    'libvirtd-pid-file': { type: 'string', value: 'F' },
  },
  help: "switch a plain-HTTP cloud to HTTPS with the cloud's CA (certificates, controller.toml, catalog, this machine's agent); agents not moved yet keep working; restart the controller after it",
};

/** Sets `key = value` (a TOML literal) in `section` (null: the top level), keeping every other line. */
export function setTomlKey(text: string, section: string | null, key: string, value: string): string {
  const lines = text.split('\n');
  const header = (l: string) => /^\s*\[/.test(l);
  const start = section === null ? 0 : lines.findIndex((l) => l.trim() === `[${section}]`);
  if (start < 0) return `${text.replace(/\n*$/, '\n')}\n[${section}]\n${key} = ${value}\n`;
  const from = section === null ? 0 : start + 1;
  let end = lines.findIndex((l, i) => i >= from && header(l));
  if (end < 0) end = lines.length;
  const re = new RegExp(`^\\s*${key.replace(/[.]/g, '\\.')}\\s*=`);
  const at = lines.findIndex((l, i) => i >= from && i < end && re.test(l));
  if (at >= 0) lines[at] = `${key} = ${value}`;
  else lines.splice(section === null ? 0 : from, 0, `${key} = ${value}`);
  return lines.join('\n');
}

/** Moves every catalog endpoint under `from` to the same path under `to`; how many changed. */
export function rebaseCatalog(db: Db, from: string, to: string): number {
  const repo = new IdentityRepo(db);
  const eps = repo.list<{ id: string; url: string }>('catalog_endpoints');
  return repo.tx(() => {
    let n = 0;
    for (const e of eps)
      if (e.url === from || e.url.startsWith(`${from}/`)) {
        repo.update('catalog_endpoints', e.id, { url: `${to}${e.url.slice(from.length)}` });
        n++;
      }
    return n;
  });
}

/** The https:// public URL: given, else the configured one's (or the listen address's) with its scheme changed. */
export function httpsPublicUrl(config: ControllerConfig, given?: string): string {
  const url = (given || defaultPublicUrl(config)).replace(/\/+$/, '').replace(/^http:\/\//, 'https://');
  if (!url.startsWith('https://')) throw new Error(`the public URL '${url}' is not an https:// URL`);
  return url;
}

const tomlString = (s: string) => JSON.stringify(s);

function writeToml(file: string, text: string): void {
  parseToml(text); // never leave a file the daemon cannot read
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}

export async function tlsCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  if (sub !== 'enable') {
    process.stderr.write('usage: homestack tls enable [--public-url URL] [--no-local-agent]\n');
    return 2;
  }
  const a = parsed(TLS_ENABLE, argv);
  if (typeof a === 'number') return a;
  const say = (m: string) => process.stdout.write(`${m}\n`);
  const ctx = openContext(argv);
  const oldUrl = defaultPublicUrl(ctx.config);
  const publicUrl = httpsPublicUrl(ctx.config, str(a.values, 'public-url'));
  const config: ControllerConfig = { ...ctx.config, public_url: publicUrl, tls: { ...ctx.config.tls, enabled: true } };
  try {
    const ca = await CertificateAuthority.ensure(join(config.data_dir, 'pki'), makeRunner());
    say(`CA ${ca.certPath} (SHA-256 ${ca.info().fingerprint256})`);
    if (!config.tls.cert_file) {
      const api = await ensureApiCertificate(ca, config);
      say(`API certificate ${api.issued ? 'issued' : 'kept'}: ${[...api.names.dnsNames, ...api.names.ipAddresses].join(', ')}`);
    }
    if (await ensureControllerClientCert(ca)) say('controller client certificate for the agent channel: issued');
    let text = readFileSync(ctx.configFile, 'utf8');
    text = setTomlKey(text, null, 'public_url', tomlString(publicUrl));
    text = setTomlKey(text, 'tls', 'enabled', 'true');
    if (!ctx.config.tls.enabled) text = setTomlKey(text, 'tls', 'plain_agents', 'true');
    writeToml(ctx.configFile, text);
    say(
      `${ctx.configFile}: public_url = ${publicUrl}, tls.enabled = true${ctx.config.tls.enabled ? '' : ', tls.plain_agents = true'}`,
    );
    const moved = rebaseCatalog(ctx.db, oldUrl, publicUrl);
    say(`catalog: ${moved} endpoint(s) moved to ${publicUrl}`);
  } finally {
    ctx.close();
  }
  const agent = agentConfig(argv);
  if (!a.values['no-local-agent'] && existsSync(agent.file)) {
    const h = await enrolLocal(argv, say);
    const u = new URL(agent.config.controller_url);
    if (u.protocol === 'http:') {
      u.protocol = 'https:';
      const to = u.toString().replace(/\/+$/, '');
      writeToml(agent.file, setTomlKey(readFileSync(agent.file, 'utf8'), null, 'controller_url', tomlString(to)));
      say(`${agent.file}: controller_url = ${to} (host ${h.name}); restart the agent to move it`);
    }
  }
  say(
    'restart the controller to serve HTTPS; agents not moved yet keep calling it in plain HTTP (tls.plain_agents).' +
      ' Move each other host with `homestack host enrol-local` there and an https:// controller_url, then restart its agent;' +
      ' when `homestack host list` shows every agent at https://, set tls.plain_agents = false and restart the controller.',
  );
  return 0;
}
