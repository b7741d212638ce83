import { BadRequest, NotFound } from '../../shared/errors/index.js';

type Query = Record<string, string | undefined>;

/** The sort keys a volume list accepts: Cinder sorts on the model's columns (`name` is display_name). */
export const VOLUME_SORT_KEYS = {
  id: 'id',
  name: 'name',
  display_name: 'name',
  description: 'description',
  display_description: 'description',
  size: 'size',
  status: 'status',
  created_at: 'created_at',
  updated_at: 'updated_at',
  availability_zone: 'availability_zone',
  bootable: 'bootable',
  project_id: 'project_id',
  user_id: 'user_id',
  volume_type_id: 'volume_type_id',
  snapshot_id: 'snapshot_id',
  source_volid: 'source_volid',
  multiattach: 'multiattach',
} as const;

/** The sort keys a snapshot list accepts (the snapshots table's columns). */
export const SNAPSHOT_SORT_KEYS = {
  id: 'id',
  name: 'name',
  display_name: 'name',
  description: 'description',
  display_description: 'description',
  size: 'size',
  volume_size: 'size',
  status: 'status',
  created_at: 'created_at',
  updated_at: 'updated_at',
  volume_id: 'volume_id',
  project_id: 'project_id',
  user_id: 'user_id',
} as const;

type Dir = 'asc' | 'desc';

/**
 * Cinder's get_sort_params (cinder/api/common.py) and process_sort_params (cinder/db/api.py):
 * `sort=k1:d1,k2` or `sort_key`/`sort_dir` (not both: 400), default created_at desc, then the
 * default keys created_at and id appended in the first key's direction. An unknown direction
 * is "Unknown sort direction, must be 'desc' or 'asc'"; an unknown key is "Invalid sort key"
 * (cinder/common/sqlalchemyutils.py paginate_query), both 400 InvalidInput.
 */
export function sortParams(q: Query): Array<{ key: string; dir: Dir }> {
  let pairs: Array<{ key: string; dir: string | undefined }>;
  if (q.sort !== undefined) {
    if (q.sort_key !== undefined || q.sort_dir !== undefined)
      throw new BadRequest("The param 'sort' cannot be used with sort_key or sort_dir");
    pairs = q.sort
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => {
        const [key, dir] = s.split(':');
        return { key: key!.trim(), dir: dir?.trim() };
      });
  } else {
    const keys = (q.sort_key ?? 'created_at').split(',').map((s) => s.trim());
    const dirs = (q.sort_dir ?? 'desc').split(',').map((s) => s.trim());
    pairs = keys.map((key, i) => ({ key, dir: dirs[i] ?? dirs[0] }));
  }
  const firstDir = pairs[0]?.dir ?? 'desc';
  const out: Array<{ key: string; dir: Dir }> = [];
  for (const p of pairs) {
    const dir = (p.dir ?? firstDir).toLowerCase();
    if (dir !== 'asc' && dir !== 'desc')
      throw new BadRequest("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'", 'InvalidInput');
    out.push({ key: p.key, dir });
  }
  const defDir = (out[0]?.dir ?? 'desc') as Dir;
  for (const key of ['created_at', 'id']) if (!out.some((p) => p.key === key)) out.push({ key, dir: defDir });
  return out;
}

/** Sorts rows as Cinder's list query does (NULLs first ascending, as SQL does). */
export function sortRows<T extends object>(rows: T[], q: Query, keys: Readonly<Record<string, keyof T>>): T[] {
  const spec = sortParams(q).map((p) => {
    const col = Object.hasOwn(keys, p.key) ? keys[p.key] : undefined;
    if (col === undefined) throw new BadRequest('Invalid input received: Invalid sort key', 'InvalidInput');
    return { col, sign: p.dir === 'asc' ? 1 : -1 };
  });
  const cmp = (a: unknown, b: unknown): number => {
    if (a === b) return 0;
    if (a === null || a === undefined) return -1;
    if (b === null || b === undefined) return 1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a) < String(b) ? -1 : 1;
  };
  return [...rows].sort((x, y) => {
    for (const s of spec) {
      const c = cmp(x[s.col], y[s.col]);
      if (c !== 0) return c * s.sign;
    }
    return 0;
  });
}

/**
 * Marker, offset and limit over sorted rows. An unknown marker is Cinder's MarkerNotFound, a
 * 404 ("Marker ... could not be found."). `more` is set when the page is full, as Cinder's
 * _get_collection_links gives a next link whenever the page holds `limit` items.
 */
export function page<T extends { id: string }>(rows: T[], q: Query): { rows: T[]; more: boolean } {
  let out = rows;
  if (q.marker) {
    const i = out.findIndex((r) => r.id === q.marker);
    if (i < 0) throw new NotFound(`Marker ${q.marker} could not be found.`, 'MarkerNotFound');
    out = out.slice(i + 1);
  }
  if (q.offset) out = out.slice(Number(q.offset) || 0);
  const limit = q.limit !== undefined ? Number(q.limit) : null;
  if (limit !== null && (!Number.isInteger(limit) || limit < 0))
    throw new BadRequest(`Invalid input received: limit must be a non-negative integer.`);
  if (limit === null) return { rows: out, more: false };
  const rows2 = out.slice(0, limit);
  return { rows: rows2, more: limit > 0 && rows2.length === limit };
}
