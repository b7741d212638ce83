import { CloudError } from '../../shared/errors/index.js';

/**
 * Volume back ends: the control path only, no transport code (the Cinder rule, house
 * style 3.2). A back end stores volumes and snapshots and says where a volume's data
 * is (`devicePath`: a file or a block device); exporting it is the target's job.
 *
 * Every method states whether it is idempotent, what a partial failure leaves, and
 * what "absent" means.
 */
export interface VolumeRef {
  id: string;
  sizeGb: number;
}

export interface StoredVolume {
  id: string;
  devicePath: string;
  sizeBytes: number;
}

const BACKEND_STATUS = {
  VolumeNotFound: 404,
  SnapshotNotFound: 404,
  VolumeExists: 409,
  BadRequest: 400,
  NoSpace: 507,
  BackendError: 500,
};

/**
 * A back-end failure as a CloudError (like the other agents' errors): the code is the
 * agent reply's `error.code` and sets the status (404, 409, 400, 507 for a full VG or
 * directory, 500 otherwise). Never retryable; 5xx messages name the step and the tool's
 * message (the controller keeps them for its logs and the volume's error reason).
 */
export class BackendError extends CloudError {
  readonly retryable = false;
  declare readonly code: keyof typeof BACKEND_STATUS;
  constructor(
    code: keyof typeof BACKEND_STATUS,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(BACKEND_STATUS[code], message, code, true);
  }
}

export const GiB = 1024 ** 3;

export interface VolumeBackend {
  /** The back end's name in the config (file, lvm, fake). */
  readonly name: string;
  /** Fail fast: the directory / VG (and thin pool) exist and are usable. Idempotent. */
  init(): Promise<void>;
  /** Capacity in GiB. Read-only. */
  stats(): Promise<{ totalGb: number; freeGb: number }>;
  /** Every volume the back end holds (for exports at agent start). Read-only. */
  list(): Promise<StoredVolume[]>;
  /** Where a volume's data is, or null when absent. Read-only. */
  find(id: string): Promise<StoredVolume | null>;
  /**
   * An empty volume of sizeGb. Idempotent: a volume of that id and size already there
   * is returned as is (VolumeExists for another size). On failure nothing is left.
   */
  create(v: VolumeRef): Promise<{ devicePath: string }>;
  /**
   * A volume holding the snapshot's data, grown to sizeGb (≥ the snapshot's size).
   * SnapshotNotFound if the snapshot is absent. On failure nothing is left.
   */
  createFromSnapshot(v: VolumeRef, snapshotId: string): Promise<{ devicePath: string }>;
  /** A copy of another volume (clone), grown to sizeGb. VolumeNotFound if the source is absent. On failure nothing is left. */
  createFromVolume(v: VolumeRef, sourceId: string): Promise<{ devicePath: string }>;
  /**
   * A volume holding a local image file converted to raw (`qemu-img convert`). The
   * image's virtual size must fit (BadRequest otherwise). On failure nothing is left.
   */
  createFromImage(v: VolumeRef, img: { path: string; format: string }): Promise<{ devicePath: string }>;
  /**
   * Writes the volume's data into a new file `dst` as `format` (qemu-img's driver name:
   * raw, qcow2, vmdk, vdi, vpc, vhdx). Read-only on the volume. VolumeNotFound if absent;
   * on failure the caller removes dst.
   */
  copyOut(id: string, dst: string, format: string): Promise<void>;
  /** Grows a volume. Idempotent for the same size; BadRequest for a shrink; VolumeNotFound if absent. */
  extend(id: string, newSizeGb: number): Promise<void>;
  /** Removes a volume. Succeeds if absent. A failure leaves the volume as it was. */
  delete(id: string): Promise<void>;
  /** A point-in-time copy of a volume. Idempotent (an existing snapshot is kept); VolumeNotFound if the volume is absent. On failure nothing is left. */
  snapshot(s: { id: string; volumeId: string }): Promise<void>;
  /** Removes a snapshot. Succeeds if absent. */
  deleteSnapshot(id: string): Promise<void>;
  /** Where a snapshot's data is (backups read it), or null when absent. Read-only. */
  findSnapshot(id: string): Promise<{ devicePath: string } | null>;
  /** A new volume reads as zeros (sparse file, thin LV): a restore into it skips zero chunks. */
  readonly newVolumesReadZero: boolean;
}
