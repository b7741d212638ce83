import { Type, type Static } from 'typebox';
import { defineRoute } from './contract.js';

/**
 * The controller ↔ volume-agent contract for volume backups (house style 3.3; additive
 * only). The agent's backup driver writes chunked, compressed, SHA-256-checked objects
 * to its backup target (`[backup]` in agent.toml: a directory or an S3 bucket).
 *
 * Errors (`{"error":{"code","message","retryable"}}`), all non-retryable; the controller
 * puts `code: message` in the backup's fail_reason:
 * - 404 `VolumeNotFound` / `SnapshotNotFound` / `ObjectNotFound`
 * - 400 `InvalidBackup` (size grew since the parent, chunk size changed...), `BadContainer`
 * - 503 `NoBackupTarget` (this host has `target = "none"`), `TargetUnreachable`
 * - 507 `TargetFull`
 * - 500 `BackupCorrupt` (a chunk does not match its SHA-256: the message names it),
 *   `BackupIncomplete` (metadata or objects missing), `BackupInterrupted` /
 *   `RestoreInterrupted` (the agent stopped during the work; what it wrote is removed),
 *   `TargetError`.
 */

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Container = Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.\\-/]+$' });
const Prefix = Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.-]+$' });

/** Where a finished backup's objects are. */
export const BackupRef = Type.Object(
  { id: Uuid, container: Container, service_metadata: Prefix },
  { additionalProperties: false },
);
export type BackupRef = Static<typeof BackupRef>;

/**
 * Back up a volume. Source: the volume itself (it is `backing-up`, nobody writes it),
 * a temporary snapshot taken and removed by the agent (`temp_snapshot`: an in-use
 * volume), or a user's snapshot (`snapshot_id`). With `parent`, only changed chunks.
 */
export const CreateBackup = defineRoute({
  name: 'backup.create',
  method: 'POST',
  url: '/v1/backups',
  body: Type.Object(
    {
      id: Uuid,
      volume_id: Uuid,
      snapshot_id: Type.Union([Uuid, Type.Null()]),
      temp_snapshot: Type.Boolean(),
      size_gb: Type.Integer({ minimum: 1, maximum: 65536 }),
      container: Type.Union([Container, Type.Null()]),
      parent: Type.Union([BackupRef, Type.Null()]),
      name: Type.Union([Type.String({ maxLength: 255 }), Type.Null()]),
      description: Type.Union([Type.String({ maxLength: 255 }), Type.Null()]),
      created_at: Type.String({ maxLength: 40 }),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({
    container: Container,
    service_metadata: Prefix,
    service: Type.String(),
    target_id: Type.String(),
    object_count: Type.Integer({ minimum: 0 }),
    stored_bytes: Type.Integer({ minimum: 0 }),
  }),
  timeoutMs: 86_400_000,
});

/**
 * Restore a chain (newest first, its full backup last) into an existing volume of this
 * host. `volume_is_new`: the volume was just made for this restore (zero chunks need no
 * write when the back end's new volumes read as zeros).
 */
export const RestoreBackup = defineRoute({
  name: 'backup.restore',
  method: 'POST',
  url: '/v1/backups/:id/restore',
  body: Type.Object(
    {
      id: Uuid,
      volume_id: Uuid,
      chain: Type.Array(BackupRef, { minItems: 1, maxItems: 10_000 }),
      volume_is_new: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ bytes: Type.Integer({ minimum: 0 }) }),
  timeoutMs: 86_400_000,
});

/** Delete a backup's objects. Succeeds when they are already gone. */
export const DeleteBackup = defineRoute({
  name: 'backup.delete',
  method: 'DELETE',
  url: '/v1/backups/:id',
  body: Type.Object(
    { id: Uuid, container: Type.Union([Container, Type.Null()]), service_metadata: Type.Union([Prefix, Type.Null()]) },
    {
      additionalProperties: false,
    },
  ),
  reply: Type.Object({ objects: Type.Integer({ minimum: 0 }) }),
  timeoutMs: 3_600_000,
});

/** Check that an imported record's backup is whole on this host's target (record import). */
export const VerifyBackup = defineRoute({
  name: 'backup.verify',
  method: 'POST',
  url: '/v1/backups/:id/verify',
  body: BackupRef,
  reply: Type.Object({
    volume_id: Uuid,
    size_bytes: Type.Integer({ minimum: 0 }),
    object_count: Type.Integer({ minimum: 0 }),
    parent_id: Type.Union([Uuid, Type.Null()]),
    target_id: Type.String(),
    service: Type.String(),
  }),
  timeoutMs: 600_000,
});

/** How far a running backup or restore has got (synchronous; 404 when none runs). */
export const BackupProgress = defineRoute({
  name: 'backup.progress',
  method: 'GET',
  url: '/v1/backups/:id/progress',
  body: Type.Object({ id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({
    kind: Type.Union([Type.Literal('backup'), Type.Literal('restore')]),
    objects: Type.Integer({ minimum: 0 }),
    bytes_done: Type.Integer({ minimum: 0 }),
    bytes_total: Type.Integer({ minimum: 0 }),
  }),
  timeoutMs: 10_000,
});

export const BACKUP_ROUTES = [CreateBackup, RestoreBackup, DeleteBackup, VerifyBackup, BackupProgress] as const;
