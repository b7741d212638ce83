import { BadRequest } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { ImageRow, MemberStatus } from './images.repo.js';
import { MEMBER_STATUSES, VISIBILITIES } from './schemas.js';

/** Query parameters as fastify parses them (repeated keys become arrays). */
export type ListQuery = Record<string, string | string[] | undefined>;

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;

const SORT_KEYS = new Set([
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'virtual_size',
  'id',
  'created_at',
  'updated_at',
  'visibility',
  'owner',
  'min_disk',
  'min_ram',
  'protected',
  'os_hidden',
]);
const NOT_FILTERS = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort']);
const DIRECT = new Set(['id', 'name', 'status', 'owner', 'disk_format', 'container_format', 'checksum', 'os_hash_value']);

export interface ListPlan {
  limit: number;
  marker: string | null;
  sort: Array<{ key: string; dir: 'asc' | 'desc' }>;
  keep: (img: ImageRow & { member_status: MemberStatus | null }) => boolean;
}

const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (q: ListQuery, k: string): string | undefined => {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
};

function intParam(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new BadRequest(`${name} param must be a non-negative integer`);
  return Number(v);
}

function boolParam(name: string, v: string): boolean {
  const s = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new BadRequest(`Invalid value for ${name}: ${JSON.stringify(v)} (expected a boolean)`);
}

/** Glance's "in:a,b" and "eq:a" operators on string filters (plain value = eq). */
function valueMatcher(v: string): (x: string | null | undefined) => boolean {
  if (v.startsWith('in:')) {
    const set = new Set(
      v
        .slice(3)
        .split(',')
        .map((s) => s.trim().replace(/^"(.*)"$/, '$1')),
    );
    return (x) => x != null && set.has(x);
  }
  const want = v.startsWith('eq:') ? v.slice(3) : v;
  return (x) => x === want;
}

/** created_at/updated_at filters: gt:, gte:, lt:, lte:, eq:, neq: an ISO time. */
function timeMatcher(name: string, v: string): (x: string) => boolean {
  const m = /^(gt|gte|lt|lte|eq|neq):(.+)$/.exec(v);
  const op = m ? m[1]! : 'eq';
  const t = Date.parse(m ? m[2]! : v);
  if (Number.isNaN(t)) throw new BadRequest(`Invalid time value for ${name}: ${JSON.stringify(v)}`);
  return (x) => {
    const a = Date.parse(x);
    return op === 'gt'
      ? a > t
      : op === 'gte'
        ? a >= t
        : op === 'lt'
          ? a < t
          : op === 'lte'
            ? a <= t
            : op === 'neq'
              ? a !== t
              : a === t;
  };
}

function parseSort(q: ListQuery): ListPlan['sort'] {
  const out: ListPlan['sort'] = [];
  const check = (k: string, d: string) => {
    if (!SORT_KEYS.has(k)) throw new BadRequest(`Unsupported sort_key: ${JSON.stringify(k)}`);
    if (d !== 'asc' && d !== 'desc') throw new BadRequest(`Invalid sort direction: ${JSON.stringify(d)}`);
    out.push({ key: k, dir: d });
  };
  const sort = one(q, 'sort');
  if (sort !== undefined) {
    if (q.sort_key !== undefined || q.sort_dir !== undefined)
      throw new BadRequest('The "sort" parameter cannot be combined with sort_key or sort_dir');
    for (const part of sort.split(',')) {
      const [k, d = 'desc'] = part.trim().split(':');
      check(k!, d);
    }
  } else {
    const keys = all(q.sort_key).flatMap((k) => k.split(','));
    const dirs = all(q.sort_dir).flatMap((d) => d.split(','));
    if (dirs.length > 1 && dirs.length !== keys.length)
      throw new BadRequest('The number of sort_dir values must match sort_key values');
    keys.forEach((k, i) => check(k.trim(), (dirs[i] ?? dirs[0] ?? 'desc').trim()));
    if (!keys.length && dirs.length) check('created_at', dirs[0]!);
  }
  if (!out.length) out.push({ key: 'created_at', dir: 'desc' });
  if (!out.some((s) => s.key === 'id')) out.push({ key: 'id', dir: out[out.length - 1]!.dir });
  return out;
}

/** Turns the query into a filter, an order and a page (400 naming the bad parameter). */
export function planList(ctx: AuthContext, q: ListQuery): ListPlan {
  const limitRaw = one(q, 'limit');
  const limit = limitRaw === undefined ? DEFAULT_LIMIT : Math.min(intParam('limit', limitRaw), MAX_LIMIT);
  const marker = one(q, 'marker') ?? null;
  const sort = parseSort(q);
  const tests: Array<(i: ImageRow & { member_status: MemberStatus | null }) => boolean> = [];
  const project = ctx.projectId ?? null;

  const visibility = one(q, 'visibility');
  if (visibility !== undefined && visibility !== 'all' && !(VISIBILITIES as readonly string[]).includes(visibility)) {
    throw new BadRequest(`Invalid visibility value: ${visibility}`);
  }
  const memberStatus = one(q, 'member_status') ?? 'accepted';
  if (memberStatus !== 'all' && !(MEMBER_STATUSES as readonly string[]).includes(memberStatus)) {
    throw new BadRequest(`Invalid status value: ${memberStatus}`);
  }
  if (visibility && visibility !== 'all') tests.push((i) => i.visibility === visibility);
  else if (!visibility) tests.push((i) => i.visibility !== 'community' || i.owner === project || ctx.isAdmin);
  // Shared images of other projects: listed by member status (accepted by default).
  tests.push((i) => {
    if (i.visibility !== 'shared' || i.owner === project) return true;
    if (i.member_status === null) return ctx.isAdmin && (memberStatus === 'all' || q.member_status === undefined);
    return memberStatus === 'all' || i.member_status === memberStatus;
  });
  const hidden = one(q, 'os_hidden');
  const wantHidden = hidden === undefined ? false : boolParam('os_hidden', hidden);
  tests.push((i) => i.os_hidden === wantHidden);

  for (const [key, raw] of Object.entries(q)) {
    if (raw === undefined || NOT_FILTERS.has(key) || ['visibility', 'member_status', 'os_hidden'].includes(key)) continue;
    const v = one(q, key)!;
    if (key === 'tag') {
      const tags = all(raw);
      tests.push((i) => tags.every((t) => i.tags.includes(t)));
    } else if (key === 'size_min' || key === 'size_max') {
      const n = intParam(key, v);
      tests.push((i) => i.size !== null && (key === 'size_min' ? i.size >= n : i.size <= n));
    } else if (key === 'protected') {
      const b = boolParam(key, v);
      tests.push((i) => i.protected === b);
    } else if (key === 'min_disk' || key === 'min_ram') {
      const n = intParam(key, v);
      tests.push((i) => i[key] === n);
    } else if (key === 'created_at' || key === 'updated_at') {
      const m = timeMatcher(key, v);
      tests.push((i) => m(i[key]));
    } else if (DIRECT.has(key)) {
      const m = valueMatcher(v);
      tests.push((i) => m((i as unknown as Record<string, string | null>)[key]));
    } else {
      const m = valueMatcher(v);
      tests.push((i) => m(i.properties[key]));
    }
  }
  return { limit, marker, sort, keep: (i) => tests.every((t) => t(i)) };
}

function cmp(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a) < String(b) ? -1 : 1;
}

/** Sorts, then pages after the marker; the marker must be among the visible images. */
export function page<T extends ImageRow>(rows: T[], visible: T[], plan: ListPlan): { items: T[]; more: boolean } {
  const order = (x: T, y: T) => {
    for (const s of plan.sort) {
      const c = cmp((x as unknown as Record<string, unknown>)[s.key], (y as unknown as Record<string, unknown>)[s.key]);
      if (c) return s.dir === 'asc' ? c : -c;
    }
    return 0;
  };
  const sorted = rows.sort(order);
  let start = 0;
  if (plan.marker !== null) {
    const m = visible.find((r) => r.id === plan.marker);
    if (!m) throw new BadRequest(`Invalid marker. Image ${plan.marker} could not be found.`);
    start = sorted.findIndex((r) => order(r, m) > 0);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + plan.limit);
  // Like Glance: a full page always links to the next one (which may be empty).
  return { items, more: plan.limit > 0 && items.length === plan.limit };
}

/** A relative link to /v2/images with the same query, optionally another marker. */
export function listLink(q: ListQuery, marker: string | null): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (k === 'marker' || v === undefined) continue;
    for (const x of all(v)) p.append(k, x);
  }
  if (marker) p.append('marker', marker);
  const s = p.toString();
  return s ? `/v2/images?${s}` : '/v2/images';
}
