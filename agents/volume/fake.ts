import { truncate, writeFile } from 'node:fs/promises';
import { BackendError, GiB, type StoredVolume, type VolumeBackend, type VolumeRef } from './backend.js';
import {
  iqnOf,
  TargetError,
  type ChapAuth,
  type Connector,
  type IscsiConnectionInfo,
  type IscsiTarget,
  type TargetExport,
} from './target.js';

/** Volumes in memory (tests and the fake cloud): same contract, no host effects. */
export class FakeBackend implements VolumeBackend {
  readonly name = 'fake';
  readonly newVolumesReadZero = true;
  readonly volumes = new Map<string, number>();
  readonly snapshots = new Map<string, number>();
  constructor(private readonly capacityGb = 1000) {}
  async init(): Promise<void> {}
  async stats() {
    const used = [...this.volumes.values()].reduce((a, b) => a + b, 0) / GiB;
    return { totalGb: this.capacityGb, freeGb: Math.max(0, this.capacityGb - used) };
  }
  async list(): Promise<StoredVolume[]> {
    return [...this.volumes.entries()].map(([id, sizeBytes]) => ({ id, devicePath: `/fake/volume-${id}`, sizeBytes }));
  }
  async find(id: string) {
    const s = this.volumes.get(id);
    return s === undefined ? null : { id, devicePath: `/fake/volume-${id}`, sizeBytes: s };
  }
  private put(v: VolumeRef) {
    const have = this.volumes.get(v.id);
    if (have !== undefined && have !== v.sizeGb * GiB) throw new BackendError('VolumeExists', `volume ${v.id} exists`);
    this.volumes.set(v.id, v.sizeGb * GiB);
    return { devicePath: `/fake/volume-${v.id}` };
  }
  async create(v: VolumeRef) {
    return this.put(v);
  }
  async createFromSnapshot(v: VolumeRef, s: string) {
    if (!this.snapshots.has(s)) throw new BackendError('SnapshotNotFound', `snapshot ${s} not found`);
    return this.put(v);
  }
  async createFromVolume(v: VolumeRef, src: string) {
    if (!this.volumes.has(src)) throw new BackendError('VolumeNotFound', `volume ${src} not found`);
    return this.put(v);
  }
  async createFromImage(v: VolumeRef) {
    return this.put(v);
  }
  /** The fake's volumes read as zeros: a sparse raw file of the volume's size (other formats need qemu-img: refused). */
  async copyOut(id: string, dst: string, format: string) {
    const size = this.volumes.get(id);
    if (size === undefined) throw new BackendError('VolumeNotFound', `volume ${id} not found`);
    if (format !== 'raw') throw new BackendError('BackendError', `the fake back end writes raw only, not ${format}`);
    await writeFile(dst, '');
    await truncate(dst, size);
  }
  async extend(id: string, gb: number) {
    const s = this.volumes.get(id);
    if (s === undefined) throw new BackendError('VolumeNotFound', `volume ${id} not found`);
    if (s > gb * GiB) throw new BackendError('BadRequest', 'shrink');
    this.volumes.set(id, gb * GiB);
  }
  async delete(id: string) {
    this.volumes.delete(id);
  }
  async snapshot(s: { id: string; volumeId: string }) {
    const v = this.volumes.get(s.volumeId);
    if (v === undefined) throw new BackendError('VolumeNotFound', `volume ${s.volumeId} not found`);
    this.snapshots.set(s.id, v);
  }
  async deleteSnapshot(id: string) {
    this.snapshots.delete(id);
  }
  async findSnapshot(id: string) {
    return this.snapshots.has(id) ? { devicePath: `/fake/snapshot-${id}` } : null;
  }
}

export class FakeTarget implements IscsiTarget {
  readonly exports = new Map<string, { devicePath: string; users: Map<string, Connector> }>();
  constructor(
    private readonly iqnPrefix = 'iqn.2026-11.org.homestack',
    private readonly portal = '127.0.0.1:3260',
  ) {}
  async ensureExport(volumeId: string, devicePath: string) {
    const e = this.exports.get(volumeId);
    if (e) e.devicePath = devicePath;
    else this.exports.set(volumeId, { devicePath, users: new Map() });
  }
  async removeExport(volumeId: string) {
    this.exports.delete(volumeId);
  }
  async initializeConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<IscsiConnectionInfo> {
    const e = this.exports.get(volumeId);
    if (!e) throw new TargetError('TargetError', `volume ${volumeId} is not exported`);
    e.users.set(auth.username, c);
    return {
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: iqnOf(this.iqnPrefix, volumeId),
        target_portal: this.portal,
        target_lun: 1,
        volume_id: volumeId,
        auth_method: 'CHAP',
        auth_username: auth.username,
        auth_password: auth.password,
        discard: true,
      },
    };
  }
  async terminateConnection(volumeId: string, _c: Connector, auth: ChapAuth) {
    this.exports.get(volumeId)?.users.delete(auth.username);
  }
  async list(): Promise<TargetExport[]> {
    return [...this.exports.entries()].map(([volumeId, e]) => ({
      volumeId,
      iqn: iqnOf(this.iqnPrefix, volumeId),
      devicePath: e.devicePath,
      users: [...e.users.keys()],
    }));
  }
}
