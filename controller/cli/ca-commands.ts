import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRunner } from '../../shared/exec/run.js';
import { apiCertPaths, ensureApiCertificate, readExtraSans } from '../pki/api-cert.js';
import { altNamesOf, CertificateAuthority } from '../pki/ca.js';
import { parsed, str, usageText, type CommandSpec } from './args.js';
import { controllerConfig } from './context.js';

/** `homestack ca …`: the cloud's CA (controller/pki) and the API certificate it issues. */
export const CA_COMMANDS: Record<string, CommandSpec> = {
  show: {
    words: 'ca show',
    options: { json: { type: 'boolean' } },
    help: "the cloud's CA (created if absent) and the API certificate: files, expiry, fingerprints, names",
  },
  'api-cert': {
    words: 'ca api-cert',
    options: { san: { type: 'string', value: 'NAME[,NAME...]' }, force: { type: 'boolean' } },
    help: 'issue the API certificate if it lacks a name or nears expiry (--san: more DNS names or IPs, kept; --force: a new one); SIGHUP the controller to serve it',
  },
};

function describeCert(file: string): Record<string, unknown> | null {
  if (!existsSync(file)) return null;
  const pem = readFileSync(file, 'utf8');
  const x = new X509Certificate(pem);
  return {
    file,
    subject: x.subject.replace(/\n/g, ', '),
    not_after: new Date(x.validTo).toISOString(),
    fingerprint256: x.fingerprint256,
    ...altNamesOf(pem),
  };
}

export async function caCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const spec = sub ? CA_COMMANDS[sub] : undefined;
  if (!spec) {
    process.stderr.write(`usage:\n${usageText(Object.values(CA_COMMANDS))}`);
    return 2;
  }
  const a = parsed(spec, argv);
  if (typeof a === 'number') return a;
  const { config } = controllerConfig(argv);
  const ca = await CertificateAuthority.ensure(join(config.data_dir, 'pki'), makeRunner());
  const paths = apiCertPaths(ca.dir);
  if (sub === 'show') {
    const info = ca.info();
    const out = {
      ca: {
        file: ca.certPath,
        subject: info.subject.replace(/\n/g, ', '),
        not_after: info.notAfter.toISOString(),
        fingerprint256: info.fingerprint256,
      },
      api: describeCert(paths.certFile),
      api_extra_sans: readExtraSans(paths),
      tls: { enabled: config.tls.enabled, cert_file: config.tls.cert_file || null },
    };
    if (a.values.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(
      `CA            ${out.ca.file}\n              ${out.ca.subject}, until ${out.ca.not_after}\n              SHA-256 ${out.ca.fingerprint256}\n`,
    );
    const api = out.api as { file: string; not_after: string; dns: string[]; ips: string[] } | null;
    process.stdout.write(
      api
        ? `API cert      ${api.file}, until ${api.not_after}\n              names: ${[...api.dns, ...api.ips].join(', ')}\n`
        : 'API cert      none yet (issued when the controller starts with tls.enabled, or by `homestack ca api-cert`)\n',
    );
    process.stdout.write(
      `TLS           ${config.tls.enabled ? `on, serving ${config.tls.cert_file || paths.certFile}` : 'off (plain HTTP; tls.enabled = true in controller.toml)'}\n`,
    );
    return 0;
  }
  const sans = (str(a.values, 'san') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const r = await ensureApiCertificate(ca, config, { addSans: sans, force: a.values.force === true });
  process.stdout.write(
    `${r.issued ? 'issued' : 'kept'} ${r.certFile} (until ${r.notAfter.toISOString().slice(0, 10)}): ${[...r.names.dnsNames, ...r.names.ipAddresses].join(', ')}\n`,
  );
  if (r.issued && config.tls.enabled && !config.tls.cert_file)
    process.stdout.write('send SIGHUP to the controller to serve it\n');
  if (config.tls.cert_file)
    process.stdout.write(`note: the controller serves tls.cert_file (${config.tls.cert_file}), not this one\n`);
  return 0;
}
