import type { BodyOf, ReplyOf } from '../../shared/agent/contract.js';
import type { LiveMigrate, MigrationStats, PrepareIncoming, TransferFile } from '../../shared/agent/migration.js';
import type { HostCapabilities, InstanceSpec, InstanceState, IscsiConnectionInfo, VifSpec } from '../../shared/agent/compute.js';

export type { HostCapabilities, InstanceSpec, InstanceState, IscsiConnectionInfo, VifSpec };

/** Time spent in each step of a spawn (milliseconds). */
export interface SpawnResult {
  instance: InstanceState;
  timings: {
    image_ms: number;
    disk_ms: number;
    config_drive_ms: number;
    define_ms: number;
    libvirt_start_ms: number;
    total_ms: number;
  };
  imageCached: boolean;
}

export interface SnapshotTarget {
  imageId: string;
  uploadUrl: string;
  token: string;
  diskFormat: 'qcow2' | 'raw';
}

export interface SnapshotResult {
  size: number;
  checksum: string;
  pausedMs: number;
}

export interface CachedImage {
  imageId: string;
  size: number;
  lastUsed: string;
  usedBy: string[];
}

/**
 * The hypervisor contract of the compute agent (house style 3.2). Nouns are the
 * agent's ("instance", by uuid); hypervisor ids never leave the driver.
 *
 * For every method: "absent" means the hypervisor has no domain for the uuid. Unless
 * stated otherwise an absent instance throws InstanceNotFound (404), an operation in
 * the wrong state throws InvalidState (409), and a failing host tool throws
 * HypervisorFault (500) whose message names the step and the tool's message.
 */
export interface HypervisorDriver {
  /**
   * Fail fast: the hypervisor is reachable, virt_type resolved, tools present.
   * Idempotent. Partial failure: nothing to undo (read-only checks).
   */
  init(): Promise<HostCapabilities>;

  /** Current capacity and use. Idempotent, read-only. */
  hostResources(): Promise<HostCapabilities>;

  /**
   * Every domain carrying the Homestack marker, for reconciliation. Idempotent,
   * read-only. One unreadable domain never fails the list: its uuid is reported in
   * `unreadable`. `orphans`: instance directories without a domain (and no
   * operation in progress on them).
   */
  list(): Promise<{ instances: InstanceState[]; unreadable: string[]; orphans?: string[] }>;

  /** One instance; null when absent. Idempotent, read-only. */
  get(uuid: string): Promise<InstanceState | null>;

  /**
   * Boots an instance (image cache → overlay root disk → config drive → define →
   * start). Not idempotent: a uuid that already has a domain throws InstanceExists.
   * Partial failure: everything created so far (domain, disks, secrets, directory) is
   * removed (Reverter) and the error names the failing step. The image cache is kept.
   */
  spawn(spec: InstanceSpec): Promise<SpawnResult>;

  /**
   * Force off and undefine; with deleteDisks also the instance directory (disks,
   * config drive, console log) and the CHAP secrets of its volumes. Idempotent:
   * succeeds when absent (returns false) and also cleans a leftover directory.
   * Partial failure: safe to call again.
   */
  destroy(uuid: string, o: { deleteDisks: boolean }): Promise<boolean>;

  /**
   * Start a shut-off instance (restoring a managed-save image if there is one).
   * Idempotent: a running instance is left as is. Absent: InstanceNotFound.
   */
  powerOn(uuid: string): Promise<InstanceState>;

  /**
   * ACPI shutdown, wait up to timeoutSec for the guest to turn itself off, then force
   * off (destroy). Idempotent: already off is fine. Returns whether it had to force.
   * Absent: InstanceNotFound.
   */
  powerOff(uuid: string, o: { timeoutSec: number }): Promise<{ instance: InstanceState; forced: boolean }>;

  /**
   * soft: ACPI reboot, falls back to a reset when the guest has not rebooted within
   * timeoutSec; hard: reset (or start when it was off). Ends running.
   * Not idempotent (each call reboots). Absent: InstanceNotFound.
   */
  reboot(uuid: string, o: { hard: boolean; timeoutSec?: number }): Promise<InstanceState>;

  /** Freeze vCPUs in memory (libvirt suspend). Idempotent when already paused; shut off: InvalidState. */
  pause(uuid: string): Promise<InstanceState>;
  /** Continue a paused instance (libvirt resume). Idempotent when running; shut off: InvalidState. */
  unpause(uuid: string): Promise<InstanceState>;
  /** Managed save (memory to disk, domain stops). Idempotent when already suspended; shut off without save: InvalidState. */
  suspend(uuid: string): Promise<InstanceState>;
  /** Restore from the managed-save image. Idempotent when running; nothing saved: InvalidState. */
  resume(uuid: string): Promise<InstanceState>;

  /**
   * Consistent copy of the root disk streamed to the image API. The guest is paused
   * while the disk is read and continues afterwards even if the copy fails. Not
   * idempotent (uploads again). Partial failure: the temporary copy is removed; the
   * caller kills the image record.
   */
  snapshot(uuid: string, t: SnapshotTarget): Promise<SnapshotResult>;

  /**
   * Attach an iSCSI volume (network disk, CHAP through a libvirt secret). Idempotent
   * for a volume already attached (returns its device). Partial failure: the secret is
   * removed again.
   */
  attachVolume(uuid: string, c: IscsiConnectionInfo, device: string | null): Promise<string>;
  /** Detach; idempotent: succeeds (false) when not attached. Removes the CHAP secret. */
  detachVolume(uuid: string, volumeId: string): Promise<boolean>;

  /** Hot-plug a NIC (tap name = 'tap' + portId.slice(0, 11)). Idempotent for a plugged port. */
  plugVif(uuid: string, vif: VifSpec): Promise<string>;
  /** Hot-unplug; idempotent: succeeds (false) when not plugged. */
  unplugVif(uuid: string, portId: string): Promise<boolean>;

  /** The last maxBytes of the serial console log ('' before the first boot). Read-only. Absent: InstanceNotFound. */
  consoleLog(uuid: string, maxBytes: number): Promise<{ output: string; truncated: boolean }>;

  /** Where the VNC display listens. Running only (else InvalidState). Read-only. */
  vncConsole(uuid: string): Promise<{ host: string; port: number }>;

  /** Base images in this host's cache. Read-only. */
  cachedImages(): Promise<CachedImage[]>;
  /** Drop a cached image; InvalidState while an instance disk uses it; succeeds (false) when absent. */
  evictImage(imageId: string): Promise<boolean>;

  /** Close connections (agent shutdown). Idempotent. */
  close(): Promise<void>;

  /** A non-maskable interrupt to a running guest. Not idempotent. Absent: InstanceNotFound; not running: InvalidState. Optional. */
  injectNmi?(uuid: string): Promise<void>;
  /** Moving instances between hosts (live migration, cold migration, resize); absent: not supported. */
  readonly migration?: MigrationOps;
}

/**
 * The hypervisor side of moving an instance (shared/agent/migration.ts says what each
 * call does and its failure contract).
 */
export interface MigrationOps {
  offer(
    uuid: string,
    token: string,
    files: TransferFile[],
    expiresS: number,
  ): Promise<Array<{ name: TransferFile; size: number }>>;
  /** The path an offer's token may read, or null. */
  offered(token: string, file: string): { path: string } | null;
  hasToken(token: string): boolean;
  prepareIncoming(b: BodyOf<typeof PrepareIncoming>): Promise<ReplyOf<typeof PrepareIncoming>>;
  liveMigrate(b: BodyOf<typeof LiveMigrate>): Promise<ReplyOf<typeof LiveMigrate>>;
  progress(uuid: string): Promise<{ running: boolean; stats: MigrationStats | null }>;
  abort(uuid: string): Promise<boolean>;
  forceComplete(uuid: string): Promise<boolean>;
  cleanup(uuid: string, volumeIds: string[], keepRunning: boolean): Promise<{ domain: boolean; files: boolean }>;
}
