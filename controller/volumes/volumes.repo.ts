import type { Db } from '../db/open.js';

/** SQL only (house style 3.1): rows of the block-storage tables, decoded. */

export interface VolumeRow {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  reason: string | null;
  volume_type_id: string | null;
  availability_zone: string;
  host_id: string | null;
  backend: string | null;
  bootable: number;
  metadata: string;
  snapshot_id: string | null;
  source_volid: string | null;
  image_id: string | null;
  image_name: string | null;
  multiattach: number;
  created_at: string;
  updated_at: string;
}

export interface SnapshotRow {
  id: string;
  project_id: string;
  user_id: string;
  volume_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  reason: string | null;
  metadata: string;
  /** Cinder's progress ('80%'); null when none was reported (migration 016). */
  progress: string | null;
  created_at: string;
  updated_at: string;
}

export interface AttachmentRow {
  id: string;
  volume_id: string;
  instance_uuid: string | null;
  attached_host: string | null;
  connector: string | null;
  chap_username: string;
  chap_password: string;
  mountpoint: string | null;
  attach_mode: string;
  attach_status: string;
  attached_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface TypeRow {
  id: string;
  name: string;
  description: string | null;
  is_public: number;
  extra_specs: string;
  created_at: string;
  updated_at: string;
}

export class VolumesRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
  ) {}
  private ts() {
    return this.now().toISOString();
  }

  // Volumes
  getVolume(id: string): VolumeRow | null {
    return (this.db.prepare('SELECT * FROM volumes WHERE id = ?').get(id) as VolumeRow | undefined) ?? null;
  }
  listVolumes(projectId: string | null): VolumeRow[] {
    return (
      projectId === null
        ? this.db.prepare('SELECT * FROM volumes ORDER BY created_at DESC, id').all()
        : this.db.prepare('SELECT * FROM volumes WHERE project_id = ? ORDER BY created_at DESC, id').all(projectId)
    ) as VolumeRow[];
  }
  insertVolume(v: Omit<VolumeRow, 'created_at' | 'updated_at' | 'reason'>): VolumeRow {
    const ts = this.ts();
    this.db
      .prepare(
        `INSERT INTO volumes (id, project_id, user_id, name, description, size, status, volume_type_id, availability_zone, host_id, backend, bootable,
         metadata, snapshot_id, source_volid, image_id, image_name, multiattach, created_at, updated_at)
       VALUES (@id, @project_id, @user_id, @name, @description, @size, @status, @volume_type_id, @availability_zone, @host_id, @backend, @bootable,
         @metadata, @snapshot_id, @source_volid, @image_id, @image_name, @multiattach, @ts, @ts)`,
      )
      .run({ ...v, ts });
    return this.getVolume(v.id)!;
  }
  /** Updates fields; with `fromStatus`, only when the status is one of those (returns false otherwise). */
  updateVolume(
    id: string,
    f: Partial<
      Pick<VolumeRow, 'name' | 'description' | 'size' | 'status' | 'reason' | 'bootable' | 'metadata' | 'volume_type_id'>
    >,
    fromStatus?: string[],
  ): boolean {
    const keys = Object.keys(f).filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    const sets = [...keys.map((k) => `${k} = @${k}`), 'updated_at = @ts'];
    let sql = `UPDATE volumes SET ${sets.join(', ')} WHERE id = @id`;
    if (fromStatus) sql += ` AND status IN (${fromStatus.map((_s, i) => `@s${i}`).join(', ')})`;
    const params: Record<string, unknown> = { ...f, id, ts: this.ts() };
    fromStatus?.forEach((s, i) => {
      params[`s${i}`] = s;
    });
    return this.db.prepare(sql).run(params).changes > 0;
  }
  deleteVolume(id: string): void {
    this.db.prepare('DELETE FROM volume_attachments WHERE volume_id = ?').run(id);
    this.db.prepare('DELETE FROM volumes WHERE id = ?').run(id);
  }
  usage(projectId: string): { volumes: number; gigabytes: number; snapshots: number } {
    const v = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS g FROM volumes WHERE project_id = ?')
      .get(projectId) as { n: number; g: number };
    const s = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS g FROM volume_snapshots WHERE project_id = ?')
      .get(projectId) as { n: number; g: number };
    return { volumes: v.n, gigabytes: v.g + s.g, snapshots: s.n };
  }

  // Snapshots
  getSnapshot(id: string): SnapshotRow | null {
    return (this.db.prepare('SELECT * FROM volume_snapshots WHERE id = ?').get(id) as SnapshotRow | undefined) ?? null;
  }
  listSnapshots(projectId: string | null): SnapshotRow[] {
    return (
      projectId === null
        ? this.db.prepare('SELECT * FROM volume_snapshots ORDER BY created_at DESC, id').all()
        : this.db.prepare('SELECT * FROM volume_snapshots WHERE project_id = ? ORDER BY created_at DESC, id').all(projectId)
    ) as SnapshotRow[];
  }
  snapshotsOf(volumeId: string): SnapshotRow[] {
    return this.db.prepare('SELECT * FROM volume_snapshots WHERE volume_id = ?').all(volumeId) as SnapshotRow[];
  }
  insertSnapshot(s: Omit<SnapshotRow, 'created_at' | 'updated_at' | 'reason' | 'progress'>): SnapshotRow {
    const ts = this.ts();
    this.db
      .prepare(
        `INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, name, description, size, status, metadata, created_at, updated_at)
       VALUES (@id, @project_id, @user_id, @volume_id, @name, @description, @size, @status, @metadata, @ts, @ts)`,
      )
      .run({ ...s, ts });
    return this.getSnapshot(s.id)!;
  }
  updateSnapshot(
    id: string,
    f: Partial<Pick<SnapshotRow, 'name' | 'description' | 'status' | 'reason' | 'metadata' | 'progress'>>,
    fromStatus?: string[],
  ): boolean {
    const keys = Object.keys(f).filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    let sql = `UPDATE volume_snapshots SET ${[...keys.map((k) => `${k} = @${k}`), 'updated_at = @ts'].join(', ')} WHERE id = @id`;
    if (fromStatus) sql += ` AND status IN (${fromStatus.map((_s, i) => `@s${i}`).join(', ')})`;
    const params: Record<string, unknown> = { ...f, id, ts: this.ts() };
    fromStatus?.forEach((s, i) => {
      params[`s${i}`] = s;
    });
    return this.db.prepare(sql).run(params).changes > 0;
  }
  deleteSnapshot(id: string): void {
    this.db.prepare('DELETE FROM volume_snapshots WHERE id = ?').run(id);
  }

  // Attachments
  getAttachment(id: string): AttachmentRow | null {
    return (this.db.prepare('SELECT * FROM volume_attachments WHERE id = ?').get(id) as AttachmentRow | undefined) ?? null;
  }
  attachmentsOf(volumeId: string): AttachmentRow[] {
    return this.db
      .prepare('SELECT * FROM volume_attachments WHERE volume_id = ? ORDER BY created_at')
      .all(volumeId) as AttachmentRow[];
  }
  listAttachments(): AttachmentRow[] {
    return this.db.prepare('SELECT * FROM volume_attachments ORDER BY created_at').all() as AttachmentRow[];
  }
  insertAttachment(a: Omit<AttachmentRow, 'created_at' | 'updated_at'>): AttachmentRow {
    const ts = this.ts();
    this.db
      .prepare(
        `INSERT INTO volume_attachments (id, volume_id, instance_uuid, attached_host, connector, chap_username, chap_password, mountpoint, attach_mode,
         attach_status, attached_at, created_at, updated_at)
       VALUES (@id, @volume_id, @instance_uuid, @attached_host, @connector, @chap_username, @chap_password, @mountpoint, @attach_mode,
         @attach_status, @attached_at, @ts, @ts)`,
      )
      .run({ ...a, ts });
    return this.getAttachment(a.id)!;
  }
  updateAttachment(
    id: string,
    f: Partial<
      Pick<AttachmentRow, 'attach_status' | 'mountpoint' | 'attached_at' | 'connector' | 'attached_host' | 'instance_uuid'>
    >,
  ): void {
    const keys = Object.keys(f).filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    this.db
      .prepare(
        `UPDATE volume_attachments SET ${[...keys.map((k) => `${k} = @${k}`), 'updated_at = @ts'].join(', ')} WHERE id = @id`,
      )
      .run({ ...f, id, ts: this.ts() });
  }
  deleteAttachment(id: string): void {
    this.db.prepare('DELETE FROM volume_attachments WHERE id = ?').run(id);
  }
  deleteAttachmentsOf(volumeId: string): void {
    this.db.prepare('DELETE FROM volume_attachments WHERE volume_id = ?').run(volumeId);
  }
  /** The attachment's export connection is gone (terminate_connection). */
  clearConnector(id: string): void {
    this.db.prepare('UPDATE volume_attachments SET connector = NULL WHERE id = ?').run(id);
  }
  /** Attachments of the host's volumes that have a connection (attaching or attached). */
  connectedOnHost(hostId: string): AttachmentRow[] {
    return this.db
      .prepare(
        `SELECT a.* FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id WHERE v.host_id = ? AND a.connector IS NOT NULL AND a.attach_status IN ('attaching', 'attached')`,
      )
      .all(hostId) as AttachmentRow[];
  }
  /** A volume is being created from the snapshot. */
  snapshotBusy(snapshotId: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM volumes WHERE snapshot_id = ? AND status IN ('creating')").get(snapshotId);
  }

  // Types
  listTypes(): TypeRow[] {
    return this.db.prepare('SELECT * FROM volume_types ORDER BY created_at, name').all() as TypeRow[];
  }
  getType(idOrName: string): TypeRow | null {
    return (
      (this.db
        .prepare('SELECT * FROM volume_types WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1')
        .get(idOrName, idOrName, idOrName) as TypeRow | undefined) ?? null
    );
  }
  insertType(t: Omit<TypeRow, 'created_at' | 'updated_at'>): TypeRow {
    const ts = this.ts();
    this.db
      .prepare(
        'INSERT OR IGNORE INTO volume_types (id, name, description, is_public, extra_specs, created_at, updated_at) VALUES (@id, @name, @description, @is_public, @extra_specs, @ts, @ts)',
      )
      .run({ ...t, ts });
    return this.getType(t.name)!;
  }
  updateType(id: string, f: Partial<Pick<TypeRow, 'name' | 'description' | 'is_public'>>): void {
    const keys = Object.keys(f).filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    const sets = [...keys.map((k) => `${k} = @${k}`), 'updated_at = @ts'];
    this.db.prepare(`UPDATE volume_types SET ${sets.join(', ')} WHERE id = @id`).run({ ...f, id, ts: this.ts() });
  }
  deleteType(id: string): void {
    this.db.prepare('DELETE FROM volume_types WHERE id = ?').run(id);
  }
  typeInUse(id: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM volumes WHERE volume_type_id = ? LIMIT 1').get(id);
  }

  // Quotas
  quotaOverrides(projectId: string): Record<string, number> {
    const rows = this.db.prepare('SELECT resource, hard_limit FROM volume_quotas WHERE project_id = ?').all(projectId) as Array<{
      resource: string;
      hard_limit: number;
    }>;
    return Object.fromEntries(rows.map((r) => [r.resource, r.hard_limit]));
  }
  setQuota(projectId: string, resource: string, limit: number): void {
    this.db
      .prepare(
        'INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?) ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit',
      )
      .run(projectId, resource, limit);
  }
  deleteQuotas(projectId: string): void {
    this.db.prepare('DELETE FROM volume_quotas WHERE project_id = ?').run(projectId);
  }
}
