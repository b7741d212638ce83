import type { ChapAuth, Connector, IscsiConnectionInfo } from '../../shared/agent/volume.js';
import { CloudError } from '../../shared/errors/index.js';

/**
 * iSCSI targets: the data path (house style 3.2). One target per volume, named
 * `<iqn_prefix>:volume-<id>`, LUN 1 backed by the back end's device path; one CHAP
 * account per attachment; the connector's initiator (and address) in the ACL. The
 * implementation comes from config: tgtadm | lioadm | fake.
 */
export type { ChapAuth, Connector, IscsiConnectionInfo };

/** A target failure as a CloudError: BadRequest (400) or TargetError (500). Never retryable. */
export class TargetError extends CloudError {
  readonly retryable = false;
  declare readonly code: 'TargetError' | 'BadRequest';
  constructor(
    code: 'TargetError' | 'BadRequest',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(code === 'BadRequest' ? 400 : 500, message, code, true);
  }
}

export interface TargetExport {
  volumeId: string;
  iqn: string;
  devicePath: string | null;
  /** CHAP users bound to the target. */
  users: string[];
}

export interface IscsiTarget {
  /**
   * Makes sure the volume's target exists with LUN 1 backed by devicePath. Idempotent
   * (run for every volume at agent start); a target backed by another path is rebuilt.
   * On failure a half-made target is removed.
   */
  ensureExport(volumeId: string, devicePath: string): Promise<void>;
  /** Removes the target and every credential of the volume. Succeeds if absent. */
  removeExport(volumeId: string): Promise<void>;
  /**
   * Lets one connector in with one attachment's CHAP credentials (the export must
   * exist: call ensureExport first). Idempotent for the same credentials. On failure
   * what it added is removed.
   */
  initializeConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<IscsiConnectionInfo>;
  /** Revokes those credentials and the connector's ACL entry. Succeeds if absent. */
  terminateConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<void>;
  /** What is exported now (for stats and sync). Read-only. */
  list(): Promise<TargetExport[]>;
}

/** The target name of a volume. */
export const iqnOf = (prefix: string, volumeId: string) => `${prefix}:volume-${volumeId}`;

/** The volume id in a target name of ours, or null. */
export function volumeOfIqn(prefix: string, iqn: string): string | null {
  const p = `${prefix}:volume-`;
  if (!iqn.startsWith(p)) return null;
  const id = iqn.slice(p.length);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : null;
}
