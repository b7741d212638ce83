import type { Db } from '../db/open.js';

/** SQL only (house style 3.1): volume backups. */

export interface BackupRow {
  id: string;
  project_id: string;
  user_id: string;
  volume_id: string;
  snapshot_id: string | null;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  fail_reason: string | null;
  availability_zone: string | null;
  container: string | null;
  service: string | null;
  service_metadata: string | null;
  target_id: string | null;
  host_id: string | null;
  parent_id: string | null;
  object_count: number;
  stored_bytes: number | null;
  data_timestamp: string;
  restore_volume_id: string | null;
  temp_snapshot: number;
  metadata: string;
  volume_meta: string;
  /** The backup schedule that made it (014_backup_schedules.sql); null: made by hand. */
  schedule_id: string | null;
  created_at: string;
  updated_at: string;
}

type Updatable = Omit<BackupRow, 'id' | 'project_id' | 'user_id' | 'volume_id' | 'schedule_id' | 'created_at' | 'updated_at'>;

export class BackupsRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
  ) {}

  get(id: string): BackupRow | null {
    return (this.db.prepare('SELECT * FROM volume_backups WHERE id = ?').get(id) as BackupRow | undefined) ?? null;
  }

  /** Newest first (Cinder's default sort: created_at desc). */
  list(projectId: string | null): BackupRow[] {
    return (
      projectId === null
        ? this.db.prepare('SELECT * FROM volume_backups ORDER BY created_at DESC, id').all()
        : this.db.prepare('SELECT * FROM volume_backups WHERE project_id = ? ORDER BY created_at DESC, id').all(projectId)
    ) as BackupRow[];
  }

  ofVolume(volumeId: string): BackupRow[] {
    return this.db
      .prepare('SELECT * FROM volume_backups WHERE volume_id = ? ORDER BY created_at DESC, id')
      .all(volumeId) as BackupRow[];
  }

  /** A schedule's backups, newest first. */
  ofSchedule(scheduleId: string): BackupRow[] {
    return this.db
      .prepare('SELECT * FROM volume_backups WHERE schedule_id = ? ORDER BY created_at DESC, id DESC')
      .all(scheduleId) as BackupRow[];
  }

  children(id: string): BackupRow[] {
    return this.db.prepare('SELECT * FROM volume_backups WHERE parent_id = ?').all(id) as BackupRow[];
  }

  /** In a state where the backup host is working on it. */
  busy(): BackupRow[] {
    return this.db.prepare(`SELECT * FROM volume_backups WHERE status IN ('creating', 'restoring')`).all() as BackupRow[];
  }

  insert(
    b: Omit<BackupRow, 'created_at' | 'updated_at' | 'schedule_id'> & { created_at?: string; schedule_id?: string | null },
  ): BackupRow {
    const ts = this.now().toISOString();
    this.db
      .prepare(
        `INSERT INTO volume_backups (id, project_id, user_id, volume_id, snapshot_id, name, description, size, status, fail_reason,
           availability_zone, container, service, service_metadata, target_id, host_id, parent_id, object_count, stored_bytes,
           data_timestamp, restore_volume_id, temp_snapshot, metadata, volume_meta, schedule_id, created_at, updated_at)
         VALUES (@id, @project_id, @user_id, @volume_id, @snapshot_id, @name, @description, @size, @status, @fail_reason,
           @availability_zone, @container, @service, @service_metadata, @target_id, @host_id, @parent_id, @object_count, @stored_bytes,
           @data_timestamp, @restore_volume_id, @temp_snapshot, @metadata, @volume_meta, @schedule_id, @created_at, @ts)`,
      )
      .run({ ...b, schedule_id: b.schedule_id ?? null, created_at: b.created_at ?? ts, ts });
    return this.get(b.id)!;
  }

  /** Updates fields; with `fromStatus`, only when the status is one of those (false otherwise). */
  update(id: string, f: Partial<Updatable>, fromStatus?: string[]): boolean {
    const keys = Object.keys(f).filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    let sql = `UPDATE volume_backups SET ${[...keys.map((k) => `${k} = @${k}`), 'updated_at = @ts'].join(', ')} WHERE id = @id`;
    if (fromStatus) sql += ` AND status IN (${fromStatus.map((_s, i) => `@s${i}`).join(', ')})`;
    const params: Record<string, unknown> = { ...f, id, ts: this.now().toISOString() };
    fromStatus?.forEach((s, i) => {
      params[`s${i}`] = s;
    });
    return this.db.prepare(sql).run(params).changes > 0;
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM volume_backups WHERE id = ?').run(id);
  }

  usage(projectId: string): { backups: number; gigabytes: number } {
    const r = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS g FROM volume_backups WHERE project_id = ?')
      .get(projectId) as { n: number; g: number };
    return { backups: r.n, gigabytes: r.g };
  }

  // The volume's status while a backup or restore holds it (Cinder's previous_status).
  setVolumeBusy(volumeId: string, status: string, from: string[]): boolean {
    const ts = this.now().toISOString();
    return (
      this.db
        .prepare(
          `UPDATE volumes SET previous_status = status, status = ?, updated_at = ? WHERE id = ? AND status IN (${from.map(() => '?').join(', ')})`,
        )
        .run(status, ts, volumeId, ...from).changes > 0
    );
  }

  /** Back to the status it had before the backup (available or in-use). */
  restoreVolumeStatus(volumeId: string, busy: string): void {
    this.db
      .prepare(
        `UPDATE volumes SET status = COALESCE(previous_status, 'available'), previous_status = NULL, updated_at = ? WHERE id = ? AND status = ?`,
      )
      .run(this.now().toISOString(), volumeId, busy);
  }

  setSnapshotStatus(snapshotId: string, status: string, from: string[]): boolean {
    return (
      this.db
        .prepare(
          `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ? AND status IN (${from.map(() => '?').join(', ')})`,
        )
        .run(status, this.now().toISOString(), snapshotId, ...from).changes > 0
    );
  }
}
