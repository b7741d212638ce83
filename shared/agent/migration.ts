import { Type, type Static } from 'typebox';
import { ImageSource, IscsiConnectionInfo } from './compute.js';
import { defineRoute } from './contract.js';

/**
 * The controller ↔ compute-agent contract for moving instances between hosts (issue 15):
 * live migration (libvirt peer-to-peer over TLS, driven by the source), cold migration and
 * resize (the root disk copied from the source agent to the destination agent), and the
 * cleanup on either side. Changes are additive only.
 *
 * Files move agent to agent, never through the controller: the controller asks the source
 * to offer an instance's files under a one-time token (`TransferOffer`) and gives the
 * destination that token and the source's URL (`PrepareIncoming`); the destination reads
 * them from the source's `/v1/compute/transfers/:token/:file` with `Authorization: Bearer
 * <token>`. The token is random (32 bytes), bound to one instance and those files, and
 * expires.
 */

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Token = Type.String({ pattern: '^[0-9a-f]{64}$' });
/** The files of an instance that may travel: the root disk (qcow2 overlay), the config drive, the console log. */
export const TransferFile = Type.Union([Type.Literal('disk'), Type.Literal('disk.config'), Type.Literal('console.log')]);
export type TransferFile = Static<typeof TransferFile>;
const Addr = Type.String({ pattern: '^[0-9A-Za-z.:-]{1,253}$' });

/** The source offers these files of the instance to whoever holds `token`, until `expires_s` pass. */
export const TransferOffer = defineRoute({
  name: 'compute.transfer_offer',
  method: 'POST',
  url: '/v1/compute/transfers',
  body: Type.Object(
    {
      token: Token,
      uuid: Uuid,
      files: Type.Array(TransferFile, { minItems: 1, maxItems: 3 }),
      expires_s: Type.Integer({ minimum: 1, maximum: 86_400 }),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ files: Type.Array(Type.Object({ name: TransferFile, size: Type.Integer({ minimum: 0 }) })) }),
  timeoutMs: 30_000,
});

/** The URL a destination reads an offered file from (not a JSON route: the body is the file). */
export const TRANSFER_URL = '/v1/compute/transfers/:token/:file';

/**
 * The destination gets ready for an incoming instance: instance directory, the base
 * image in its cache (for the root disk's backing file), then
 * - live: an empty root disk of the source's virtual size (libvirt copies the top layer
 *   into it over NBD) and the config drive copied from the source (libvirt cannot copy a
 *   read-only disk);
 * - cold: the root disk copied from the source, rebased onto the local base image and
 *   grown to `root_gb` when bigger.
 * CHAP secrets of the volumes are defined for this host's connections. Idempotent; on
 * failure nothing is left.
 */
export const PrepareIncoming = defineRoute({
  name: 'compute.migration_prepare',
  method: 'POST',
  url: '/v1/compute/migrations/incoming',
  body: Type.Object(
    {
      uuid: Uuid,
      mode: Type.Union([Type.Literal('live'), Type.Literal('cold')]),
      /** The image the root disk is an overlay of; absent for volume-backed instances. */
      image: Type.Optional(ImageSource),
      /** Live: the size of the empty root disk (the source's virtual size). */
      root_virtual_size: Type.Optional(Type.Integer({ minimum: 0 })),
      /** Cold: the root disk grows to this many GiB when it is smaller (resize). */
      root_gb: Type.Optional(Type.Integer({ minimum: 0, maximum: 65536 })),
      /** Where the files come from (the source agent) and the token of its offer. */
      fetch: Type.Optional(
        Type.Object({
          base_url: Type.String({ pattern: '^https?://', maxLength: 512 }),
          token: Token,
          files: Type.Array(TransferFile, { maxItems: 3 }),
        }),
      ),
      volumes: Type.Array(Type.Object({ volume_id: Uuid, connection: IscsiConnectionInfo }), { maxItems: 27 }),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({
    /** The instance directory here (paths differ between hosts). */
    instance_dir: Type.String(),
    /** Where this host's VNC displays listen. */
    console_host: Type.String(),
    /** Bytes copied from the source and how long it took. */
    fetched_bytes: Type.Integer({ minimum: 0 }),
    fetch_ms: Type.Number({ minimum: 0 }),
  }),
  timeoutMs: 60 * 60_000,
});

/** Progress of a live migration (libvirt's job statistics on the source). */
export const MigrationStats = Type.Object({
  memory_total: Type.Integer({ minimum: 0 }),
  memory_processed: Type.Integer({ minimum: 0 }),
  memory_remaining: Type.Integer({ minimum: 0 }),
  disk_total: Type.Integer({ minimum: 0 }),
  disk_processed: Type.Integer({ minimum: 0 }),
  disk_remaining: Type.Integer({ minimum: 0 }),
  elapsed_ms: Type.Integer({ minimum: 0 }),
  downtime_ms: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type MigrationStats = Static<typeof MigrationStats>;

/**
 * The source moves the running instance to the destination: libvirt peer-to-peer over
 * TLS (`qemu+tls://<dest>/system`, QEMU's own TLS for memory and disks), the root disk's
 * top layer copied over NBD, persistent on the destination and undefined here on
 * success. The destination's domain differs only in host-side details: its instance
 * directory, its VNC address and the CHAP user of each volume's connection there. On
 * success the source's files stay for `compute.migration_cleanup`; on failure the
 * instance keeps running here (409 MigrationFailed with libvirt's words, or
 * MigrationAborted after an abort).
 */
export const LiveMigrate = defineRoute({
  name: 'compute.live_migrate',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/live-migration',
  body: Type.Object(
    {
      uuid: Uuid,
      dest: Type.Object({ address: Addr, instance_dir: Type.String({ pattern: '^/' }), console_host: Addr }),
      /** inc: only the root disk's top layer (the base image is on the destination); none: shared or volume-backed. */
      copy_storage: Type.Union([Type.Literal('inc'), Type.Literal('all'), Type.Literal('none')]),
      volumes: Type.Array(Type.Object({ volume_id: Uuid, auth_username: Type.Optional(Type.String({ maxLength: 255 })) })),
      /** The longest pause (ms) QEMU aims for when it switches over (libvirt's default 300). */
      max_downtime_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000 })),
      /** Give up (abort) after this many seconds. */
      timeout_s: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400 })),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ ms: Type.Number({ minimum: 0 }), stats: Type.Union([MigrationStats, Type.Null()]) }),
  timeoutMs: 24 * 3600_000,
});

/** The live migration of this instance as libvirt reports it now, or `{running: false}`. */
export const LiveMigrationProgress = defineRoute({
  name: 'compute.live_migration_progress',
  method: 'GET',
  url: '/v1/compute/instances/:uuid/live-migration',
  body: Type.Object({ uuid: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ running: Type.Boolean(), stats: Type.Union([MigrationStats, Type.Null()]) }),
  timeoutMs: 15_000,
});

/** Aborts the running live migration (the instance stays here); `aborted: false` when none was running. */
export const LiveMigrationAbort = defineRoute({
  name: 'compute.live_migration_abort',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/live-migration/abort',
  body: Type.Object({ uuid: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ aborted: Type.Boolean() }),
  timeoutMs: 60_000,
});

/**
 * Makes a live migration that does not converge finish: the guest is paused, so no page
 * is dirtied and the last copy completes (Nova's force_complete without post-copy); it
 * runs again on the destination.
 */
export const LiveMigrationForceComplete = defineRoute({
  name: 'compute.live_migration_force_complete',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/live-migration/force-complete',
  body: Type.Object({ uuid: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ paused: Type.Boolean() }),
  timeoutMs: 60_000,
});

/**
 * Removes what an instance left on a host it no longer runs on (the source after a move,
 * a destination after a failed one): its domain when there is one (`keep_running`: never
 * a running one — 409 InvalidState instead), its directory, the CHAP secrets of these
 * volumes, offers of its files. Succeeds when nothing is there.
 */
export const CleanupInstance = defineRoute({
  name: 'compute.migration_cleanup',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/cleanup',
  body: Type.Object(
    { uuid: Uuid, volume_ids: Type.Array(Uuid, { maxItems: 27 }), keep_running: Type.Optional(Type.Boolean()) },
    { additionalProperties: false },
  ),
  reply: Type.Object({ domain: Type.Boolean(), files: Type.Boolean() }),
  timeoutMs: 120_000,
});
