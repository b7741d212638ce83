import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { CloudError } from '../../../shared/errors/index.js';
import { compressChunk, decompressChunk, type Compression } from './codec.js';
import type { BackupTarget } from './target.js';

/**
 * The chunked backup format (modelled on Cinder's ChunkedBackupDriver, with the change
 * tracking unit and the object being the same thing, a chunk):
 *
 * - The volume is cut into chunks of `chunk_size` bytes (the last may be shorter).
 *   Object `<prefix>-<chunk index + 1, 5+ digits>` holds one chunk, compressed.
 * - `<prefix>_sha256file` lists the SHA-256 of every chunk of the volume as it was
 *   (the next incremental compares against it, as Cinder's sha256file).
 * - `<prefix>_metadata` (written last: a backup without it is incomplete and never
 *   restored) lists this backup's objects with offset, length, compression, the
 *   SHA-256 of the data and of the stored bytes, and the chunks that became all zeros.
 * - A full backup stores every chunk that is not all zeros; an incremental stores the
 *   chunks whose SHA-256 differs from its parent's list (zeros are recorded, not stored).
 * - A restore walks the chain from the newest backup to the full one and writes each
 *   chunk once, from the newest backup that has it; every stored object is checked
 *   against its SHA-256 before anything is written from it.
 */
export const FORMAT_VERSION = 'homestack-chunked-1';

export interface BackupRef {
  id: string;
  container: string;
  /** The object name prefix (Cinder's backup.service_metadata). */
  service_metadata: string;
}

export interface ObjectEntry {
  name: string;
  index: number;
  offset: number;
  length: number;
  compression: Compression;
  sha256: string;
  stored_sha256: string;
  stored_length: number;
}

export interface BackupMetadata {
  version: string;
  backup_id: string;
  volume_id: string;
  parent_id: string | null;
  backup_name: string | null;
  backup_description: string | null;
  created_at: string;
  size_bytes: number;
  chunk_size: number;
  objects: ObjectEntry[];
  /** Chunks that were data in the parent and are all zeros now. */
  zeros: number[];
}

interface ShaFile {
  version: string;
  backup_id: string;
  volume_id: string;
  chunk_size: number;
  size_bytes: number;
  sha256s: string[];
}

const CODES = { InvalidBackup: 400, BackupCorrupt: 500, BackupIncomplete: 500, BackupCancelled: 409 };

/** A format-level failure (the target's own errors are BackupTargetError). */
export class BackupFormatError extends CloudError {
  readonly retryable = false;
  constructor(code: keyof typeof CODES, message: string) {
    super(CODES[code], message, code, true);
  }
}

export interface DriverOptions {
  compression: Compression;
  level: number;
  chunkSize: number;
  parallel: number;
}

export interface Progress {
  objects: number;
  bytesDone: number;
  bytesTotal: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs fn over 0..n-1 with at most `limit` at once; the first failure stops new work and is thrown. */
export async function eachLimit(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  if (failed !== null) throw failed;
}

/**
 * At most `limit` holders at once, served in order: the chunks being hashed and
 * (de)compressed, while reads and writes of other chunks go on beside them.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(limit: number) {
    this.free = Math.max(1, limit);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Cinder's object prefix: volume_<volume>_<yyyymmddHHMMSS>_backup_<backup>. */
export function objectPrefix(volumeId: string, backupId: string, createdAt: string): string {
  const ts = createdAt
    .replace(/[^0-9]/g, '')
    .slice(0, 14)
    .padEnd(14, '0');
  return `volume_${volumeId}_${ts}_backup_${backupId}`;
}

export class ChunkedDriver {
  private readonly zero: Buffer;
  private readonly zeroSha = new Map<number, string>();

  constructor(
    readonly target: BackupTarget,
    private readonly o: DriverOptions,
  ) {
    this.zero = Buffer.alloc(o.chunkSize);
  }

  private zeroShaOf(len: number): string {
    let s = this.zeroSha.get(len);
    if (!s) {
      s = sha256(this.zero.subarray(0, len));
      this.zeroSha.set(len, s);
    }
    return s;
  }

  async readMetadata(ref: BackupRef): Promise<BackupMetadata> {
    const raw = await this.target.get(ref.container, `${ref.service_metadata}_metadata`).catch((e: CloudError) => {
      if (e.code === 'ObjectNotFound')
        throw new BackupFormatError(
          'BackupIncomplete',
          `backup ${ref.id} has no metadata object in ${ref.container}: it is incomplete or gone`,
        );
      throw e;
    });
    const m = JSON.parse(raw.toString('utf8')) as BackupMetadata;
    if (m.version !== FORMAT_VERSION)
      throw new BackupFormatError('InvalidBackup', `backup ${ref.id} has format ${m.version}, not ${FORMAT_VERSION}`);
    if (m.backup_id !== ref.id)
      throw new BackupFormatError(
        'InvalidBackup',
        `the metadata in ${ref.container} belongs to backup ${m.backup_id}, not ${ref.id}`,
      );
    return m;
  }

  private async readShaFile(ref: BackupRef): Promise<ShaFile> {
    const raw = await this.target.get(ref.container, `${ref.service_metadata}_sha256file`);
    return JSON.parse(raw.toString('utf8')) as ShaFile;
  }

  /**
   * Backs up `sourcePath` (a volume or snapshot file/device of `sizeBytes`). With a
   * parent, only chunks that changed since it are stored. On failure, every object this
   * call wrote is deleted before the error is thrown.
   */
  async backup(
    b: {
      id: string;
      volumeId: string;
      name: string | null;
      description: string | null;
      createdAt: string;
      container: string;
      sizeBytes: number;
      parent: BackupRef | null;
    },
    sourcePath: string,
    onProgress: (p: Progress) => void = () => {},
  ): Promise<{ service_metadata: string; object_count: number; stored_bytes: number }> {
    const cs = this.o.chunkSize;
    let parentShas: string[] | null = null;
    if (b.parent) {
      const ps = await this.readShaFile(b.parent);
      if (ps.chunk_size !== cs)
        throw new BackupFormatError(
          'InvalidBackup',
          `Hash block size has changed since the last backup. New hash block size: ${cs}. Old hash block size: ${ps.chunk_size}. Do a full backup.`,
        );
      if (b.sizeBytes > ps.size_bytes)
        throw new BackupFormatError('InvalidBackup', 'Volume size increased since the last backup. Do a full backup.');
      parentShas = ps.sha256s;
    }
    const st = await stat(sourcePath);
    if (st.isFile() && st.size < b.sizeBytes)
      throw new BackupFormatError('InvalidBackup', `the source holds ${st.size} bytes, less than the volume's ${b.sizeBytes}`);
    const prefix = objectPrefix(b.volumeId, b.id, b.createdAt);
    await this.target.putContainer(b.container);
    const n = Math.ceil(b.sizeBytes / cs);
    const shas: string[] = new Array(n);
    const objects: ObjectEntry[] = [];
    const zeros: number[] = [];
    const written: string[] = [];
    const p: Progress = { objects: 0, bytesDone: 0, bytesTotal: b.sizeBytes };
    let stored = 0;
    // A read buffer per chunk in flight, reused: a new 4 MiB buffer per chunk is freed
    // only when V8 gets round to it (RSS, page faults and sys time grew with the volume).
    const free: Buffer[] = [];
    const fh = await open(sourcePath, 'r');
    try {
      const chunk = async (i: number, whole: Buffer) => {
        const offset = i * cs;
        const length = Math.min(cs, b.sizeBytes - offset);
        const buf = whole.subarray(0, length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got < length) buf.fill(0, got);
        const c = await cpu.run(async () => {
          // memcmp against zeros first: a sparse volume's holes cost no SHA-256 (a 1 GiB
          // volume with 1 MiB of data: the hashing of 1023 MiB of zeros is skipped).
          const isZero = buf.equals(this.zero.subarray(0, length));
          const sha = isZero ? this.zeroShaOf(length) : sha256(buf);
          shas[i] = sha;
          const changed = parentShas === null ? !isZero : parentShas[i] !== sha;
          if (!changed) return null;
          if (isZero) {
            zeros.push(i);
            return null;
          }
          const z = await compressChunk(this.o.compression, this.o.level, buf);
          return { sha, algo: z.algo, data: z.data, storedSha: sha256(z.data) };
        });
        if (c) {
          const name = `${prefix}-${String(i + 1).padStart(5, '0')}`;
          written.push(name);
          await this.target.put(b.container, name, c.data, { deferSync: true });
          stored += c.data.length;
          objects.push({
            name,
            index: i,
            offset,
            length,
            compression: c.algo,
            sha256: c.sha,
            stored_sha256: c.storedSha,
            stored_length: c.data.length,
          });
          p.objects++;
        }
        p.bytesDone += length;
        onProgress(p);
      };
      // Twice `parallel` chunks in flight, `parallel` of them hashed and compressed at a
      // time: reads and writes no longer hold a core's turn (one chunk at a time per
      // slot, waiting on its write, left a core idle about a quarter of the time).
      const cpu = new Slots(this.o.parallel);
      await eachLimit(n, this.o.parallel * 2, async (i) => {
        const whole = free.pop() ?? Buffer.allocUnsafe(cs);
        try {
          await chunk(i, whole);
        } finally {
          free.push(whole);
        }
      });
      // The chunks are durable before anything names them.
      await this.target.flush(b.container, written);
      objects.sort((x, y) => x.index - y.index);
      zeros.sort((x, y) => x - y);
      const sf: ShaFile = {
        version: FORMAT_VERSION,
        backup_id: b.id,
        volume_id: b.volumeId,
        chunk_size: cs,
        size_bytes: b.sizeBytes,
        sha256s: shas,
      };
      await this.target.put(b.container, `${prefix}_sha256file`, Buffer.from(JSON.stringify(sf)));
      written.push(`${prefix}_sha256file`);
      const meta: BackupMetadata = {
        version: FORMAT_VERSION,
        backup_id: b.id,
        volume_id: b.volumeId,
        parent_id: b.parent?.id ?? null,
        backup_name: b.name,
        backup_description: b.description,
        created_at: b.createdAt,
        size_bytes: b.sizeBytes,
        chunk_size: cs,
        objects,
        zeros,
      };
      // Last: its presence is what makes the backup whole.
      await this.target.put(b.container, `${prefix}_metadata`, Buffer.from(JSON.stringify(meta, null, 1)));
    } catch (e) {
      await this.deletePrefix(b.container, prefix, written);
      throw e;
    } finally {
      await fh.close();
    }
    return { service_metadata: prefix, object_count: objects.length, stored_bytes: stored };
  }

  /**
   * Writes the chain's data into `dstPath` (newest backup first in `chain`, its full
   * backup last). Checks first that every backup is whole (metadata present, object
   * list as recorded), then writes each chunk once, each object checked against its
   * SHA-256 (BackupCorrupt names the chunk and the object). `skipZeros`: the destination
   * is a new volume that reads as zeros, so zero chunks need no write.
   */
  async restore(
    chain: BackupRef[],
    dstPath: string,
    o: { skipZeros: boolean },
    onProgress: (p: Progress) => void = () => {},
  ): Promise<{ bytes: number }> {
    if (!chain.length) throw new BackupFormatError('InvalidBackup', 'nothing to restore');
    const metas: BackupMetadata[] = [];
    for (const ref of chain) {
      const m = await this.readMetadata(ref);
      const listed = new Set(await this.target.list(ref.container, ref.service_metadata));
      const missing = m.objects.filter((x) => !listed.has(x.name));
      if (missing.length)
        throw new BackupFormatError(
          'BackupIncomplete',
          `restore_backup aborted, actual object list does not match object list stored in metadata: backup ${ref.id} misses ${missing.length} object(s), first ${missing[0]!.name}`,
        );
      metas.push(m);
    }
    const newest = metas[0]!;
    const cs = newest.chunk_size;
    if (metas.some((m) => m.chunk_size !== cs))
      throw new BackupFormatError('InvalidBackup', 'the backups of the chain differ in chunk size');
    const sizeBytes = newest.size_bytes;
    const n = Math.ceil(sizeBytes / cs);
    // For each chunk: the newest backup that stored it or zeroed it.
    const src: Array<{ ref: BackupRef; obj: ObjectEntry } | 'zero' | undefined> = new Array(n);
    metas.forEach((m, k) => {
      for (const z of m.zeros) src[z] ??= 'zero';
      for (const obj of m.objects) src[obj.index] ??= { ref: chain[k]!, obj };
    });
    const st = await stat(dstPath);
    if (st.isFile() && st.size < sizeBytes)
      throw new BackupFormatError('InvalidBackup', `the volume holds ${st.size} bytes, less than the backup's ${sizeBytes}`);
    const p: Progress = { objects: 0, bytesDone: 0, bytesTotal: sizeBytes };
    const fh = await open(dstPath, 'r+');
    try {
      const cpu = new Slots(this.o.parallel);
      await eachLimit(n, this.o.parallel * 2, async (i) => {
        const offset = i * cs;
        const length = Math.min(cs, sizeBytes - offset);
        const s = src[i];
        if (s === undefined || s === 'zero') {
          if (!o.skipZeros) await fh.write(this.zero, 0, length, offset);
        } else {
          const stored = await this.target.get(s.ref.container, s.obj.name);
          const data = await cpu.run(async () => {
            if (stored.length !== s.obj.stored_length || sha256(stored) !== s.obj.stored_sha256)
              throw new BackupFormatError(
                'BackupCorrupt',
                `chunk ${i} (bytes ${offset}-${offset + length - 1}) of backup ${s.ref.id} is corrupt: object ${s.obj.name} does not match its SHA-256`,
              );
            const d = await decompressChunk(s.obj.compression, stored);
            if (d.length !== length || sha256(d) !== s.obj.sha256)
              throw new BackupFormatError(
                'BackupCorrupt',
                `chunk ${i} of backup ${s.ref.id} is corrupt: object ${s.obj.name} decompresses to data that does not match its SHA-256`,
              );
            return d;
          });
          await fh.write(data, 0, length, offset);
          p.objects++;
        }
        p.bytesDone += length;
        onProgress(p);
      });
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { bytes: sizeBytes };
  }

  /** Deletes every object of the backup (listed by its prefix). Succeeds when nothing is there. */
  async delete(ref: BackupRef): Promise<number> {
    const names = await this.target.list(ref.container, ref.service_metadata);
    // The metadata first: from then on the backup is incomplete, never half-restorable.
    names.sort((a, b) => Number(b.endsWith('_metadata')) - Number(a.endsWith('_metadata')));
    for (const name of names) await this.target.delete(ref.container, name);
    return names.length;
  }

  /**
   * Removes what an interrupted or failed backup wrote: the known names, then anything
   * under the prefix, then writes a dead process cut short (posix `.part` files, which
   * listings never show).
   */
  async deletePrefix(container: string, prefix: string, known: string[] = []): Promise<void> {
    for (const name of known) await this.target.delete(container, name).catch(() => {});
    const rest = await this.target.list(container, prefix).catch(() => [] as string[]);
    for (const name of rest) await this.target.delete(container, name).catch(() => {});
    await this.target.deletePartial(container, prefix).catch(() => 0);
  }
}
