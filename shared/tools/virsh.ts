import { ToolError, type Runner } from '../exec/run.js';

/**
 * virsh, the one module that runs it (house style 3.5). The compute agent talks to
 * libvirt through @unraid/libvirt for what that binding has (define, start, destroy,
 * shutdown, suspend/resume, lookups, XML, info) and through this module for what it
 * lacks: reboot, reset, managed save, device hot(un)plug, secrets, undefine with
 * flags, and `domstate --reason` (parsed in exactly one function, below).
 *
 * Domains are addressed by UUID or by a checked name; XML is always passed as a file
 * path (never on argv); secret values go through a file (never argv), and callers
 * also pass them in `redact`.
 */

export class VirshError extends Error {
  constructor(
    message: string,
    readonly notFound: boolean,
    readonly invalidState: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'VirshError';
  }
}

const DOM_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ALIAS_RE = /^ua-[A-Za-z0-9_-]{1,120}$/;

function checkDom(d: string): string {
  if (!DOM_RE.test(d)) throw new VirshError(`bad domain identifier: ${JSON.stringify(d)}`, false, false);
  return d;
}
function checkUuid(u: string): string {
  if (!UUID_RE.test(u)) throw new VirshError(`bad uuid: ${JSON.stringify(u)}`, false, false);
  return u;
}
function checkPath(p: string): string {
  if (!p.startsWith('/') || /[\0\n\r]/.test(p)) throw new VirshError(`bad path: ${JSON.stringify(p)}`, false, false);
  return p;
}

/** libvirt's state words as `virsh domstate` prints them. */
export type DomStateWord = 'running' | 'idle' | 'paused' | 'in shutdown' | 'shut off' | 'crashed' | 'pmsuspended' | 'no state';

export interface DomState {
  state: DomStateWord;
  /** The reason word, e.g. booted, user, destroyed, shutdown, saved; null when not printed. */
  reason: string | null;
}

const STATES: readonly DomStateWord[] = [
  'running',
  'idle',
  'paused',
  'in shutdown',
  'shut off',
  'crashed',
  'pmsuspended',
  'no state',
];

/** Parses `virsh domstate [--reason]` output ("shut off (destroyed)"). The one parser. */
export function parseDomState(stdout: string): DomState {
  const line =
    stdout
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l) ?? '';
  const m = /^([a-z ]+?)(?:\s+\(([^)]*)\))?$/.exec(line);
  const word = m?.[1]?.trim() as DomStateWord | undefined;
  if (!m || !word || !STATES.includes(word))
    throw new VirshError(`unexpected domstate output: ${JSON.stringify(line)}`, false, false);
  return { state: word, reason: m[2]?.trim() || null };
}

/** Parses `virsh dominfo` into key → value ("Managed save" → "yes"). */
export function parseDomInfo(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of stdout.split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return out;
}

/** Parses `virsh version`: the hypervisor as Nova's integer (QEMU 7.2.22 → 7002022) and name. */
export function parseVersion(stdout: string): { hypervisor: string; version: number; libvirt: number } {
  const enc = (v: string | undefined) => {
    const [a = 0, b = 0, c = 0] = (v ?? '').split('.').map((x) => Number(x) || 0);
    return a * 1_000_000 + b * 1000 + c;
  };
  const hv = /Running hypervisor:\s*(\S+)\s+([\d.]+)/.exec(stdout);
  const lib = /Using library:\s*libvirt\s+([\d.]+)/.exec(stdout);
  return { hypervisor: hv?.[1] ?? 'QEMU', version: enc(hv?.[2]), libvirt: enc(lib?.[1]) };
}

/** Maps virsh's error text to a typed error. */
export function mapVirshError(e: unknown, what: string): unknown {
  if (!(e instanceof ToolError)) return e;
  const t = e.stderrTail;
  const notFound =
    /failed to get domain|Domain not found|no domain with matching|Secret not found|no secret with matching|could not find (the )?device|no device found|matching device not found|not found/i.test(
      t,
    );
  const invalidState =
    /domain is not running|is not running|not paused|already running|Requested operation is not valid|domain is already active/i.test(
      t,
    );
  return new VirshError(`${what}: ${t || e.message}`, notFound, invalidState, e);
}

/** Per-domain counters from `virsh domstats --raw` (sums over the domain's NICs and disks). */
export interface DomStats {
  name: string;
  cpuTimeNs: number;
  /** balloon.current and balloon.rss, KiB (0 when not reported). */
  memoryKiB: number;
  rssKiB: number;
  netRxBytes: number;
  netTxBytes: number;
  blockReadBytes: number;
  blockWriteBytes: number;
  /** Sum of block.N.allocation (bytes the disks occupy on the host). */
  blockAllocationBytes: number;
}

/** Parses `virsh domstats --raw` (blocks of `Domain: 'name'` then indented key=value lines). */
export function parseDomStats(stdout: string): DomStats[] {
  const out: DomStats[] = [];
  let cur: DomStats | undefined;
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const dom = /^Domain: '(.*)'$/.exec(line);
    if (dom) {
      cur = {
        name: dom[1]!,
        cpuTimeNs: 0,
        memoryKiB: 0,
        rssKiB: 0,
        netRxBytes: 0,
        netTxBytes: 0,
        blockReadBytes: 0,
        blockWriteBytes: 0,
        blockAllocationBytes: 0,
      };
      out.push(cur);
      continue;
    }
    const kv = /^([a-z0-9_.-]+)=(.*)$/i.exec(line);
    if (!cur || !kv) continue;
    const key = kv[1]!;
    const n = Number(kv[2]);
    if (!Number.isFinite(n)) continue;
    if (key === 'cpu.time') cur.cpuTimeNs = n;
    else if (key === 'balloon.current') cur.memoryKiB = n;
    else if (key === 'balloon.rss') cur.rssKiB = n;
    else if (/^net\.\d+\.rx\.bytes$/.test(key)) cur.netRxBytes += n;
    else if (/^net\.\d+\.tx\.bytes$/.test(key)) cur.netTxBytes += n;
    else if (/^block\.\d+\.rd\.bytes$/.test(key)) cur.blockReadBytes += n;
    else if (/^block\.\d+\.wr\.bytes$/.test(key)) cur.blockWriteBytes += n;
    else if (/^block\.\d+\.allocation$/.test(key)) cur.blockAllocationBytes += n;
  }
  return out;
}

export interface MigrateOptions {
  /** qemu+tls://<host>/system */
  destUri: string;
  /** tcp://<address> for the memory stream and the NBD disk copy (the destination's address, not its name). */
  dataUri?: string;
  /** Domain XML file for the destination. */
  xmlFile?: string;
  copyStorage: 'inc' | 'all' | 'none';
  /** Disks to copy (targets); never the network volumes (recipe §7.3). */
  migrateDisks?: string[];
  /** Overrides the URI of the runner (defaults to the virsh() one). */
  sourceUri?: string;
  timeoutMs: number;
}

const URI_RE = /^(qemu\+tls|qemu|tcp):\/\/[A-Za-z0-9.:[\]-]{1,255}(\/system)?$/;

/** `virsh migrate` argv (the one place its flags are chosen). */
export function migrateArgs(dom: string, o: MigrateOptions): string[] {
  for (const u of [o.destUri, o.dataUri].filter(Boolean) as string[])
    if (!URI_RE.test(u)) throw new VirshError(`bad migration URI ${JSON.stringify(u)}`, false, false);
  const disks = o.migrateDisks ?? [];
  for (const d of disks) if (!/^[a-z]{2,3}[a-z0-9]{1,4}$/.test(d)) throw new VirshError(`bad disk target ${d}`, false, false);
  return [
    'migrate',
    '--live',
    '--p2p',
    '--persistent',
    '--undefinesource',
    '--tls',
    '--abort-on-error',
    ...(o.copyStorage === 'inc' ? ['--copy-storage-inc'] : o.copyStorage === 'all' ? ['--copy-storage-all'] : []),
    ...(o.copyStorage !== 'none' && disks.length ? ['--migrate-disks', disks.join(',')] : []),
    ...(o.xmlFile ? ['--xml', checkPath(o.xmlFile)] : []),
    ...(o.dataUri ? ['--migrateuri', o.dataUri, ...(o.copyStorage !== 'none' ? ['--disks-uri', o.dataUri] : [])] : []),
    dom,
    o.destUri,
  ];
}

/** A migration job's figures (bytes, ms). */
export interface JobInfo {
  type: string;
  operation: string;
  timeElapsedMs: number;
  memoryTotal: number;
  memoryProcessed: number;
  memoryRemaining: number;
  diskTotal: number;
  diskProcessed: number;
  diskRemaining: number;
  downtimeMs: number | null;
}

/**
 * Parses `virsh domjobinfo --rawstats` (libvirt 9: `Job type: <n>` then `key: value` lines of
 * libvirt's typed parameters: memory_total, disk_processed, time_elapsed, downtime…).
 * Null when no job runs (type 0, or `None` in the human form).
 */
export function parseJobInfo(stdout: string): JobInfo | null {
  const raw: Record<string, number> = {};
  let type = '';
  for (const l of stdout.split('\n')) {
    const t = /^\s*Job type:\s*(\S+)/.exec(l);
    if (t) {
      type = t[1]!;
      continue;
    }
    const kv = /^\s*([a-z_.]+)(?::|=)\s*(-?\d+)\s*$/.exec(l);
    if (kv) raw[kv[1]!] = Number(kv[2]);
  }
  if (!type || type === '0' || /^none$/i.test(type)) return null;
  const n = (k: string) => raw[k] ?? 0;
  return {
    type,
    operation: String(raw.operation ?? ''),
    timeElapsedMs: n('time_elapsed'),
    memoryTotal: n('memory_total'),
    memoryProcessed: n('memory_processed'),
    memoryRemaining: n('memory_remaining'),
    diskTotal: n('disk_total'),
    diskProcessed: n('disk_processed'),
    diskRemaining: n('disk_remaining'),
    downtimeMs: 'downtime' in raw ? n('downtime') : null,
  };
}

export interface VirshOptions {
  uri: string;
  timeoutMs?: number;
}

export const virsh = (run: Runner, o: VirshOptions) => {
  const uri = o.uri;
  const exec = async (what: string, args: string[], ro: { timeoutMs?: number; redact?: string[] } = {}) => {
    try {
      return await run('virsh', ['-c', o.uri, ...args], { timeoutMs: ro.timeoutMs ?? o.timeoutMs ?? 60_000, redact: ro.redact });
    } catch (e) {
      throw mapVirshError(e, what);
    }
  };
  const devFlags = (f: { live?: boolean; config?: boolean }) => [
    ...(f.live ? ['--live'] : []),
    ...(f.config ? ['--config'] : []),
  ];

  return {
    version: async () => parseVersion((await exec('version', ['version'])).stdout),
    /** Counters of every running domain (cpu, balloon, interface, block). */
    domstats: async (): Promise<DomStats[]> =>
      parseDomStats(
        (
          await exec('domstats', ['domstats', '--raw', '--cpu-total', '--balloon', '--interface', '--block'], {
            timeoutMs: 20_000,
          })
        ).stdout,
      ),
    /** State and reason. Throws VirshError{notFound} when there is no such domain. */
    async domstate(dom: string): Promise<DomState> {
      return parseDomState((await exec('domstate', ['domstate', checkDom(dom), '--reason'])).stdout);
    },
    async dominfo(dom: string): Promise<Record<string, string>> {
      return parseDomInfo((await exec('dominfo', ['dominfo', checkDom(dom)])).stdout);
    },
    /** True when a managed-save image exists. */
    async hasManagedSave(dom: string): Promise<boolean> {
      const info = parseDomInfo((await exec('dominfo', ['dominfo', checkDom(dom)])).stdout);
      return info['Managed save'] === 'yes';
    },
    /** Guest reboot through ACPI (needs a guest that handles the power button / ctrl-alt-del). */
    reboot: (dom: string, mode: 'acpi' | 'agent' = 'acpi') =>
      exec('reboot', ['reboot', checkDom(dom), '--mode', mode]).then(() => {}),
    /** Hardware reset (the guest OS gets no say). */
    reset: (dom: string) => exec('reset', ['reset', checkDom(dom)]).then(() => {}),
    /** Managed save: memory to disk, domain stops; the next start restores it. */
    managedSave: (dom: string, timeoutMs = 600_000) =>
      exec('managedsave', ['managedsave', checkDom(dom)], { timeoutMs }).then(() => {}),
    managedSaveRemove: (dom: string) => exec('managedsave-remove', ['managedsave-remove', checkDom(dom)]).then(() => {}),
    start: (dom: string, timeoutMs = 120_000) => exec('start', ['start', checkDom(dom)], { timeoutMs }).then(() => {}),
    destroy: (dom: string) => exec('destroy', ['destroy', checkDom(dom)]).then(() => {}),
    /** Undefine the persistent config, with its managed-save image and NVRAM if any. */
    undefine: (dom: string) => exec('undefine', ['undefine', checkDom(dom), '--managed-save', '--nvram']).then(() => {}),
    attachDevice: (dom: string, xmlFile: string, f: { live?: boolean; config?: boolean }) =>
      exec('attach-device', ['attach-device', checkDom(dom), checkPath(xmlFile), ...devFlags(f)]).then(() => {}),
    detachDevice: (dom: string, xmlFile: string, f: { live?: boolean; config?: boolean }) =>
      exec('detach-device', ['detach-device', checkDom(dom), checkPath(xmlFile), ...devFlags(f)]).then(() => {}),
    detachDeviceAlias: (dom: string, alias: string, f: { live?: boolean; config?: boolean }) => {
      if (!ALIAS_RE.test(alias)) throw new VirshError(`bad device alias: ${JSON.stringify(alias)}`, false, false);
      return exec('detach-device-alias', ['detach-device-alias', checkDom(dom), alias, ...devFlags(f)]).then(() => {});
    },
    /** The domain's XML as a destination host must receive it (`dumpxml --migratable`). */
    dumpxmlMigratable: async (dom: string): Promise<string> =>
      (await exec('dumpxml', ['dumpxml', '--migratable', checkDom(dom)])).stdout,
    /**
     * Live migration, peer-to-peer over TLS, persistent on the destination and undefined
     * here on success (live-migration recipe §6.1, §7.3). Errors are not mapped: the
     * caller reports libvirt's words (ToolError.stderrTail).
     */
    migrate: (dom: string, o: MigrateOptions) =>
      run('virsh', ['-c', o.sourceUri ?? uri, ...migrateArgs(checkDom(dom), o)], { timeoutMs: o.timeoutMs }),
    /** Job statistics (`domjobinfo --rawstats`), or null when no job runs. */
    async domjobinfo(dom: string, o: { completed?: boolean } = {}): Promise<JobInfo | null> {
      const args = ['domjobinfo', checkDom(dom), '--rawstats', ...(o.completed ? ['--completed', '--keep-completed'] : [])];
      return parseJobInfo((await exec('domjobinfo', args, { timeoutMs: 15_000 })).stdout);
    },
    /** Aborts the domain's current job (a migration); VirshError{invalidState} when none runs. */
    domjobabort: (dom: string) => exec('domjobabort', ['domjobabort', checkDom(dom)], { timeoutMs: 30_000 }).then(() => {}),
    /** A non-maskable interrupt to the guest (trigger_crash_dump). */
    injectNmi: (dom: string) => exec('inject-nmi', ['inject-nmi', checkDom(dom)], { timeoutMs: 30_000 }).then(() => {}),
    /** Pauses the vCPUs (also while a migration runs, unlike the serialised driver calls). */
    suspend: (dom: string) => exec('suspend', ['suspend', checkDom(dom)], { timeoutMs: 30_000 }).then(() => {}),
    /** The most a live migration may pause the guest at the switch-over (ms). */
    migrateSetMaxDowntime: (dom: string, ms: number) =>
      exec('migrate-setmaxdowntime', ['migrate-setmaxdowntime', checkDom(dom), String(Math.max(1, Math.floor(ms)))]).then(
        () => {},
      ),
    /** Defines (or redefines) a secret from an XML file carrying its <uuid>. */
    secretDefine: (xmlFile: string) => exec('secret-define', ['secret-define', checkPath(xmlFile)]).then(() => {}),
    /** Sets a secret's value from a file holding the plain value (never on argv). */
    secretSetValue: (uuid: string, valueFile: string) =>
      exec('secret-set-value', ['secret-set-value', checkUuid(uuid), '--file', checkPath(valueFile), '--plain']).then(() => {}),
    /** Removes a secret; succeeds when absent. */
    async secretUndefine(uuid: string): Promise<boolean> {
      try {
        await exec('secret-undefine', ['secret-undefine', checkUuid(uuid)]);
        return true;
      } catch (e) {
        if (e instanceof VirshError && e.notFound) return false;
        throw e;
      }
    },
  };
};

export type Virsh = ReturnType<typeof virsh>;
