import type { Db } from '../db/open.js';
import type { FlavorSnapshot } from './servers.repo.js';

export type MigrationType = 'live-migration' | 'migration' | 'resize' | 'evacuation';

export interface MoveDetails {
  volumes?: Array<{ volume_id: string; device: string; boot: boolean; oldAttachmentId: string | null; attachmentId: string }>;
  /** The destination's instance directory and console address (live migration). */
  destDir?: string;
}

/** One row of `migrations`, decoded. */
export interface MigrationRow {
  id: number;
  uuid: string;
  instance_uuid: string;
  migration_type: MigrationType;
  status: string;
  source_compute: string | null;
  source_node: string | null;
  source_host_id: string | null;
  dest_compute: string | null;
  dest_node: string | null;
  dest_host: string | null;
  dest_host_id: string | null;
  old_flavor: FlavorSnapshot | null;
  new_flavor: FlavorSnapshot | null;
  memory_total: number | null;
  memory_processed: number | null;
  memory_remaining: number | null;
  disk_total: number | null;
  disk_processed: number | null;
  disk_remaining: number | null;
  project_id: string;
  user_id: string;
  error: string | null;
  /** What the move made that must be undone or adopted (the destination's volume attachments). */
  details: MoveDetails;
  created_at: string;
  updated_at: string | null;
}

type Raw = Omit<MigrationRow, 'old_flavor' | 'new_flavor' | 'details'> & {
  old_flavor: string | null;
  new_flavor: string | null;
  details: string;
};
const decode = (r: Raw): MigrationRow => ({
  ...r,
  old_flavor: r.old_flavor ? JSON.parse(r.old_flavor) : null,
  new_flavor: r.new_flavor ? JSON.parse(r.new_flavor) : null,
  details: JSON.parse(r.details || '{}'),
});

export type NewMigration = Pick<
  MigrationRow,
  'uuid' | 'instance_uuid' | 'migration_type' | 'status' | 'project_id' | 'user_id' | 'created_at'
> &
  Partial<Omit<MigrationRow, 'id'>>;

export interface MigrationFilter {
  instanceUuid?: string;
  types?: string[];
  statuses?: string[];
  /** source_compute or dest_compute. */
  host?: string;
  sourceCompute?: string;
  changesSince?: string;
  changesBefore?: string;
  /** Rows after this one (newest first: smaller created_at/id). */
  markerId?: number;
  limit?: number;
}

const COLS = [
  'uuid',
  'instance_uuid',
  'migration_type',
  'status',
  'source_compute',
  'source_node',
  'source_host_id',
  'dest_compute',
  'dest_node',
  'dest_host',
  'dest_host_id',
  'old_flavor',
  'new_flavor',
  'memory_total',
  'memory_processed',
  'memory_remaining',
  'disk_total',
  'disk_processed',
  'disk_remaining',
  'project_id',
  'user_id',
  'error',
  'details',
  'created_at',
  'updated_at',
] as const;

const encode = (k: string, v: unknown) =>
  k === 'details' ? JSON.stringify(v ?? {}) : (k === 'old_flavor' || k === 'new_flavor') && v ? JSON.stringify(v) : (v ?? null);

/** SQL for migration records (no logic). */
export class MigrationsRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  insert(m: NewMigration): MigrationRow {
    const row = Object.fromEntries(COLS.map((c) => [c, encode(c, (m as Record<string, unknown>)[c])]));
    row.updated_at = row.updated_at ?? m.created_at;
    const id = Number(
      this.db.prepare(`INSERT INTO migrations (${COLS.join(', ')}) VALUES (${COLS.map((c) => `@${c}`).join(', ')})`).run(row)
        .lastInsertRowid,
    );
    return this.get(id)!;
  }

  get(id: number): MigrationRow | null {
    const r = this.db.prepare('SELECT * FROM migrations WHERE id = ? AND deleted = 0').get(id) as Raw | undefined;
    return r ? decode(r) : null;
  }

  byUuid(uuid: string): MigrationRow | null {
    const r = this.db.prepare('SELECT * FROM migrations WHERE uuid = ? AND deleted = 0').get(uuid) as Raw | undefined;
    return r ? decode(r) : null;
  }

  /** Updates columns and bumps updated_at. */
  update(id: number, fields: Partial<Omit<MigrationRow, 'id' | 'uuid'>>): void {
    const sets = ['updated_at = @updated_at'];
    const args: Record<string, unknown> = { id, updated_at: this.now() };
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'updated_at' || !(COLS as readonly string[]).includes(k)) continue;
      sets.push(`${k} = @${k}`);
      args[k] = encode(k, v);
    }
    this.db.prepare(`UPDATE migrations SET ${sets.join(', ')} WHERE id = @id`).run(args);
  }

  /** Sets the status only when it is one of `from` (compare-and-set). */
  setStatusIf(id: number, from: string[], to: string, extra: Partial<MigrationRow> = {}): boolean {
    const cur = this.get(id);
    if (!cur || !from.includes(cur.status)) return false;
    this.update(id, { ...extra, status: to });
    return true;
  }

  /** Newest first (Nova sorts by created_at desc, id desc). */
  list(f: MigrationFilter = {}): MigrationRow[] {
    const where = ['deleted = 0'];
    const args: unknown[] = [];
    if (f.instanceUuid) {
      where.push('instance_uuid = ?');
      args.push(f.instanceUuid);
    }
    if (f.types?.length) {
      where.push(`migration_type IN (${f.types.map(() => '?').join(',')})`);
      args.push(...f.types);
    }
    if (f.statuses?.length) {
      where.push(`status IN (${f.statuses.map(() => '?').join(',')})`);
      args.push(...f.statuses);
    }
    if (f.host) {
      where.push('(source_compute = ? OR dest_compute = ?)');
      args.push(f.host, f.host);
    }
    if (f.sourceCompute) {
      where.push('source_compute = ?');
      args.push(f.sourceCompute);
    }
    if (f.changesSince) {
      where.push('updated_at >= ?');
      args.push(f.changesSince);
    }
    if (f.changesBefore) {
      where.push('updated_at <= ?');
      args.push(f.changesBefore);
    }
    if (f.markerId !== undefined) {
      where.push('id < ?');
      args.push(f.markerId);
    }
    const sql = `SELECT * FROM migrations WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC${f.limit !== undefined ? ' LIMIT ?' : ''}`;
    if (f.limit !== undefined) args.push(f.limit);
    return (this.db.prepare(sql).all(...args) as Raw[]).map(decode);
  }

  /** Migrations of these types still moving the instance (not in a final state). */
  inProgress(instanceUuid: string, finals: readonly string[]): MigrationRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM migrations WHERE deleted = 0 AND instance_uuid = ? AND status NOT IN (${finals.map(() => '?').join(',')}) ORDER BY id DESC`,
        )
        .all(instanceUuid, ...finals) as Raw[]
    ).map(decode);
  }

  /** Every unfinished migration touching a host, as source or destination (reconciliation). */
  unfinishedOnHost(hostId: string, finals: readonly string[]): MigrationRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM migrations WHERE deleted = 0 AND (source_host_id = ? OR dest_host_id = ?) AND status NOT IN (${finals.map(() => '?').join(',')})`,
        )
        .all(hostId, hostId, ...finals) as Raw[]
    ).map(decode);
  }
}
