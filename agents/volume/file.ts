import { mkdir, open, readdir, rename, rm, stat, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../../shared/exec/run.js';
import { qemuImg, qemuFormatOf } from '../../shared/tools/qemu-img.js';
import { BackendError, GiB, type StoredVolume, type VolumeBackend, type VolumeRef } from './backend.js';

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Volumes as sparse files in a directory (`volume-<id>.img`, snapshots
 * `snapshot-<id>.img`): for hosts with no spare disk and for machines without
 * device-mapper. Copies keep holes (`cp --sparse=always`). Every new file is written
 * under a `.part` name and renamed into place, so a failure never leaves a volume
 * that looks whole.
 */
export class FileBackend implements VolumeBackend {
  readonly name = 'file';
  readonly newVolumesReadZero = true;
  private readonly img;

  constructor(private readonly o: { dir: string; run: Runner }) {
    this.img = qemuImg(o.run);
  }

  private check(id: string): string {
    if (!ID_RE.test(id)) throw new BackendError('BadRequest', `bad id ${JSON.stringify(id)}`);
    return id;
  }
  volumePath(id: string): string {
    return join(this.o.dir, `volume-${this.check(id)}.img`);
  }
  snapshotPath(id: string): string {
    return join(this.o.dir, `snapshot-${this.check(id)}.img`);
  }

  async init(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    // Leftovers of work interrupted by a crash.
    for (const n of await readdir(this.o.dir)) if (n.endsWith('.part')) await rm(join(this.o.dir, n), { force: true });
  }

  async stats(): Promise<{ totalGb: number; freeGb: number }> {
    const s = await statfs(this.o.dir);
    return { totalGb: Math.floor((s.blocks * s.bsize) / GiB), freeGb: Math.floor((s.bavail * s.bsize) / GiB) };
  }

  async list(): Promise<StoredVolume[]> {
    const out: StoredVolume[] = [];
    for (const n of await readdir(this.o.dir)) {
      const m = /^volume-([0-9a-f-]{36})\.img$/.exec(n);
      if (!m) continue;
      const st = await stat(join(this.o.dir, n)).catch(() => null);
      if (st) out.push({ id: m[1]!, devicePath: join(this.o.dir, n), sizeBytes: st.size });
    }
    return out;
  }

  async find(id: string): Promise<StoredVolume | null> {
    const p = this.volumePath(id);
    const st = await stat(p).catch(() => null);
    return st ? { id, devicePath: p, sizeBytes: st.size } : null;
  }

  /** Existing volume of the same size → idempotent success; other size → VolumeExists. */
  private async existing(v: VolumeRef): Promise<{ devicePath: string } | null> {
    const have = await this.find(v.id);
    if (!have) return null;
    if (have.sizeBytes !== v.sizeGb * GiB)
      throw new BackendError('VolumeExists', `volume ${v.id} exists with ${have.sizeBytes} bytes`);
    return { devicePath: have.devicePath };
  }

  /** Runs `fill(part)` to make the data, grows it to sizeGb, renames into place; removes the part on failure. */
  private async make(v: VolumeRef, fill: (part: string) => Promise<void>): Promise<{ devicePath: string }> {
    const have = await this.existing(v);
    if (have) return have;
    const dst = this.volumePath(v.id);
    const part = `${dst}.part`;
    try {
      await fill(part);
      const size = (await stat(part)).size;
      if (size > v.sizeGb * GiB)
        throw new BackendError('BadRequest', `the source (${size} bytes) is larger than the volume (${v.sizeGb} GiB)`);
      await truncate(part, v.sizeGb * GiB);
      await rename(part, dst);
      return { devicePath: dst };
    } catch (e) {
      await rm(part, { force: true });
      if (e instanceof BackendError) throw e;
      const m = (e as Error).message;
      throw new BackendError(/ENOSPC|No space/i.test(m) ? 'NoSpace' : 'BackendError', m, e);
    }
  }

  async create(v: VolumeRef): Promise<{ devicePath: string }> {
    return this.make(v, async (part) => {
      const fh = await open(part, 'w', 0o600);
      await fh.close();
    });
  }

  private async copy(src: string, dst: string): Promise<void> {
    await this.o.run('cp', ['--sparse=always', '--reflink=auto', '--', src, dst], { timeoutMs: 3_600_000 });
  }

  async createFromSnapshot(v: VolumeRef, snapshotId: string): Promise<{ devicePath: string }> {
    const src = this.snapshotPath(snapshotId);
    if (!(await stat(src).catch(() => null)))
      throw new BackendError('SnapshotNotFound', `snapshot ${snapshotId} is not on this back end`);
    return this.make(v, (part) => this.copy(src, part));
  }

  async createFromVolume(v: VolumeRef, sourceId: string): Promise<{ devicePath: string }> {
    const src = await this.find(sourceId);
    if (!src) throw new BackendError('VolumeNotFound', `volume ${sourceId} is not on this back end`);
    return this.make(v, (part) => this.copy(src.devicePath, part));
  }

  async createFromImage(v: VolumeRef, img: { path: string; format: string }): Promise<{ devicePath: string }> {
    const fmt = qemuFormatOf(img.format);
    if (!fmt) throw new BackendError('BadRequest', `image disk_format ${img.format} cannot be written into a volume`);
    const info = await this.img.info(img.path, fmt);
    if (info.virtualSize > v.sizeGb * GiB) {
      throw new BackendError(
        'BadRequest',
        `Image virtual size is ${Math.ceil(info.virtualSize / GiB)}GB and doesn't fit in a volume of size ${v.sizeGb}GB.`,
      );
    }
    return this.make(v, (part) => this.img.convert(img.path, fmt, part, 'raw'));
  }

  async copyOut(id: string, dst: string, format: string): Promise<void> {
    const have = await this.find(id);
    if (!have) throw new BackendError('VolumeNotFound', `volume ${id} is not on this back end`);
    await this.img.convert(have.devicePath, 'raw', dst, format, { limits: false });
  }

  async extend(id: string, newSizeGb: number): Promise<void> {
    const have = await this.find(id);
    if (!have) throw new BackendError('VolumeNotFound', `volume ${id} is not on this back end`);
    const want = newSizeGb * GiB;
    if (have.sizeBytes === want) return;
    if (have.sizeBytes > want)
      throw new BackendError('BadRequest', `volume ${id} is ${have.sizeBytes} bytes; refusing to shrink it to ${want}`);
    await truncate(have.devicePath, want);
  }

  async delete(id: string): Promise<void> {
    await rm(`${this.volumePath(id)}.part`, { force: true });
    await rm(this.volumePath(id), { force: true });
  }

  async snapshot(s: { id: string; volumeId: string }): Promise<void> {
    const dst = this.snapshotPath(s.id);
    if (await stat(dst).catch(() => null)) return;
    const src = await this.find(s.volumeId);
    if (!src) throw new BackendError('VolumeNotFound', `volume ${s.volumeId} is not on this back end`);
    const part = `${dst}.part`;
    try {
      await this.copy(src.devicePath, part);
      await rename(part, dst);
    } catch (e) {
      await rm(part, { force: true });
      throw new BackendError('BackendError', `snapshot of ${s.volumeId}: ${(e as Error).message}`, e);
    }
  }

  async deleteSnapshot(id: string): Promise<void> {
    await rm(`${this.snapshotPath(id)}.part`, { force: true });
    await rm(this.snapshotPath(id), { force: true });
  }

  async findSnapshot(id: string): Promise<{ devicePath: string } | null> {
    const p = this.snapshotPath(id);
    return (await stat(p).catch(() => null)) ? { devicePath: p } : null;
  }
}
