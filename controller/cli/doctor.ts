import { existsSync } from 'node:fs';
import { access, constants, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { controllerTrust } from '../../agents/host/controller-trust.js';
import type { AgentConfig } from '../../shared/config/agent.js';
import { makeRunner, type Runner } from '../../shared/exec/run.js';
import { dnsmasq } from '../../shared/tools/dnsmasq.js';
import { lvm } from '../../shared/tools/lvm.js';
import { ovsVsctl } from '../../shared/tools/ovs-vsctl.js';
import { tgtadm } from '../../shared/tools/tgtadm.js';
import { virsh } from '../../shared/tools/virsh.js';
import { parsed, type CommandSpec } from './args.js';
import { agentConfig, controllerConfig, DEFAULT_CONTROLLER_CONFIG, dbPath, openContext } from './context.js';
import { ldapDoctorChecks } from './domain-commands.js';
import { apiTlsCheck } from './doctor-tls.js';

/** One prerequisite: ok / warn / fail, what was seen, and how to fix it. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface DoctorDeps {
  run: Runner;
  readFile: (p: string) => Promise<string>;
  /** Throws when the path is not readable and writable. */
  accessRw: (p: string) => Promise<void>;
  freeBytes: (p: string) => Promise<number>;
  fetch: (url: string) => Promise<{ status: number; date: string | null }>;
  now: () => number;
}

/** `ca`: what the agent trusts an https:// controller by (agents/host/controller-trust.ts). */
export const realDoctorDeps = (ca?: string[]): DoctorDeps => ({
  run: makeRunner(),
  readFile: (p) => readFile(p, 'utf8'),
  accessRw: (p) => access(p, constants.R_OK | constants.W_OK),
  freeBytes: async (p) => {
    const s = await statfs(p);
    return s.bavail * s.bsize;
  },
  fetch: async (url) => {
    const dispatcher = ca ? new Agent({ connect: { ca } }) : undefined;
    try {
      const r = await request(url, { dispatcher, signal: AbortSignal.timeout(5000) });
      await r.body.dump();
      const date = r.headers.date;
      return { status: r.statusCode, date: typeof date === 'string' ? date : null };
    } finally {
      await dispatcher?.close();
    }
  },
  now: () => Date.now(),
});

const ver = (n: number) => `${Math.floor(n / 1e6)}.${Math.floor(n / 1e3) % 1000}.${n % 1000}`;
const msg = (e: unknown) => ((e as Error).message ?? String(e)).split('\n').slice(-2).join(' ').slice(0, 300);

async function check(name: string, f: () => Promise<Omit<Check, 'name'>>, fix: string): Promise<Check> {
  try {
    return { name, ...(await f()) };
  } catch (e) {
    return { name, status: 'fail', detail: msg(e), fix };
  }
}

/** Runs every check the host's roles need; never throws. */
export async function runDoctor(config: AgentConfig, d: DoctorDeps): Promise<Check[]> {
  const roles = config.roles;
  const out: Check[] = [];
  if (roles.includes('compute')) {
    out.push(
      await check(
        'virtualisation',
        async () => {
          const cpu = await d.readFile('/proc/cpuinfo');
          const flag = /\b(vmx|svm)\b/.exec(cpu)?.[1];
          try {
            await d.accessRw('/dev/kvm');
          } catch {
            return {
              status: 'warn',
              detail: `${flag ? `CPU has ${flag}` : 'no vmx/svm flag'}; /dev/kvm is not usable, guests run under TCG (slow)`,
              fix: flag
                ? 'modprobe kvm_intel (or kvm_amd); check /dev/kvm is rw for root/libvirt-qemu'
                : 'enable VT-x/AMD-V (or nested virtualisation) in the firmware or hypervisor',
            };
          }
          return { status: 'ok', detail: `${flag ?? 'kvm'}; /dev/kvm usable` };
        },
        'check /proc/cpuinfo and /dev/kvm',
      ),
    );
    out.push(
      await check(
        'libvirt',
        async () => {
          const v = await virsh(d.run, { uri: config.compute.libvirt_uri, timeoutMs: 10_000 }).version();
          return {
            status: 'ok',
            detail: `${config.compute.libvirt_uri}: libvirt ${ver(v.libvirt)}, ${v.hypervisor} ${ver(v.version)}`,
          };
        },
        `start libvirtd (systemctl start libvirtd or homestack daemons start) and check compute.libvirt_uri = "${config.compute.libvirt_uri}"`,
      ),
    );
  }
  if (roles.includes('network')) {
    out.push(
      await check(
        'openvswitch',
        async () => {
          const br = await ovsVsctl(d.run).listBridges();
          let datapath = 'system (kernel module)';
          try {
            await d.readFile('/sys/module/openvswitch/refcnt');
          } catch {
            datapath = 'netdev (userspace): no openvswitch kernel module';
          }
          return { status: 'ok', detail: `bridges: ${br.join(', ') || 'none yet'}; datapath ${datapath}` };
        },
        'start ovsdb-server and ovs-vswitchd (homestack daemons start); apt-get install openvswitch-switch',
      ),
    );
    out.push(
      await check(
        'dnsmasq',
        async () => ({ status: 'ok', detail: await dnsmasq(d.run).version() }),
        'apt-get install dnsmasq-base',
      ),
    );
    out.push(
      await check(
        'tunnel MTU',
        async () => {
          const j = JSON.parse(
            (await d.run('ip', ['-j', 'route', 'get', config.network.tunnel_ip || '8.8.8.8'])).stdout,
          ) as Array<{ dev?: string }>;
          const dev = j[0]?.dev ?? '';
          const mtu = Number((await d.readFile(`/sys/class/net/${dev}/mtu`)).trim());
          return mtu >= 1500
            ? { status: 'ok', detail: `underlay ${dev} MTU ${mtu} carries 1450 + 50 VXLAN overhead` }
            : {
                status: 'warn',
                detail: `underlay ${dev} MTU ${mtu} < 1500: tenant MTU 1450 + 50 overhead will fragment`,
                fix: `raise ${dev}'s MTU to 1500+ or lower the tenant network MTU to ${mtu - 50}`,
              };
        },
        'check the underlay interface (ip route get <tunnel_ip>)',
      ),
    );
  }
  if (roles.includes('volume')) {
    out.push(
      await check(
        'iscsi target',
        async () => {
          await tgtadm(d.run).show();
          return { status: 'ok', detail: 'tgtadm answers' };
        },
        'start tgtd (apt-get install tgt; homestack daemons start)',
      ),
    );
    if (config.volume.backend === 'lvm') {
      out.push(
        await check(
          'volume group',
          async () => {
            const vg = await lvm(d.run).vg(config.volume.volume_group);
            return { status: 'ok', detail: `${vg.name}: ${(vg.freeBytes / 2 ** 30).toFixed(1)} GiB free` };
          },
          `create it: pvcreate /dev/XXX && vgcreate ${config.volume.volume_group} /dev/XXX (or set volume.backend = "file")`,
        ),
      );
    }
  }
  const dirs = new Set([
    config.data_dir,
    ...(roles.includes('volume') && config.volume.backend === 'file'
      ? [config.volume.file_dir || join(config.data_dir, 'volumes')]
      : []),
  ]);
  for (const dir of dirs) {
    out.push(
      await check(
        `disk ${dir}`,
        async () => {
          const free = await d.freeBytes(dir);
          const gib = free / 2 ** 30;
          return gib >= 5
            ? { status: 'ok', detail: `${gib.toFixed(1)} GiB free` }
            : { status: 'warn', detail: `only ${gib.toFixed(1)} GiB free`, fix: `free space under ${dir} or move data_dir` };
        },
        `create ${dir} (mkdir -p ${dir}) or fix data_dir in agent.toml`,
      ),
    );
  }
  out.push(
    await check(
      'controller',
      async () => {
        const r = await d.fetch(`${config.controller_url.replace(/\/$/, '')}/v3`);
        const skew = r.date ? Math.abs(d.now() - Date.parse(r.date)) / 1000 : NaN;
        if (r.status >= 400)
          return {
            status: 'fail',
            detail: `${config.controller_url} answered ${r.status}`,
            fix: 'check controller_url and the controller log',
          };
        if (!(skew < 30))
          return {
            status: 'warn',
            detail: `reachable; clock skew ${Number.isNaN(skew) ? 'unknown (no Date header)' : `${skew.toFixed(0)} s`}`,
            fix: 'run an NTP client (systemd-timesyncd or chrony): tokens and heartbeats use wall-clock time',
          };
        return { status: 'ok', detail: `reachable; clock skew ${skew.toFixed(1)} s` };
      },
      `start the controller or fix controller_url = "${config.controller_url}" in agent.toml`,
    ),
  );
  return out;
}

export function formatChecks(checks: Check[]): string {
  return (
    checks
      .map(
        (c) =>
          `${c.status.toUpperCase().padEnd(4)} ${c.name}: ${c.detail}${c.fix && c.status !== 'ok' ? `\n     fix: ${c.fix}` : ''}`,
      )
      .join('\n') + '\n'
  );
}

export const DOCTOR: CommandSpec = {
  words: 'doctor',
  options: { json: { type: 'boolean' } },
  help: "check this host's prerequisites (agent.toml's roles) and say how to fix them",
};

export async function doctorCommand(_sub: string | undefined, argv: readonly string[]): Promise<number> {
  const a = parsed(DOCTOR, argv);
  if (typeof a === 'number') return a;
  const { config } = agentConfig(argv);
  let ca: string[] | undefined;
  try {
    ca = controllerTrust(config);
  } catch {
    ca = undefined; // a tls.ca_file that is missing: the controller check says what fails
  }
  const checks = [...(await runDoctor(config, realDoctorDeps(ca))), ...(await controllerChecks())];
  if (a.values.json === true) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  else process.stdout.write(formatChecks(checks));
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}

/**
 * On the controller's host (controller.toml from HOMESTACK_CONTROLLER_CONFIG or the default
 * path, and its database, present; doctor's own --config is agent.toml): how the API port
 * is served (doctor-tls.ts), one line per LDAP domain (reachable with its TLS and CA,
 * service bind, counts).
 */
async function controllerChecks(): Promise<Check[]> {
  const file = process.env.HOMESTACK_CONTROLLER_CONFIG || DEFAULT_CONTROLLER_CONFIG;
  if (!existsSync(file)) return [];
  try {
    const argv = ['--config', file];
    const config = controllerConfig(argv).config;
    const tls = apiTlsCheck(config);
    if (!existsSync(dbPath(config))) return [tls];
    const ctx = openContext(argv);
    try {
      return [tls, ...(await ldapDoctorChecks(ctx))];
    } finally {
      ctx.close();
    }
  } catch (e) {
    return [{ name: 'ldap domains', status: 'fail', detail: msg(e), fix: `check ${file}` }];
  }
}
