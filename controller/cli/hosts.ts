import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import { agentUrl } from '../../shared/util/agent-url.js';
import { HostRegistry } from '../agents/registry.js';
import { Placement } from '../compute/placement.repo.js';
import { ServersRepo } from '../compute/servers.repo.js';
import { agentConfig, openContext, printTable } from './context.js';
import { agentVersionNote } from './agent-version.js';
import { homestackVersion } from './backup.js';
import { parseCommand, str, usageFailure, usageText, UsageError, type CommandSpec } from './args.js';
import { HOST_ADD, hostAdd } from './host-add.js';
import { HOST_DRAIN, hostDrain } from './host-drain.js';
import { makeRunner } from '../../shared/exec/run.js';
import { CertificateAuthority } from '../pki/ca.js';
import { certAddresses, installLibvirtTls, type LibvirtTlsResult } from '../pki/install.js';
import { ensureControllerClientCert } from '../pki/controller-cert.js';
import { installHostCertificate, type HostCertResult } from '../pki/host-cert.js';
import { localHostOps } from '../pki/local-host.js';

/** Reads the secret file, creating it (0600, 32 random bytes hex) when absent. */
export function ensureSecretFile(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/** The URL the agent will register with (agents/host/advertise.ts). */
export const agentUrlOf = (c: AgentConfig): string => agentUrl(c);

/**
 * Enrols the agent of this machine: its credential file (created if absent) and URL
 * from agent.toml, its name from the config or the hostname; installs the host's
 * certificate from the cloud's CA in `tls/` beside the credential file (the agent
 * channel's, controller/pki/host-cert.ts). With the compute role on
 * libvirt it also installs libvirt's TLS certificate from the cloud's CA (live
 * migration; controller/pki) unless `--no-libvirt-tls`; `--libvirtd-pid-file F` names
 * the pid file of a libvirtd not started by systemd (default /run/libvirtd.pid).
 * Idempotent.
 */
export async function enrolLocal(
  argv: readonly string[],
  say: (m: string) => void = () => {},
): Promise<{ name: string; id: string; hostTls: HostCertResult; libvirtTls: LibvirtTlsResult | null }> {
  const { config: ac } = agentConfig(argv);
  const secret = ensureSecretFile(ac.credential_file);
  const ctx = openContext(argv);
  try {
    const reg = new HostRegistry(ctx.db, ctx.config);
    const name = ac.host || osHostname().split('.')[0]!;
    const url = agentUrlOf(ac);
    const h = reg.enrol({ name, agentUrl: url, secret });
    const run = makeRunner();
    const ca = await CertificateAuthority.ensure(join(ctx.config.data_dir, 'pki'), run);
    const addresses = certAddresses(new URL(url).hostname, ac.listen.host, ac.network.tunnel_ip);
    // The host's certificate for the agent channel, beside its credential (controller/pki/host-cert.ts).
    const hostTls = await installHostCertificate(ca, { name, addresses }, localHostOps(run), dirname(ac.credential_file));
    // The controller's side of the agent channel's mutual TLS (controller/pki/controller-cert.ts).
    if (await ensureControllerClientCert(ca)) say('controller client certificate for the agent channel: issued');
    say(
      `host certificate: ${hostTls.issued ? `issued (until ${hostTls.notAfter?.toISOString().slice(0, 10)})` : 'kept'} in ${dirname(hostTls.certFile)}`,
    );
    let libvirtTls: LibvirtTlsResult | null = null;
    if (ac.roles.includes('compute') && ac.compute.driver === 'libvirt' && !argv.includes('--no-libvirt-tls')) {
      const i = argv.indexOf('--libvirtd-pid-file');
      libvirtTls = await installLibvirtTls(
        ca,
        { name, addresses },
        localHostOps(run, { libvirtdPidFile: i >= 0 ? argv[i + 1] : undefined, log: say }),
      );
      say(
        `libvirt TLS: ${libvirtTls.issued ? `certificate issued (until ${libvirtTls.notAfter?.toISOString().slice(0, 10)})` : 'certificate kept'}` +
          `${libvirtTls.restarted ? `; ${libvirtTls.restarted}` : ''}; ${libvirtTls.listening ? 'listening on 16514' : 'NOT listening on 16514'}`,
      );
    }
    return { name: h.name, id: h.id, hostTls, libvirtTls };
  } finally {
    ctx.close();
  }
}

/** `homestack host …`: the definitions the parser and the usage text share. */
export const HOST_COMMANDS: Record<string, CommandSpec> = {
  add: HOST_ADD,
  list: { words: 'host list', options: { json: { type: 'boolean' } }, help: 'hosts, whether they are up, what they run' },
  remove: {
    words: 'host remove',
    args: 'NAME',
    options: { force: { type: 'boolean' } },
    help: 'forget a host (--force: even with instances on it)',
  },
  disable: {
    words: 'host disable',
    args: 'NAME',
    options: { reason: { type: 'string', value: 'TEXT' } },
    help: 'the scheduler places no new instances there',
  },
  enable: { words: 'host enable', args: 'NAME', help: 'the scheduler places instances there again' },
  drain: HOST_DRAIN,
  'enrol-local': {
    words: 'host enrol-local',
    options: { 'no-libvirt-tls': { type: 'boolean' }, 'libvirtd-pid-file': { type: 'string', value: 'F' } },
    help: "enrol this machine's agent (agent.toml's credential_file, created if absent) with its certificate from the cloud's CA; with the compute role, libvirt's TLS too",
  },
  enrol: {
    words: 'host enrol',
    options: {
      name: { type: 'string', value: 'N' },
      url: { type: 'string', value: 'U' },
      'secret-file': { type: 'string', value: 'F' },
    },
    optionsText: '--name N --url U --secret-file F',
    help: "enrol another host by hand (the secret file is created if absent; copy it to the host's credential_file)",
  },
};

export async function hostCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const spec = sub ? HOST_COMMANDS[sub] : undefined;
  if (!spec) {
    process.stderr.write(`usage:\n${usageText(Object.values(HOST_COMMANDS))}`);
    return 2;
  }
  let a: ReturnType<typeof parseCommand>;
  try {
    a = parseCommand(spec, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e);
    throw e;
  }
  const json = a.values.json === true;
  switch (sub) {
    case 'list': {
      const ctx = openContext(argv);
      try {
        const reg = new HostRegistry(ctx.db, ctx.config);
        // Usage: placement's allocations (what the scheduler counts) and the last heartbeat's figures.
        const c = ctx.config.compute;
        const alloc = new Placement(ctx.db, {
          cpu: c.cpu_allocation_ratio,
          ram: c.ram_allocation_ratio,
          disk: c.disk_allocation_ratio,
        }).usageAll();
        printTable(
          reg.list().map((h) => ({
            instances: alloc.get(h.id)?.instances ?? 0,
            vcpus_used: alloc.get(h.id)?.vcpus ?? 0,
            memory_mb_used: alloc.get(h.id)?.memory_mb ?? 0,
            load1: (h.usage as { load1?: number }).load1 ?? '',
            id: h.id,
            name: h.name,
            state: h.state,
            enabled: h.enabled,
            roles: h.roles.join(','),
            vcpus: h.vcpus,
            memory_mb: h.memory_mb,
            disk_gb: h.disk_gb,
            agent_url: h.agent_url,
            last_heartbeat: h.last_heartbeat_at ?? '',
            agent_version: agentVersionNote(homestackVersion(), h.agent_version),
            unavailable_roles: Object.keys((h.capabilities as { unavailable_roles?: object }).unavailable_roles ?? {}).join(','),
          })),
          [
            'id',
            'name',
            'state',
            'enabled',
            'roles',
            'unavailable_roles',
            'instances',
            'vcpus_used',
            'vcpus',
            'memory_mb_used',
            'memory_mb',
            'disk_gb',
            'load1',
            'agent_url',
            'last_heartbeat',
            'agent_version',
          ],
          json,
        );
      } finally {
        ctx.close();
      }
      return 0;
    }
    case 'enrol-local': {
      const h = await enrolLocal(argv, (m) => process.stdout.write(`${m}\n`));
      process.stdout.write(`enrolled ${h.name} (${h.id})\n`);
      return 0;
    }
    case 'enrol': {
      // homestack host enrol --name NAME --url http://addr:8001 --secret-file FILE
      const name = str(a.values, 'name');
      const url = str(a.values, 'url');
      const file = str(a.values, 'secret-file');
      if (!name || !url || !file) return usageFailure(new UsageError('give --name, --url and --secret-file', spec));
      const secret = ensureSecretFile(file);
      const ctx = openContext(argv);
      try {
        const h = new HostRegistry(ctx.db, ctx.config).enrol({ name, agentUrl: url, secret });
        process.stdout.write(`enrolled ${h.name} (${h.id}); secret in ${file}\n`);
      } finally {
        ctx.close();
      }
      return 0;
    }
    case 'add':
      return hostAdd(a.positionals[0]!, a.values, argv);
    case 'drain':
      return hostDrain(a.positionals[0]!, a.values);
    case 'remove': {
      const name = a.positionals[0]!;
      const ctx = openContext(argv);
      try {
        const reg = new HostRegistry(ctx.db, ctx.config);
        const h = reg.get(name);
        const n = new ServersRepo(ctx.db).countOnHost(h.id);
        if (n > 0 && a.values.force !== true) {
          process.stderr.write(
            `homestack host remove: ${h.name} runs ${n} instance(s); delete or move them first, or pass --force\n`,
          );
          return 1;
        }
        reg.remove(h.id);
        process.stdout.write(`removed ${h.name}${n ? ` (${n} instance(s) left without a host)` : ''}\n`);
      } finally {
        ctx.close();
      }
      return 0;
    }
    case 'disable':
    case 'enable': {
      const name = a.positionals[0]!;
      const ctx = openContext(argv);
      try {
        const h = new HostRegistry(ctx.db, ctx.config).setEnabled(name, sub === 'enable', str(a.values, 'reason') ?? null);
        process.stdout.write(
          `${h.name} ${h.enabled ? 'enabled' : 'disabled'} (the scheduler ${h.enabled ? 'places' : 'places no new'} instances there)\n`,
        );
      } finally {
        ctx.close();
      }
      return 0;
    }
    default:
      return 2;
  }
}
