import { Type, type Static } from 'typebox';
import { BackupRef } from './backup.js';
import { ImageSource, IscsiConnectionInfo } from './compute.js';
import { defineRoute } from './contract.js';

/**
 * The controller ↔ volume-agent contract (house style 3.3). Changes are additive only.
 *
 * Nouns: the API says volume, snapshot and attachment; inside the agent the back end
 * speaks of files or LVs and the target of tids, LUNs and accounts: none of those
 * cross this boundary except the device path (for the controller's logs).
 *
 * Errors the volume agent replies with (`{"error":{"code","message","retryable"}}`):
 * - 404 `VolumeNotFound` / `SnapshotNotFound` (never for deletes: they succeed when absent).
 * - 409 `VolumeExists` (create of an id whose data already exists with another size).
 * - 400 `BadRequest`: a shrink, an image that does not fit, a bad connector.
 * - 507 `NoSpace`: the back end is full.
 * - 500 `ImageFetchFailed` / `ChecksumMismatch` / `BackendError` / `TargetError`:
 *   the message names the failing step; the controller puts it in the volume's reason.
 */

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Iqn = Type.String({ pattern: '^(iqn|eui|naa)\\.[A-Za-z0-9.:_-]{1,200}$' });

export { IscsiConnectionInfo };

export const VolumeSource = Type.Union([
  Type.Object({ type: Type.Literal('empty') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('snapshot'), snapshot_id: Uuid }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('volume'), volume_id: Uuid }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('image'), image: ImageSource }, { additionalProperties: false }),
  /** A backup chain (newest first) restored into the new volume by the host's backup driver. */
  Type.Object(
    {
      type: Type.Literal('backup'),
      backup_id: Type.String({ maxLength: 36 }),
      chain: Type.Array(BackupRef, { minItems: 1, maxItems: 10_000 }),
    },
    { additionalProperties: false },
  ),
]);
export type VolumeSource = Static<typeof VolumeSource>;

export const CreateVolume = defineRoute({
  name: 'volume.create',
  method: 'POST',
  url: '/v1/volumes',
  body: Type.Object(
    { id: Uuid, size_gb: Type.Integer({ minimum: 1, maximum: 65536 }), source: VolumeSource },
    { additionalProperties: false },
  ),
  reply: Type.Object({ device_path: Type.String(), size_gb: Type.Integer({ minimum: 1 }) }),
  // An image download and conversion can take a while.
  timeoutMs: 3_600_000,
});

export const DeleteVolume = defineRoute({
  name: 'volume.delete',
  method: 'DELETE',
  url: '/v1/volumes/:id',
  body: Type.Object({ id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({}),
  timeoutMs: 120_000,
});

export const ExtendVolume = defineRoute({
  name: 'volume.extend',
  method: 'POST',
  url: '/v1/volumes/:id/extend',
  body: Type.Object({ id: Uuid, size_gb: Type.Integer({ minimum: 1, maximum: 65536 }) }, { additionalProperties: false }),
  reply: Type.Object({ size_gb: Type.Integer({ minimum: 1 }) }),
  timeoutMs: 120_000,
});

export const CreateSnapshot = defineRoute({
  name: 'volume.snapshot_create',
  method: 'POST',
  url: '/v1/snapshots',
  body: Type.Object({ id: Uuid, volume_id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({}),
  timeoutMs: 1_800_000,
});

export const DeleteSnapshot = defineRoute({
  name: 'volume.snapshot_delete',
  method: 'DELETE',
  url: '/v1/snapshots/:id',
  body: Type.Object({ id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({}),
  timeoutMs: 120_000,
});

/**
 * os-volume_upload_image: the volume's data converted to `disk_format` (qemu-img) and
 * streamed by PUT to `upload_url` with `X-Auth-Token: token` (Glance's image-data upload),
 * as the compute agent's Snapshot uploads. The volume is `uploading` meanwhile (the
 * controller lets nobody write or attach it). Not idempotent: a retry after the upload
 * finished gets the image API's 409 (the image is active), an error the controller checks
 * against the image's status. VolumeNotFound if the volume is not on this host.
 */
export const UploadVolumeToImage = defineRoute({
  name: 'volume.upload_image',
  method: 'POST',
  url: '/v1/volumes/:id/upload',
  body: Type.Object(
    {
      id: Uuid,
      image_id: Uuid,
      upload_url: Type.String({ pattern: '^https?://', maxLength: 4096 }),
      token: Type.String({ minLength: 1, maxLength: 8192 }),
      disk_format: Type.Union([
        Type.Literal('raw'),
        Type.Literal('qcow2'),
        Type.Literal('vmdk'),
        Type.Literal('vdi'),
        Type.Literal('vhd'),
        Type.Literal('vhdx'),
      ]),
    },
    { additionalProperties: false },
  ),
  /** What was uploaded: its size in bytes and MD5 hex. */
  reply: Type.Object({ size: Type.Integer({ minimum: 0 }), checksum: Type.String() }),
  timeoutMs: 3_600_000,
});

/** Who connects: the compute host's initiator (IQN) and the address it connects from. */
export const Connector = Type.Object(
  {
    initiator: Iqn,
    /** Source address of the initiator (ACL); optional. */
    address: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F.:]{2,45}$' })),
  },
  { additionalProperties: false },
);
export type Connector = Static<typeof Connector>;

/** CHAP credentials of one attachment (chosen and kept by the controller). */
export const ChapAuth = Type.Object(
  {
    username: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    password: Type.String({ pattern: '^[A-Za-z0-9_.+=/-]{12,64}$' }),
  },
  { additionalProperties: false },
);
export type ChapAuth = Static<typeof ChapAuth>;

/** Export the volume (if not yet) and let this connector in with these credentials. */
export const InitializeConnection = defineRoute({
  name: 'volume.initialize_connection',
  method: 'POST',
  url: '/v1/volumes/:id/connections',
  body: Type.Object({ id: Uuid, connector: Connector, auth: ChapAuth }, { additionalProperties: false }),
  reply: Type.Object({ connection: IscsiConnectionInfo }),
  timeoutMs: 60_000,
});

/** Revoke one connection's credentials and ACL; succeeds when already gone. */
export const TerminateConnection = defineRoute({
  name: 'volume.terminate_connection',
  method: 'POST',
  url: '/v1/volumes/:id/connections/terminate',
  body: Type.Object({ id: Uuid, connector: Connector, auth: ChapAuth }, { additionalProperties: false }),
  reply: Type.Object({}),
  timeoutMs: 60_000,
});

/**
 * The whole desired set of connections (sent when the host (re)registers: tgtd keeps
 * its configuration in memory only). Volumes not listed keep their export with no
 * connection; stale credentials are removed.
 */
export const SyncConnections = defineRoute({
  name: 'volume.sync_connections',
  method: 'PUT',
  url: '/v1/connections',
  body: Type.Object(
    {
      connections: Type.Array(
        Type.Object({ volume_id: Uuid, connector: Connector, auth: ChapAuth }, { additionalProperties: false }),
        { maxItems: 10_000 },
      ),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ exports: Type.Integer({ minimum: 0 }), connections: Type.Integer({ minimum: 0 }) }),
  timeoutMs: 300_000,
});

export const VolumeStats = defineRoute({
  name: 'volume.stats',
  method: 'GET',
  url: '/v1/volume-stats',
  body: Type.Object({}),
  reply: Type.Object({
    backend: Type.String(),
    total_gb: Type.Number({ minimum: 0 }),
    free_gb: Type.Number({ minimum: 0 }),
    volumes: Type.Integer({ minimum: 0 }),
    exports: Type.Integer({ minimum: 0 }),
  }),
  timeoutMs: 30_000,
});

export const VOLUME_ROUTES = [
  CreateVolume,
  DeleteVolume,
  ExtendVolume,
  CreateSnapshot,
  DeleteSnapshot,
  InitializeConnection,
  TerminateConnection,
  SyncConnections,
  VolumeStats,
  UploadVolumeToImage,
] as const;
