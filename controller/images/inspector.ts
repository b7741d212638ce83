/**
 * Safe-format checks (what Glance added after CVE-2024-32498): the real format of an
 * upload is read from its first bytes (and its last 512, for a VHD footer) while the
 * data streams past, then checked against the declared disk_format and for features
 * that make an image reach outside itself (qcow2 backing or external data files,
 * VMDK extents in other files). Pure functions over buffers; no I/O.
 */

/** Bytes of the head kept for inspection: covers an ISO's volume descriptor and a VMDK's embedded descriptor. */
export const HEAD_BYTES = 1 << 20;
const TAIL_BYTES = 512;

export type DetectedFormat = 'raw' | 'qcow2' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'iso' | 'qed' | 'luks' | 'ploop';

export interface Inspection {
  format: DetectedFormat;
  /** Disk size the guest sees, from the header (null when the header does not say). */
  virtualSize: number | null;
  /** Why the image must not be activated (empty when it is safe). */
  problems: string[];
}

/**
 * Collects the head and tail of a stream chunk by chunk without keeping the rest and
 * without allocating per chunk (one head buffer, one tail buffer).
 */
export class FormatSniffer {
  private head: Buffer | null = null;
  private headLen = 0;
  private readonly tail = Buffer.alloc(TAIL_BYTES);
  private tailLen = 0;
  total = 0;

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headLen < HEAD_BYTES) {
      this.head ??= Buffer.allocUnsafe(HEAD_BYTES);
      this.headLen += chunk.copy(this.head, this.headLen, 0, Math.min(chunk.length, HEAD_BYTES - this.headLen));
    }
    if (chunk.length >= TAIL_BYTES) {
      chunk.copy(this.tail, 0, chunk.length - TAIL_BYTES);
      this.tailLen = TAIL_BYTES;
    } else {
      const keep = Math.min(this.tailLen, TAIL_BYTES - chunk.length);
      this.tail.copy(this.tail, 0, this.tailLen - keep, this.tailLen);
      chunk.copy(this.tail, keep);
      this.tailLen = keep + chunk.length;
    }
  }

  result(): Inspection {
    const head = this.head ? this.head.subarray(0, this.headLen) : Buffer.alloc(0);
    return inspect(head, this.tail.subarray(0, this.tailLen), this.total);
  }
}

const at = (b: Buffer, off: number, s: string) => b.length >= off + s.length && b.toString('latin1', off, off + s.length) === s;

/** Detects the format from the head and tail bytes and runs its safety checks. */
export function inspect(head: Buffer, tail: Buffer, size: number): Inspection {
  if (at(head, 0, 'QFI\xfb')) return inspectQcow2(head);
  if (at(head, 0, 'vhdxfile')) return { format: 'vhdx', virtualSize: null, problems: [] };
  if (at(head, 0, 'KDMV')) return inspectVmdkSparse(head);
  if (at(head, 0, '# Disk DescriptorFile') || looksLikeDescriptor(head)) return inspectVmdkDescriptor(head);
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) {
    return { format: 'vdi', virtualSize: head.length >= 0x178 ? safeNumber(head.readBigUInt64LE(0x170)) : null, problems: [] };
  }
  if (at(head, 0, 'conectix')) return { format: 'vhd', virtualSize: vhdSize(head), problems: [] };
  if (tail.length === TAIL_BYTES && at(tail, 0, 'conectix')) return { format: 'vhd', virtualSize: vhdSize(tail), problems: [] };
  if (at(head, 0, 'QED\0')) return { format: 'qed', virtualSize: null, problems: ['QED images are not supported'] };
  if (at(head, 0, 'LUKS\xba\xbe')) return { format: 'luks', virtualSize: null, problems: [] };
  if (at(head, 0, 'WithoutFreeSpace') || at(head, 0, 'WithouFreSpacExt'))
    return { format: 'ploop', virtualSize: null, problems: [] };
  if (at(head, 0x8001, 'CD001') || at(head, 0x8801, 'CD001') || at(head, 0x9001, 'CD001'))
    return { format: 'iso', virtualSize: size, problems: [] };
  return { format: 'raw', virtualSize: size, problems: [] };
}

/** Text (no control bytes in the first 4 KiB) with a createType line. */
function looksLikeDescriptor(head: Buffer): boolean {
  const text = head.toString('latin1', 0, Math.min(head.length, 4096));
  return !/[\0-\x08\x0e-\x1f\x7f-\xff]/.test(text) && /^\s*createType\s*=/m.test(text);
}

function safeNumber(v: bigint): number | null {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

function vhdSize(footer: Buffer): number | null {
  return footer.length >= 56 ? safeNumber(footer.readBigUInt64BE(48)) : null;
}

const QCOW2_EXT_DATA_FILE = 0x44415441;
const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;

/** qcow2: header fields are big-endian (docs/interop/qcow2.txt). */
function inspectQcow2(h: Buffer): Inspection {
  const problems: string[] = [];
  if (h.length < 72) return { format: 'qcow2', virtualSize: null, problems: ['qcow2 header is truncated'] };
  const version = h.readUInt32BE(4);
  const backingOffset = h.readBigUInt64BE(8);
  const virtualSize = safeNumber(h.readBigUInt64BE(24));
  if (version !== 2 && version !== 3) problems.push(`qcow2 version ${version} is not supported`);
  if (backingOffset !== 0n) problems.push('qcow2 image names a backing file');
  let extStart = 72;
  if (version >= 3) {
    if (h.length < 104) return { format: 'qcow2', virtualSize, problems: [...problems, 'qcow2 header is truncated'] };
    const incompat = h.readBigUInt64BE(72);
    if (incompat & QCOW2_INCOMPAT_DATA_FILE) problems.push('qcow2 image uses an external data file');
    extStart = h.readUInt32BE(100);
  }
  // Header extensions: {u32 type, u32 length, data padded to 8}, ending with type 0.
  let off = extStart;
  for (let i = 0; i < 256 && off + 8 <= h.length; i++) {
    const type = h.readUInt32BE(off);
    const len = h.readUInt32BE(off + 4);
    if (type === 0) break;
    if (type === QCOW2_EXT_DATA_FILE) problems.push('qcow2 image names an external data file');
    off += 8 + Math.ceil(len / 8) * 8;
  }
  return { format: 'qcow2', virtualSize, problems: [...new Set(problems)] };
}

/** VMDK create types whose data is all inside the one file. */
const SAFE_VMDK_TYPES = new Set(['monolithicSparse', 'streamOptimized']);

interface Descriptor {
  createType: string | null;
  extents: Array<{ access: string; type: string; file: string | null }>;
}

export function parseVmdkDescriptor(text: string): Descriptor {
  const d: Descriptor = { createType: null, extents: [] };
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    const ct = /^createType\s*=\s*"?([^"]*)"?/.exec(l);
    if (ct) d.createType = ct[1]!;
    const ex = /^(RW|RDONLY|NOACCESS)\s+\d+\s+(\w+)(?:\s+"([^"]*)")?/.exec(l);
    if (ex) d.extents.push({ access: ex[1]!, type: ex[2]!, file: ex[3] ?? null });
  }
  return d;
}

/** A sparse VMDK (KDMV, little-endian) with its descriptor embedded at descriptorOffset. */
function inspectVmdkSparse(h: Buffer): Inspection {
  if (h.length < 44) return { format: 'vmdk', virtualSize: null, problems: ['VMDK header is truncated'] };
  const virtualSize = safeNumber(h.readBigUInt64LE(12) * 512n);
  const descOff = Number(h.readBigUInt64LE(28)) * 512;
  const descLen = Number(h.readBigUInt64LE(36)) * 512;
  if (!descOff || !descLen) return { format: 'vmdk', virtualSize, problems: ['VMDK has no embedded descriptor'] };
  if (descOff + descLen > h.length) {
    return { format: 'vmdk', virtualSize, problems: ['VMDK descriptor lies beyond the inspected region'] };
  }
  const text = h.toString('latin1', descOff, descOff + descLen).split('\0')[0]!;
  return { format: 'vmdk', virtualSize, problems: vmdkProblems(parseVmdkDescriptor(text), true) };
}

/** A descriptor-only VMDK: its data are always in other files. */
function inspectVmdkDescriptor(h: Buffer): Inspection {
  const d = parseVmdkDescriptor(h.toString('latin1').split('\0')[0]!);
  const problems = vmdkProblems(d, false);
  if (!problems.length) problems.push('VMDK descriptor refers to extents outside the image');
  return { format: 'vmdk', virtualSize: null, problems };
}

function vmdkProblems(d: Descriptor, embedded: boolean): string[] {
  const p: string[] = [];
  if (!d.createType || !SAFE_VMDK_TYPES.has(d.createType))
    p.push(`VMDK createType ${JSON.stringify(d.createType)} is not allowed`);
  if (d.extents.length !== 1) p.push('VMDK refers to extents outside the image');
  else if (!embedded || d.extents[0]!.type !== 'SPARSE') p.push('VMDK refers to extents outside the image');
  return [...new Set(p)];
}

/** Glance disk_format → the detected formats whose bytes it may hold. */
const ACCEPTS: Record<string, readonly DetectedFormat[] | null> = {
  raw: ['raw', 'iso'],
  iso: ['iso'],
  qcow2: ['qcow2'],
  vmdk: ['vmdk'],
  vhd: ['vhd'],
  vhdx: ['vhdx'],
  vdi: ['vdi'],
  ploop: ['ploop'],
  ami: ['raw'],
  ari: ['raw'],
  aki: ['raw'],
};

/** Why data detected as `i.format` may not be activated as `declared` (empty = fine). */
export function refusals(declared: string | null, i: Inspection): string[] {
  const out = [...i.problems];
  const ok = declared ? ACCEPTS[declared] : null;
  if (declared && ok && !ok.includes(i.format)) {
    out.unshift(`Image data is not in the declared disk_format ${declared} (it looks like ${i.format})`);
  }
  return out;
}
