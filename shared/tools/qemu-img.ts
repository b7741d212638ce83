import { ToolError, type Runner } from '../exec/run.js';

/**
 * qemu-img, the one module that runs it (house style 3.5): always `-f <format>` (never
 * let qemu guess a format from untrusted bytes), `--output=json` where there is
 * output, and `prlimit` address-space/CPU limits around commands that parse
 * untrusted images (the Nova rule: a crafted image must not be able to exhaust the
 * host while qemu-img reads it).
 */

/** Formats qemu-img is asked to read or write. */
export const QEMU_FORMATS = ['raw', 'qcow2', 'vmdk', 'vhdx', 'vpc', 'vdi', 'qed', 'parallels', 'luks'] as const;
export type QemuFormat = (typeof QEMU_FORMATS)[number];

/** Resource limits for qemu-img on untrusted images. */
export interface QemuImgLimits {
  /** Address space (bytes); Nova uses 1 GiB for info. */
  addressSpaceBytes: number;
  /** CPU seconds; omit for long-running work (convert). */
  cpuSeconds?: number;
}

export const INFO_LIMITS: QemuImgLimits = { addressSpaceBytes: 1024 ** 3, cpuSeconds: 30 };
export const CONVERT_LIMITS: QemuImgLimits = { addressSpaceBytes: 2 * 1024 ** 3 };

/** What `qemu-img info --output=json` says, in the fields callers use. */
export interface QemuImgInfo {
  format: string;
  virtualSize: number;
  actualSize: number | null;
  clusterSize: number | null;
  backingFilename: string | null;
  backingFormat: string | null;
  /** qcow2 external data file (format-specific data-file), if any. */
  dataFile: string | null;
  encrypted: boolean;
  dirty: boolean;
  /** The whole parsed document, for rare needs. */
  raw: Record<string, unknown>;
}

export class QemuImgError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'QemuImgError';
  }
}

/** Maps Glance's disk_format names to qemu-img's driver names (vhd is "vpc", iso is raw). */
export function qemuFormatOf(diskFormat: string): QemuFormat | null {
  switch (diskFormat) {
    case 'vhd':
      return 'vpc';
    case 'iso':
      return 'raw';
    case 'ploop':
      return 'parallels';
    case 'ami':
    case 'ari':
    case 'aki':
      return 'raw';
    default:
      return (QEMU_FORMATS as readonly string[]).includes(diskFormat) ? (diskFormat as QemuFormat) : null;
  }
}

function checkFormat(fmt: string): QemuFormat {
  if (!(QEMU_FORMATS as readonly string[]).includes(fmt))
    throw new QemuImgError(`unsupported image format: ${JSON.stringify(fmt)}`);
  return fmt as QemuFormat;
}

/** Absolute, printable, and never mistaken for an option. */
function checkPath(p: string): string {
  if (!p.startsWith('/') || /[\0\n\r]/.test(p) || p.length > 4096) throw new QemuImgError(`bad image path: ${JSON.stringify(p)}`);
  return p;
}

function checkSize(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new QemuImgError(`bad image size: ${n}`);
  return String(n);
}

/** prlimit argv around qemu-img. */
export function limitArgs(l: QemuImgLimits): string[] {
  const a = [`--as=${Math.floor(l.addressSpaceBytes)}`];
  if (l.cpuSeconds !== undefined) a.push(`--cpu=${Math.floor(l.cpuSeconds)}`);
  return [...a, '--', 'qemu-img'];
}

/** Parses `qemu-img info --output=json`; the one parser, tested on captured output. */
export function parseInfo(stdout: string): QemuImgInfo {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(stdout) as Record<string, unknown>;
  } catch (e) {
    throw new QemuImgError('qemu-img info printed something that is not JSON', e);
  }
  if (Array.isArray(j)) j = (j[0] ?? {}) as Record<string, unknown>; // --backing-chain
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const fs = (j['format-specific'] ?? {}) as { type?: string; data?: Record<string, unknown> };
  if (typeof j.format !== 'string' || typeof j['virtual-size'] !== 'number') {
    throw new QemuImgError('qemu-img info output lacks format or virtual-size');
  }
  return {
    format: j.format,
    virtualSize: j['virtual-size'],
    actualSize: num(j['actual-size']),
    clusterSize: num(j['cluster-size']),
    backingFilename: str(j['backing-filename']) ?? str(j['full-backing-filename']),
    backingFormat: str(j['backing-filename-format']),
    dataFile: str(fs.data?.['data-file']),
    encrypted: j.encrypted === true,
    dirty: j['dirty-flag'] === true,
    raw: j,
  };
}

export interface ConvertOptions {
  /** Limits for untrusted sources (default CONVERT_LIMITS); false for none. */
  limits?: QemuImgLimits | false;
  timeoutMs?: number;
  /** -S 0 etc. are not exposed; sparse output is qemu-img's default. */
  compress?: boolean;
  /** `-n`: write into an existing target (a block device) instead of creating it. */
  targetExists?: boolean;
}

export const qemuImg = (run: Runner) => {
  const exec = (args: string[], limits: QemuImgLimits | false, timeoutMs: number) =>
    limits ? run('prlimit', [...limitArgs(limits), ...args], { timeoutMs }) : run('qemu-img', args, { timeoutMs });

  return {
    /**
     * Reads an image's header. Idempotent, read-only; always under prlimit (the data
     * may be hostile). Throws QemuImgError when qemu-img cannot read it as `format`.
     */
    async info(path: string, format: string, o: { limits?: QemuImgLimits; timeoutMs?: number } = {}): Promise<QemuImgInfo> {
      const args = ['info', '-f', checkFormat(format), '--output=json', checkPath(path)];
      try {
        return parseInfo((await exec(args, o.limits ?? INFO_LIMITS, o.timeoutMs ?? 60_000)).stdout);
      } catch (e) {
        if (e instanceof ToolError) throw new QemuImgError(`qemu-img cannot read ${path} as ${format}: ${e.stderrTail}`, e);
        throw e;
      }
    },

    /**
     * Converts src (read as srcFmt) into dst. Not idempotent over a partial dst: on
     * failure the caller removes dst (qemu-img may leave a partial file).
     */
    async convert(src: string, srcFmt: string, dst: string, dstFmt: string, o: ConvertOptions = {}): Promise<void> {
      const args = ['convert', '-f', checkFormat(srcFmt), '-O', checkFormat(dstFmt)];
      if (o.compress) args.push('-c');
      if (o.targetExists) args.push('-n');
      args.push(checkPath(src), checkPath(dst));
      await exec(args, o.limits === undefined ? CONVERT_LIMITS : o.limits, o.timeoutMs ?? 3_600_000);
    },

    /**
     * Creates an image of sizeBytes, optionally as an overlay on `backing` (whose
     * format must be named). Overwrites an existing file at path.
     */
    async create(path: string, fmt: string, sizeBytes: number, backing?: { path: string; format: string }): Promise<void> {
      const args = ['create', '-q', '-f', checkFormat(fmt)];
      if (backing) args.push('-b', checkPath(backing.path), '-F', checkFormat(backing.format));
      args.push(checkPath(path), checkSize(sizeBytes));
      await run('qemu-img', args, { timeoutMs: 120_000 });
    },

    /**
     * Points a qcow2 overlay at another backing file without touching its data (`rebase
     * -u`): only correct when the new backing file holds the same bytes (the same image
     * in another host's cache). Idempotent.
     */
    async rebaseUnsafe(path: string, backing: { path: string; format: string }): Promise<void> {
      await run(
        'qemu-img',
        ['rebase', '-u', '-f', 'qcow2', '-b', checkPath(backing.path), '-F', checkFormat(backing.format), checkPath(path)],
        { timeoutMs: 60_000 },
      );
    },

    /** Grows (or with shrink, shrinks) an image to sizeBytes. Idempotent for the same size. */
    async resize(path: string, fmt: string, sizeBytes: number, o: { shrink?: boolean } = {}): Promise<void> {
      const args = ['resize', '-q', '-f', checkFormat(fmt)];
      if (o.shrink) args.push('--shrink');
      args.push(checkPath(path), checkSize(sizeBytes));
      await run('qemu-img', args, { timeoutMs: 120_000 });
    },
  };
};

export type QemuImg = ReturnType<typeof qemuImg>;
