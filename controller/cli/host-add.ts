import { CertificateAuthority } from '../pki/ca.js';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeRunner } from '../../shared/exec/run.js';
import { HostRegistry } from '../agents/registry.js';
import { enrolHost } from '../enrol/enrol.js';
import { checkKnownHosts } from '../enrol/known-hosts.js';
import { Remote } from '../enrol/remote.js';
import { str, type CommandSpec, type Values } from './args.js';
import { openContext } from './context.js';

/** `homestack host add`'s definition (parser and usage text). */
export const HOST_ADD: CommandSpec = {
  words: 'host add',
  args: '[USER@]ADDRESS',
  options: {
    roles: { type: 'string', value: 'compute,network,volume' },
    name: { type: 'string', value: 'N' },
    'identity-file': { type: 'string', value: 'F' },
    'password-stdin': { type: 'boolean' },
    'known-hosts': { type: 'string', value: 'F' },
    'trust-host-key': { type: 'string', value: 'SHA256:...' },
    port: { type: 'string', value: '22' },
    'agent-port': { type: 'string', value: '8001' },
    'tunnel-ip': { type: 'string', value: 'A' },
    prefix: { type: 'string', value: 'DIR' },
    'controller-url': { type: 'string', value: 'URL' },
    wait: { type: 'string', value: '90' },
  },
  optionsText:
    '[--roles compute,network,volume] [--name N] [--identity-file F | --password-stdin] [--known-hosts F | --trust-host-key SHA256:...] [--port 22] [--agent-port 8001] [--tunnel-ip A] [--prefix DIR] [--controller-url URL] [--wait 90]',
  help: 'install, configure and enrol a fresh Debian 12 host over SSH (root access by key or password)',
};

const ROLES = new Set(['compute', 'network', 'volume']);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString()
    .replace(/\r?\n$/, '');
}

/**
 * `homestack host add root@ADDRESS`: connects with ssh2, verifies the host key (the
 * known_hosts file, or a fingerprint given on the command line; never trusts an
 * unknown key), then enrols the host step by step (controller/enrol/enrol.ts),
 * printing each step.
 */
export async function hostAdd(target: string, values: Values, argv: readonly string[]): Promise<number> {
  const opt = (k: string) => str(values, k.replace(/^--/, ''));
  const [user, address] = target.includes('@')
    ? [target.slice(0, target.lastIndexOf('@')), target.slice(target.lastIndexOf('@') + 1)]
    : ['root', target];
  const roles = (opt('--roles') ?? 'compute,network,volume')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = roles.find((x) => !ROLES.has(x));
  if (bad) {
    process.stderr.write(`homestack host add: unknown role "${bad}" (compute, network, volume)\n`);
    return 2;
  }
  const port = Number(opt('--port') ?? 22);
  const agentPort = Number(opt('--agent-port') ?? 8001);
  const prefix = opt('--prefix') ?? '/';
  if (!prefix.startsWith('/')) {
    process.stderr.write('homestack host add: --prefix must be an absolute path\n');
    return 2;
  }
  const trust = opt('--trust-host-key');
  const knownHosts = opt('--known-hosts') ?? join(homedir(), '.ssh/known_hosts');
  const identity = opt('--identity-file');
  const password = values['password-stdin'] === true ? await readStdin() : undefined;
  if (!identity && password === undefined) {
    process.stderr.write('homestack host add: give --identity-file FILE or --password-stdin\n');
    return 2;
  }

  const ctx = openContext(argv);
  let remote: Remote | null = null;
  const t0 = Date.now();
  try {
    const say = (l: string) => process.stdout.write(`${l}\n`);
    say(`[ssh] connecting to ${user}@${address}:${port}`);
    let verdict = '';
    remote = await Remote.connect({
      host: address,
      port,
      username: user,
      ...(identity ? { privateKey: readFileSync(identity) } : {}),
      ...(password !== undefined ? { password } : {}),
      verifyHostKey: (fp, key) => {
        if (trust) {
          verdict = fp === trust ? 'trusted by --trust-host-key' : `its key is ${fp}, not the --trust-host-key ${trust}`;
          return fp === trust;
        }
        const v = existsSync(knownHosts)
          ? checkKnownHosts(readFileSync(knownHosts, 'utf8'), address, port, key)
          : { kind: 'unknown' as const };
        if (v.kind === 'match') {
          verdict = `known in ${knownHosts}`;
          return true;
        }
        verdict =
          v.kind === 'mismatch'
            ? `ITS HOST KEY CHANGED: ${knownHosts} line ${v.line} has another key for it (now ${fp}); if that is expected, fix the known_hosts entry`
            : `its host key ${fp} is not in ${knownHosts}; check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass --trust-host-key ${fp}`;
        return false;
      },
    }).catch((e: Error) => {
      throw new Error(
        verdict && !verdict.startsWith('known') && !verdict.startsWith('trusted') ? `refusing ${address}: ${verdict}` : e.message,
      );
    });
    say(`[ssh] host key ${remote.hostKeyFingerprint} ${verdict}`);
    const r = await enrolHost(
      {
        address,
        roles,
        prefix,
        agentPort,
        name: opt('--name'),
        ...(opt('--tunnel-ip') ? { tunnelIp: opt('--tunnel-ip')! } : {}),
        controllerUrl: opt('--controller-url') ?? ctx.config.public_url,
        waitUpS: Number(opt('--wait') ?? 90),
        heartbeatS: ctx.config.agents.heartbeat_s,
      },
      {
        remote,
        registry: new HostRegistry(ctx.db, ctx.config),
        ca: await CertificateAuthority.ensure(join(ctx.config.data_dir, 'pki'), makeRunner()),
        run: makeRunner(),
        releaseDir: join(ctx.config.data_dir, 'releases'),
        progress: say,
      },
    );
    say(`${r.changed ? 'enrolled' : 'unchanged'} ${r.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    process.stderr.write(`homestack host add: ${(err as Error).message}\n`);
    return 1;
  } finally {
    remote?.close();
    ctx.close();
  }
}
