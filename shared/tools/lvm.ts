import { ToolError, type Runner } from '../exec/run.js';

/**
 * LVM2, the one module that runs lvcreate/lvs/... (house style 3.5): JSON reports
 * (`--reportformat json --units b --nosuffix`), sizes in bytes, names checked before
 * they reach argv. `extraConfig` is passed as `--config` to every command (tests use
 * `global{activation=0}` on hosts without device-mapper: metadata operations only).
 */

export interface Lv {
  name: string;
  sizeBytes: number;
  attr: string;
  /** Origin of a snapshot ('' otherwise). */
  origin: string;
  /** Thin pool of a thin LV ('' otherwise). */
  pool: string;
}

export interface Vg {
  name: string;
  sizeBytes: number;
  freeBytes: number;
}

export class LvmError extends Error {
  constructor(
    readonly code: 'LvNotFound' | 'VgNotFound' | 'LvExists' | 'NoSpace' | 'Failed',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'LvmError';
  }
}

const NAME_RE = /^[A-Za-z0-9+_][A-Za-z0-9+_.-]{0,126}$/;
const check = (what: string, s: string) => {
  if (!NAME_RE.test(s) || s === '.' || s === '..') throw new LvmError('Failed', `bad ${what} name ${JSON.stringify(s)}`);
  return s;
};
const bytes = (n: number) => {
  if (!Number.isSafeInteger(n) || n <= 0 || n % 512 !== 0)
    throw new LvmError('Failed', `bad size ${n} (positive multiple of 512 bytes)`);
  return `${n}b`;
};

/** Parses `lvs --reportformat json` with lv_name,lv_size,lv_attr,origin,pool_lv. */
export function parseLvs(stdout: string): Lv[] {
  const j = JSON.parse(stdout) as { report?: Array<{ lv?: Array<Record<string, string>> }> };
  return (j.report?.[0]?.lv ?? []).map((r) => ({
    name: r.lv_name ?? '',
    sizeBytes: Number(r.lv_size ?? 0),
    attr: r.lv_attr ?? '',
    origin: r.origin ?? '',
    pool: r.pool_lv ?? '',
  }));
}

/**
 * Parses `lvs --reportformat json` with lv_size,data_percent of one thin pool. The
 * percentage is null when LVM reports none (an inactive pool).
 */
export function parsePoolUsage(stdout: string): { sizeBytes: number; dataPercent: number | null } | null {
  const j = JSON.parse(stdout) as { report?: Array<{ lv?: Array<Record<string, string>> }> };
  const r = j.report?.[0]?.lv?.[0];
  if (!r) return null;
  const p = r.data_percent;
  return { sizeBytes: Number(r.lv_size ?? 0), dataPercent: p === undefined || p.trim() === '' ? null : Number(p) };
}

/** Parses `vgs --reportformat json` with vg_name,vg_size,vg_free. */
export function parseVgs(stdout: string): Vg[] {
  const j = JSON.parse(stdout) as { report?: Array<{ vg?: Array<Record<string, string>> }> };
  return (j.report?.[0]?.vg ?? []).map((r) => ({
    name: r.vg_name ?? '',
    sizeBytes: Number(r.vg_size ?? 0),
    freeBytes: Number(r.vg_free ?? 0),
  }));
}

function mapError(e: unknown, what: string): never {
  if (e instanceof ToolError) {
    const m = e.stderrTail;
    if (/Failed to find logical volume|not found in Volume group|One or more specified logical volume\(s\) not found/i.test(m))
      throw new LvmError('LvNotFound', `${what}: ${m}`, e);
    if (/Volume group "[^"]*" not found|Cannot process volume group/i.test(m))
      throw new LvmError('VgNotFound', `${what}: ${m}`, e);
    if (/already exists/i.test(m)) throw new LvmError('LvExists', `${what}: ${m}`, e);
    if (/Insufficient free space|insufficient suitable/i.test(m)) throw new LvmError('NoSpace', `${what}: ${m}`, e);
    throw new LvmError('Failed', `${what}: ${m || e.message}`, e);
  }
  throw e;
}

export interface LvmOptions {
  /** Passed as `--config` to every command (e.g. 'global{activation=0}'). */
  extraConfig?: string;
  timeoutMs?: number;
}

export const lvm = (run: Runner, o: LvmOptions = {}) => {
  const cfg = o.extraConfig ? ['--config', o.extraConfig] : [];
  const env = { LVM_SUPPRESS_FD_WARNINGS: '1' };
  const exec = async (
    cmd: 'lvs' | 'vgs' | 'lvcreate' | 'lvremove' | 'lvextend' | 'vgcreate' | 'pvcreate' | 'vgremove' | 'lvm',
    args: string[],
    what: string,
  ) => {
    try {
      return (
        await run(cmd, [...(cmd === 'lvm' ? [args[0]!, ...cfg, ...args.slice(1)] : [...cfg, ...args])], {
          timeoutMs: o.timeoutMs ?? 60_000,
          env,
        })
      ).stdout;
    } catch (e) {
      return mapError(e, what);
    }
  };
  /** With activation disabled there is nothing to activate or zero. */
  const noActivation = /activation\s*=\s*0/.test(o.extraConfig ?? '');
  const act = noActivation ? ['--activate', 'n', '--zero', 'n'] : [];
  return {
    async listLvs(vg: string): Promise<Lv[]> {
      return parseLvs(
        await exec(
          'lvs',
          [
            '--reportformat',
            'json',
            '--units',
            'b',
            '--nosuffix',
            '-o',
            'lv_name,lv_size,lv_attr,origin,pool_lv',
            check('VG', vg),
          ],
          `list LVs of ${vg}`,
        ),
      );
    },
    /** A thin pool's size and how much of its data space is in use (LvNotFound when absent). */
    async poolUsage(vg: string, pool: string): Promise<{ sizeBytes: number; dataPercent: number | null }> {
      const r = parsePoolUsage(
        await exec(
          'lvs',
          [
            '--reportformat',
            'json',
            '--units',
            'b',
            '--nosuffix',
            '-o',
            'lv_size,data_percent',
            `${check('VG', vg)}/${check('pool', pool)}`,
          ],
          `show thin pool ${vg}/${pool}`,
        ),
      );
      if (!r) throw new LvmError('LvNotFound', `thin pool ${vg}/${pool} not found`);
      return r;
    },
    async vg(vg: string): Promise<Vg> {
      const r = parseVgs(
        await exec(
          'vgs',
          ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_name,vg_size,vg_free', check('VG', vg)],
          `show VG ${vg}`,
        ),
      );
      if (!r[0]) throw new LvmError('VgNotFound', `volume group ${vg} not found`);
      return r[0];
    },
    /** A thick LV of sizeBytes; signatures wiped. */
    create: (vg: string, name: string, sizeBytes: number) =>
      exec(
        'lvcreate',
        ['--yes', ...act, '--wipesignatures', 'y', '--name', check('LV', name), '--size', bytes(sizeBytes), check('VG', vg)],
        `create LV ${vg}/${name}`,
      ).then(() => {}),
    /** A thin LV of virtual size sizeBytes in `pool`. */
    createThin: (vg: string, pool: string, name: string, sizeBytes: number) =>
      exec(
        'lvcreate',
        [
          '--yes',
          ...(noActivation ? ['--activate', 'n'] : []),
          '--type',
          'thin',
          '--name',
          check('LV', name),
          '--virtualsize',
          bytes(sizeBytes),
          '--thinpool',
          check('pool', pool),
          check('VG', vg),
        ],
        `create thin LV ${vg}/${name}`,
      ).then(() => {}),
    /** A thin pool of sizeBytes (setup; init() checks it exists). */
    createThinPool: (vg: string, pool: string, sizeBytes: number) =>
      exec(
        'lvcreate',
        ['--yes', ...act, '--type', 'thin-pool', '--name', check('pool', pool), '--size', bytes(sizeBytes), check('VG', vg)],
        `create thin pool ${vg}/${pool}`,
      ).then(() => {}),
    /**
     * A snapshot of `origin`: thick (copy-on-write area of cowBytes) or, when cowBytes
     * is null, a thin snapshot (origin in a thin pool), activated with -K when needed.
     */
    snapshot: (vg: string, origin: string, name: string, cowBytes: number | null) =>
      exec(
        'lvcreate',
        [
          '--yes',
          ...(noActivation ? ['--activate', 'n'] : []),
          '--snapshot',
          '--name',
          check('LV', name),
          ...(cowBytes === null ? ['--setactivationskip', 'n'] : ['--size', bytes(cowBytes)]),
          `${check('VG', vg)}/${check('LV', origin)}`,
        ],
        `snapshot ${vg}/${origin}`,
      ).then(() => {}),
    /** Grows an LV to sizeBytes (lvextend refuses a shrink). */
    extend: (vg: string, name: string, sizeBytes: number) =>
      exec('lvextend', ['--size', bytes(sizeBytes), `${check('VG', vg)}/${check('LV', name)}`], `extend LV ${vg}/${name}`).then(
        () => {},
      ),
    /** Removes an LV; LvNotFound if absent (callers that want idempotency catch it). */
    remove: (vg: string, name: string) =>
      exec('lvremove', ['--yes', `${check('VG', vg)}/${check('LV', name)}`], `remove LV ${vg}/${name}`).then(() => {}),
    pvcreate: (dev: string) => exec('pvcreate', ['--yes', dev], `pvcreate ${dev}`).then(() => {}),
    vgcreate: (vg: string, devs: string[]) => exec('vgcreate', [check('VG', vg), ...devs], `create VG ${vg}`).then(() => {}),
    vgremove: (vg: string) => exec('vgremove', ['--yes', check('VG', vg)], `remove VG ${vg}`).then(() => {}),
    pvremove: (dev: string) => exec('lvm', ['pvremove', '--yes', dev], `pvremove ${dev}`).then(() => {}),
    /** /dev/<vg>/<lv>: where an active LV appears. */
    devicePath: (vg: string, name: string) => `/dev/${check('VG', vg)}/${check('LV', name)}`,
  };
};

export type Lvm = ReturnType<typeof lvm>;
