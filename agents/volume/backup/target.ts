import { CloudError } from '../../../shared/errors/index.js';

/**
 * Where backups are kept: an object store of containers holding named objects (the
 * shape of Cinder's ChunkedBackupDriver: put_container, get_container_entries,
 * get_object_writer/reader, delete_object). Two kinds, chosen by `backup.target`:
 * `posix` (a directory, Cinder's posix driver) and `s3` (a bucket).
 *
 * Failure contract of every method: `put` leaves either the whole object or none
 * under its name (a reader never sees half an object); `delete` and `deletePrefix`
 * succeed when the object is absent; errors are BackupTargetError with a code the
 * controller shows in the backup's fail_reason.
 */
export interface BackupTarget {
  /** `posix` or `s3`; part of the backup's `service` name. */
  readonly kind: 'posix' | 's3';
  /**
   * Stable id of the store, the same on every host that reaches it (posix: a marker
   * file written once at the root of the directory, so two hosts mounting one NFS
   * share agree; s3: endpoint and bucket). The controller restores a backup only on a
   * host whose target has the backup's id.
   */
  readonly id: string;
  /** Checks the store is reachable and writable; creates the marker. Idempotent. */
  init(): Promise<void>;
  /** The container of a backup made without `--container` (posix: ab/cd/<id>, s3: the bucket). */
  defaultContainer(backupId: string): string;
  /** Refuses a container name the store cannot hold (BadContainer). */
  checkContainer(container: string): void;
  /** Creates the container if needed. Idempotent. */
  putContainer(container: string): Promise<void>;
  /**
   * Writes the object. `o.deferSync`: the write need not be durable yet (posix skips
   * its fsync); `flush` must run before anything refers to the object.
   */
  put(container: string, name: string, data: Buffer, o?: { deferSync?: boolean }): Promise<void>;
  /**
   * Makes objects written with `deferSync` durable (posix: fsync of each file, then of
   * the container directory that holds their names; s3: nothing, a PUT is durable when
   * it answers). Idempotent; an object that is gone is skipped.
   */
  flush(container: string, names: readonly string[]): Promise<void>;
  /** The whole object; ObjectNotFound when absent. */
  get(container: string, name: string): Promise<Buffer>;
  /** Names in the container starting with prefix (a missing container lists nothing). */
  list(container: string, prefix: string): Promise<string[]>;
  delete(container: string, name: string): Promise<void>;
  /**
   * Removes what writes cut short by a dead process left under the prefix (posix: the
   * `.<name>.part` files, which `list` never shows; s3: nothing, a PUT is atomic).
   * Idempotent; succeeds when nothing is there. Returns how many were removed.
   */
  deletePartial(container: string, prefix: string): Promise<number>;
  /** Free bytes, when the store can tell (posix), else null. */
  freeBytes(): Promise<number | null>;
}

const STATUS = {
  ObjectNotFound: 404,
  BadContainer: 400,
  TargetFull: 507,
  TargetUnreachable: 503,
  TargetError: 500,
};

/** A store failure: the code says which kind (full, unreachable, missing object...). */
export class BackupTargetError extends CloudError {
  readonly retryable = false;
  declare readonly code: keyof typeof STATUS;
  constructor(
    code: keyof typeof STATUS,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(STATUS[code], message, code, true);
  }
}

/** A container name both stores accept: relative path segments of safe characters, no dot segments. */
export function checkContainerName(c: string): void {
  const ok =
    c.length > 0 &&
    c.length <= 255 &&
    /^[A-Za-z0-9_.\-/]+$/.test(c) &&
    !c.startsWith('/') &&
    c.split('/').every((seg) => seg.length > 0 && seg !== '.' && seg !== '..');
  if (!ok) throw new BackupTargetError('BadContainer', `container ${JSON.stringify(c)} is not a valid name`);
}
