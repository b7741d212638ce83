import type { Runner } from '../../shared/exec/run.js';
import { lvm, LvmError, type Lv } from '../../shared/tools/lvm.js';
import { qemuImg, qemuFormatOf } from '../../shared/tools/qemu-img.js';
import { BackendError, GiB, type StoredVolume, type VolumeBackend, type VolumeRef } from './backend.js';

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface LvmBackendOptions {
  run: Runner;
  vg: string;
  /** Thin pool in the VG: volumes are thin LVs and snapshots thin snapshots. '' = thick. */
  thinPool: string;
  /** `--config` for every LVM command (tests: 'global{activation=0}': metadata only). */
  extraConfig?: string;
}

/**
 * Volumes as LVs `volume-<id>` in one volume group (Cinder's LVM driver): thick, or
 * thin in a pool when configured. Snapshots are LVM snapshots `snapshot-<id>` (thick:
 * a copy-on-write area the size of the origin; thin: a thin snapshot). Volumes made
 * from a snapshot, another volume or an image get the data copied with `qemu-img
 * convert -n` into the new LV, which needs activated LVs (device-mapper).
 */
export class LvmBackend implements VolumeBackend {
  readonly name = 'lvm';
  /** Thin LVs read as zeros until written; a thick LV may hold a deleted volume's data. */
  get newVolumesReadZero(): boolean {
    return !!this.o.thinPool;
  }
  private readonly lvm;
  private readonly img;

  constructor(private readonly o: LvmBackendOptions) {
    this.lvm = lvm(o.run, { extraConfig: o.extraConfig });
    this.img = qemuImg(o.run);
  }

  private check(id: string): string {
    if (!ID_RE.test(id)) throw new BackendError('BadRequest', `bad id ${JSON.stringify(id)}`);
    return id;
  }
  lvName(id: string): string {
    return `volume-${this.check(id)}`;
  }
  snapName(id: string): string {
    return `snapshot-${this.check(id)}`;
  }
  private wrap(e: unknown, what: string): never {
    if (e instanceof BackendError) throw e;
    if (e instanceof LvmError) {
      if (e.code === 'NoSpace') throw new BackendError('NoSpace', `${what}: ${e.message}`, e);
      if (e.code === 'LvExists') throw new BackendError('VolumeExists', `${what}: ${e.message}`, e);
    }
    throw new BackendError('BackendError', `${what}: ${(e as Error).message}`, e);
  }

  async init(): Promise<void> {
    await this.lvm.vg(this.o.vg).catch((e) => this.wrap(e, `volume group ${this.o.vg}`));
    if (this.o.thinPool) {
      const lvs = await this.lvm.listLvs(this.o.vg);
      if (!lvs.some((l) => l.name === this.o.thinPool && l.attr.startsWith('t'))) {
        throw new BackendError('BackendError', `thin pool ${this.o.vg}/${this.o.thinPool} does not exist`);
      }
    }
  }

  async stats(): Promise<{ totalGb: number; freeGb: number }> {
    const vg = await this.lvm.vg(this.o.vg);
    if (!this.o.thinPool) return { totalGb: Math.floor(vg.sizeBytes / GiB), freeGb: Math.floor(vg.freeBytes / GiB) };
    // A thin pool's free space is its size less the data written to it (Cinder's LVM
    // driver: size × (1 − data_percent / 100)); the thin LVs' virtual sizes may add up to
    // more than the pool (over-subscription). An inactive pool reports no data_percent
    // and nothing can be written to it until it is activated: it counts as unused.
    const pool = await this.lvm.poolUsage(this.o.vg, this.o.thinPool).catch((e) => {
      if (e instanceof LvmError && e.code === 'LvNotFound') return { sizeBytes: 0, dataPercent: null };
      throw e;
    });
    const used = Math.ceil((pool.sizeBytes * (pool.dataPercent ?? 0)) / 100);
    return { totalGb: Math.floor(pool.sizeBytes / GiB), freeGb: Math.floor(Math.max(0, pool.sizeBytes - used) / GiB) };
  }

  private async lvs(): Promise<Lv[]> {
    return this.lvm.listLvs(this.o.vg).catch((e) => this.wrap(e, `list ${this.o.vg}`));
  }

  async list(): Promise<StoredVolume[]> {
    return (await this.lvs()).flatMap((l) => {
      const m = /^volume-([0-9a-f-]{36})$/.exec(l.name);
      return m ? [{ id: m[1]!, devicePath: this.lvm.devicePath(this.o.vg, l.name), sizeBytes: l.sizeBytes }] : [];
    });
  }

  async find(id: string): Promise<StoredVolume | null> {
    const name = this.lvName(id);
    const l = (await this.lvs()).find((x) => x.name === name);
    return l ? { id, devicePath: this.lvm.devicePath(this.o.vg, name), sizeBytes: l.sizeBytes } : null;
  }

  /** Creates the LV (idempotent for the same size); then `fill`, removing the LV if that fails. */
  private async make(v: VolumeRef, fill?: (dev: string) => Promise<void>): Promise<{ devicePath: string }> {
    const have = await this.find(v.id);
    if (have) {
      if (have.sizeBytes !== v.sizeGb * GiB)
        throw new BackendError('VolumeExists', `volume ${v.id} exists with ${have.sizeBytes} bytes`);
      return { devicePath: have.devicePath };
    }
    const name = this.lvName(v.id);
    try {
      if (this.o.thinPool) await this.lvm.createThin(this.o.vg, this.o.thinPool, name, v.sizeGb * GiB);
      else await this.lvm.create(this.o.vg, name, v.sizeGb * GiB);
    } catch (e) {
      this.wrap(e, `create ${name}`);
    }
    const dev = this.lvm.devicePath(this.o.vg, name);
    if (fill) {
      try {
        await fill(dev);
      } catch (e) {
        await this.lvm.remove(this.o.vg, name).catch(() => {});
        this.wrap(e, `fill ${name}`);
      }
    }
    return { devicePath: dev };
  }

  async create(v: VolumeRef): Promise<{ devicePath: string }> {
    return this.make(v);
  }

  async createFromSnapshot(v: VolumeRef, snapshotId: string): Promise<{ devicePath: string }> {
    const snap = (await this.lvs()).find((l) => l.name === this.snapName(snapshotId));
    if (!snap) throw new BackendError('SnapshotNotFound', `snapshot ${snapshotId} is not in ${this.o.vg}`);
    if (snap.sizeBytes > v.sizeGb * GiB && !this.o.thinPool)
      throw new BackendError('BadRequest', 'the volume is smaller than the snapshot');
    const src = this.lvm.devicePath(this.o.vg, snap.name);
    return this.make(v, (dev) => this.img.convert(src, 'raw', dev, 'raw', { targetExists: true, limits: false }));
  }

  async createFromVolume(v: VolumeRef, sourceId: string): Promise<{ devicePath: string }> {
    const src = await this.find(sourceId);
    if (!src) throw new BackendError('VolumeNotFound', `volume ${sourceId} is not in ${this.o.vg}`);
    if (src.sizeBytes > v.sizeGb * GiB) throw new BackendError('BadRequest', 'the volume is smaller than its source');
    return this.make(v, (dev) => this.img.convert(src.devicePath, 'raw', dev, 'raw', { targetExists: true, limits: false }));
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
    return this.make(v, (dev) => this.img.convert(img.path, fmt, dev, 'raw', { targetExists: true }));
  }

  async copyOut(id: string, dst: string, format: string): Promise<void> {
    const have = await this.find(id);
    if (!have) throw new BackendError('VolumeNotFound', `volume ${id} is not in ${this.o.vg}`);
    await this.img.convert(have.devicePath, 'raw', dst, format, { limits: false });
  }

  async extend(id: string, newSizeGb: number): Promise<void> {
    const have = await this.find(id);
    if (!have) throw new BackendError('VolumeNotFound', `volume ${id} is not in ${this.o.vg}`);
    const want = newSizeGb * GiB;
    if (have.sizeBytes === want) return;
    if (have.sizeBytes > want)
      throw new BackendError('BadRequest', `volume ${id} is ${have.sizeBytes} bytes; refusing to shrink it`);
    await this.lvm.extend(this.o.vg, this.lvName(id), want).catch((e) => this.wrap(e, `extend ${id}`));
  }

  async delete(id: string): Promise<void> {
    await this.lvm.remove(this.o.vg, this.lvName(id)).catch((e) => {
      if (e instanceof LvmError && e.code === 'LvNotFound') return;
      this.wrap(e, `delete ${id}`);
    });
  }

  async snapshot(s: { id: string; volumeId: string }): Promise<void> {
    const lvs = await this.lvs();
    if (lvs.some((l) => l.name === this.snapName(s.id))) return;
    const origin = lvs.find((l) => l.name === this.lvName(s.volumeId));
    if (!origin) throw new BackendError('VolumeNotFound', `volume ${s.volumeId} is not in ${this.o.vg}`);
    await this.lvm
      .snapshot(this.o.vg, origin.name, this.snapName(s.id), this.o.thinPool ? null : origin.sizeBytes)
      .catch((e) => this.wrap(e, `snapshot ${s.volumeId}`));
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.lvm.remove(this.o.vg, this.snapName(id)).catch((e) => {
      if (e instanceof LvmError && e.code === 'LvNotFound') return;
      this.wrap(e, `delete snapshot ${id}`);
    });
  }

  async findSnapshot(id: string): Promise<{ devicePath: string } | null> {
    const snap = (await this.lvs()).find((l) => l.name === this.snapName(id));
    return snap ? { devicePath: this.lvm.devicePath(this.o.vg, snap.name) } : null;
  }
}
