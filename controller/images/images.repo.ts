import type { Db } from '../db/open.js';

/** One image row, decoded. */
export interface ImageRow {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: number;
  min_ram: number;
  owner: string | null;
  properties: Record<string, string>;
  tags: string[];
  store_key: string | null;
  /** Ids of the stores holding the data under store_key, sorted (Glance's `stores`). */
  stores: string[];
  /** The running import's task id (os_glance_import_task), or null. */
  import_task: string | null;
  /** os_glance_importing_to_stores / os_glance_failed_import: comma-separated store ids; null before any import. */
  importing_stores: string | null;
  failed_stores: string | null;
  created_at: string;
  updated_at: string;
}

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deactivated' | 'uploading' | 'importing';
export type Visibility = 'public' | 'community' | 'shared' | 'private';
export type MemberStatus = 'pending' | 'accepted' | 'rejected';

export interface MemberRow {
  image_id: string;
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}

type Raw = Omit<ImageRow, 'protected' | 'os_hidden' | 'properties' | 'tags' | 'stores'> & {
  protected: number;
  os_hidden: number;
  properties: string;
  tags: string;
  stores: string;
};

const decode = (r: Raw): ImageRow => ({
  ...r,
  protected: r.protected === 1,
  os_hidden: r.os_hidden === 1,
  properties: JSON.parse(r.properties) as Record<string, string>,
  tags: JSON.parse(r.tags) as string[],
  stores: JSON.parse(r.stores) as string[],
});

const COLUMNS = [
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'os_hidden',
  'disk_format',
  'container_format',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'min_disk',
  'min_ram',
  'owner',
  'properties',
  'tags',
  'store_key',
  'stores',
  'import_task',
  'importing_stores',
  'failed_stores',
  'created_at',
  'updated_at',
] as const;

function encode(r: Partial<ImageRow>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === 'protected' || k === 'os_hidden') out[k] = v ? 1 : 0;
    else if (k === 'properties' || k === 'tags') out[k] = JSON.stringify(v);
    else if (k === 'stores') out[k] = JSON.stringify([...new Set(v as string[])].sort());
    else out[k] = v;
  }
  return out;
}

/** SQL only (house style 3.1): images and their members. */
export class ImageRepo {
  constructor(private readonly db: Db) {}

  get(id: string): ImageRow | null {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as Raw | undefined;
    return r ? decode(r) : null;
  }

  insert(row: ImageRow): void {
    const cols = COLUMNS.join(', ');
    const params = COLUMNS.map((c) => `@${c}`).join(', ');
    this.db.prepare(`INSERT INTO images (${cols}) VALUES (${params})`).run(encode(row));
  }

  /** Updates the given columns; with `whereStatus`, only if the row is in one of them. Returns whether a row changed. */
  update(id: string, fields: Partial<Omit<ImageRow, 'id'>>, whereStatus?: ImageStatus[]): boolean {
    const keys = Object.keys(fields).filter((k) => (COLUMNS as readonly string[]).includes(k));
    if (!keys.length) return false;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    let sql = `UPDATE images SET ${set} WHERE id = @__id`;
    const params: Record<string, unknown> = { ...encode(fields), __id: id };
    if (whereStatus?.length) {
      sql += ` AND status IN (${whereStatus.map((_, i) => `@__s${i}`).join(', ')})`;
      whereStatus.forEach((s, i) => (params[`__s${i}`] = s));
    }
    return this.db.prepare(sql).run(params).changes > 0;
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM images WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Candidate rows for a list: everything for an admin, otherwise what the project
   * owns, public and community images, and shared images it is a member of.
   */
  /** An owner's images whose properties include all of `props`, newest first (Nova's backup rotation). */
  withProperties(owner: string, props: Record<string, string>): ImageRow[] {
    const keys = Object.keys(props);
    const rows = this.db
      .prepare(
        `SELECT * FROM images WHERE owner = @owner ${keys.map((_k, n) => `AND json_extract(properties, @k${n}) = @v${n}`).join(' ')}
         ORDER BY created_at DESC, rowid DESC`, // created_at has whole seconds; rowid keeps the insertion order
      )
      .all({
        owner,
        ...Object.fromEntries(
          keys.flatMap((k, n) => [
            [`k${n}`, `$.${JSON.stringify(k)}`],
            [`v${n}`, props[k]],
          ]),
        ),
      }) as Raw[];
    return rows.map(decode);
  }

  listVisibleTo(projectId: string | null, all: boolean): Array<ImageRow & { member_status: MemberStatus | null }> {
    const rows = all
      ? (this.db
          .prepare(
            `SELECT i.*, m.status AS member_status FROM images i
             LEFT JOIN image_members m ON m.image_id = i.id AND m.member_id = ?`,
          )
          .all(projectId ?? '') as Array<Raw & { member_status: MemberStatus | null }>)
      : (this.db
          .prepare(
            `SELECT i.*, m.status AS member_status FROM images i
             LEFT JOIN image_members m ON m.image_id = i.id AND m.member_id = @p
             WHERE i.owner = @p OR i.visibility IN ('public', 'community')
                OR (i.visibility = 'shared' AND m.member_id IS NOT NULL)`,
          )
          .all({ p: projectId ?? '' }) as Array<Raw & { member_status: MemberStatus | null }>);
    return rows.map((r) => ({ ...decode(r), member_status: r.member_status }));
  }

  /** Bytes stored for a project's images (active, saving and deactivated ones). */
  storedBytes(owner: string): number {
    const r = this.db
      .prepare(`SELECT COALESCE(SUM(size), 0) AS n FROM images WHERE owner = ? AND status IN ('active', 'saving', 'deactivated')`)
      .get(owner) as { n: number };
    return r.n;
  }

  /** Whether an image's data lives under `key` in the store `storeId`. */
  hasData(storeId: string, key: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM images WHERE store_key = ? AND EXISTS (SELECT 1 FROM json_each(images.stores) WHERE value = ?)')
        .get(key, storeId) !== undefined
    );
  }

  /** Images in one of `statuses` (startup recovery). */
  withStatus(statuses: ImageStatus[]): ImageRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM images WHERE status IN (${statuses.map(() => '?').join(', ')})`)
      .all(...statuses) as Raw[];
    return rows.map(decode);
  }

  /**
   * Takes the import lock (os_glance_import_task) for `taskId` if nobody holds it and
   * the image is in one of `whereStatus`; with `fields` set in the same statement.
   * Returns whether it was taken.
   */
  takeImportLock(id: string, taskId: string, whereStatus: ImageStatus[], fields: Partial<ImageRow> = {}): boolean {
    return this.updateWhere(id, { ...fields, import_task: taskId }, whereStatus, 'import_task IS NULL');
  }

  /** Updates only while `taskId` holds the import lock. Returns whether a row changed. */
  updateIfLocked(id: string, taskId: string, fields: Partial<Omit<ImageRow, 'id'>>, whereStatus?: ImageStatus[]): boolean {
    return this.updateWhere(id, fields, whereStatus, 'import_task = @__task', { __task: taskId });
  }

  private updateWhere(
    id: string,
    fields: Partial<Omit<ImageRow, 'id'>>,
    whereStatus: ImageStatus[] | undefined,
    extra: string,
    extraParams: Record<string, unknown> = {},
  ): boolean {
    const keys = Object.keys(fields).filter((k) => (COLUMNS as readonly string[]).includes(k));
    if (!keys.length) return false;
    let sql = `UPDATE images SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @__id AND ${extra}`;
    const params: Record<string, unknown> = { ...encode(fields), ...extraParams, __id: id };
    if (whereStatus?.length) {
      sql += ` AND status IN (${whereStatus.map((_, i) => `@__s${i}`).join(', ')})`;
      whereStatus.forEach((s, i) => (params[`__s${i}`] = s));
    }
    return this.db.prepare(sql).run(params).changes > 0;
  }

  /** Images left `saving` by a controller that stopped mid-upload. */
  resetSaving(now: string): number {
    return this.db.prepare(`UPDATE images SET status = 'queued', size = NULL, updated_at = ? WHERE status = 'saving'`).run(now)
      .changes;
  }

  member(imageId: string, memberId: string): MemberRow | null {
    return (
      (this.db.prepare('SELECT * FROM image_members WHERE image_id = ? AND member_id = ?').get(imageId, memberId) as
        | MemberRow
        | undefined) ?? null
    );
  }

  members(imageId: string): MemberRow[] {
    return this.db
      .prepare('SELECT * FROM image_members WHERE image_id = ? ORDER BY created_at, member_id')
      .all(imageId) as MemberRow[];
  }

  insertMember(m: MemberRow): void {
    this.db
      .prepare(
        'INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) VALUES (@image_id, @member_id, @status, @created_at, @updated_at)',
      )
      .run(m);
  }

  updateMember(imageId: string, memberId: string, status: MemberStatus, now: string): boolean {
    return (
      this.db
        .prepare('UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?')
        .run(status, now, imageId, memberId).changes > 0
    );
  }

  deleteMember(imageId: string, memberId: string): boolean {
    return this.db.prepare('DELETE FROM image_members WHERE image_id = ? AND member_id = ?').run(imageId, memberId).changes > 0;
  }
}
