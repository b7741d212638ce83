import type { FastifyRequest } from 'fastify';
import type { TSchema, Static } from 'typebox';
import { Value } from 'typebox/value';
import { BadRequest } from '../../shared/errors/index.js';
import { isoSeconds } from '../../shared/util/time.js';
import { baseUrl } from '../http/base-url.js';
import { InvalidInput } from './errors.js';

/** Neutron's timestamp format (2026-11-22T08:08:57Z). */
export const ts = (d = new Date()): string => isoSeconds(d);
export const json = <T>(s: string): T => JSON.parse(s) as T;
export const bool = (n: number | boolean): boolean => n === 1 || n === true;

/**
 * The resource document inside a wrapped body (`{"network": {...}}`), checked against
 * its schema; a 400 naming the attribute otherwise.
 */
export function unwrap<S extends TSchema>(body: unknown, key: string, schema: S): Static<S> {
  const inner = (body as Record<string, unknown> | undefined)?.[key];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new BadRequest(`Resource body required: expected an object under '${key}'.`);
  }
  return check(coerceInts(inner as Record<string, unknown>), schema, key);
}

/** Integer attributes clients may send as strings (OSC passes --provider-segment and --mtu through as text); Neutron converts them. */
const INT_ATTRS = new Set([
  'provider:segmentation_id',
  'mtu',
  'port_range_min',
  'port_range_max',
  'ip_version',
  'network',
  'subnet',
  'port',
  'router',
  'floatingip',
  'security_group',
  'security_group_rule',
  'rbac_policy',
  'subnetpool',
]);
function coerceInts(o: Record<string, unknown>): Record<string, unknown> {
  const out = { ...o };
  for (const k of Object.keys(out)) {
    const v = out[k];
    if (INT_ATTRS.has(k) && typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim())) out[k] = Number(v.trim());
  }
  return out;
}

export function check<S extends TSchema>(v: unknown, schema: S, what: string): Static<S> {
  if (Value.Check(schema, v)) return v as Static<S>;
  const first = [...Value.Errors(schema, v)][0] as { instancePath?: string; message?: string } | undefined;
  const attr = (first?.instancePath ?? '').replace(/^\//, '').split('/').join('.');
  throw new InvalidInput(`${attr ? `'${attr}' in ${what}` : what}: ${first?.message ?? 'invalid'}.`);
}

/** Query parameters as arrays (repeated `fields=`, `id=` and filters). */
export function queryOf(req: FastifyRequest): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const raw = req.raw.url ?? '';
  const q = raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '';
  for (const [k, v] of new URLSearchParams(q)) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

const RESERVED = new Set([
  'fields',
  'limit',
  'marker',
  'page_reverse',
  'sort_key',
  'sort_dir',
  'tags',
  'tags-any',
  'not-tags',
  'not-tags-any',
  'all_tenants',
]);

function matches(value: unknown, wanted: string[], key: string): boolean {
  if (key === 'fixed_ips' && Array.isArray(value)) {
    // ?fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=... (every one must match);
    // ip_address_substr=10.0.0 matches part of an address (Neutron's ip-substring-filtering,
    // a SQL LIKE '%…%' on the allocation).
    return wanted.every((w) => {
      const [k, v] = w.split('=', 2);
      return (value as Array<Record<string, string>>).some((f) =>
        k === 'ip_address_substr'
          ? v !== undefined && String(f.ip_address).includes(v)
          : k && v !== undefined && String(f[k]) === v,
      );
    });
  }
  if (Array.isArray(value)) return wanted.some((w) => value.map(String).includes(w));
  if (typeof value === 'boolean') return wanted.some((w) => w.toLowerCase() === String(value));
  if (value === null || value === undefined) return wanted.some((w) => w === '' || w.toLowerCase() === 'none');
  if (typeof value === 'object') return false;
  return wanted.includes(String(value));
}

/**
 * Filters, sorts, pages and trims a list the way Neutron does: any attribute of the
 * document filters (repeat a parameter for OR), `tags`/`tags-any`/`not-tags`, `limit`
 * and `marker` (id) with a `<collection>_links` next link, repeated `fields=` (unknown
 * fields are ignored; `id` is always kept so clients can find what they listed).
 */
export function listResponse(
  req: FastifyRequest,
  collection: string,
  docs: Array<Record<string, unknown>>,
): Record<string, unknown> {
  const q = queryOf(req);
  let out = docs.filter((d) => {
    for (const [k, wanted] of q) {
      if (RESERVED.has(k) || !(k in d)) continue;
      if (!matches(d[k], wanted, k)) return false;
    }
    const tags = (d.tags as string[] | undefined) ?? [];
    const split = (k: string) => (q.get(k) ?? []).flatMap((v) => v.split(',')).filter(Boolean);
    if (split('tags').some((t) => !tags.includes(t))) return false;
    const any = split('tags-any');
    if (any.length && !any.some((t) => tags.includes(t))) return false;
    const not = split('not-tags');
    if (not.length && not.every((t) => tags.includes(t))) return false;
    const notAny = split('not-tags-any');
    if (notAny.some((t) => tags.includes(t))) return false;
    return true;
  });
  const sortKey = q.get('sort_key')?.[0];
  if (sortKey) {
    const dir = q.get('sort_dir')?.[0] === 'desc' ? -1 : 1;
    out = [...out].sort((a, b) =>
      String(a[sortKey] ?? '') < String(b[sortKey] ?? '') ? -dir : String(a[sortKey] ?? '') > String(b[sortKey] ?? '') ? dir : 0,
    );
  }
  const marker = q.get('marker')?.[0];
  if (marker) {
    const i = out.findIndex((d) => d.id === marker);
    out = i >= 0 ? out.slice(i + 1) : out;
  }
  const limitRaw = q.get('limit')?.[0];
  const body: Record<string, unknown> = {};
  if (limitRaw !== undefined) {
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0)
      throw new BadRequest(`Bad limit request: limit must be a non-negative integer, not '${limitRaw}'.`);
    if (limit > 0 && out.length > limit) {
      out = out.slice(0, limit);
      const params = new URLSearchParams();
      for (const [k, vs] of q) if (k !== 'marker') for (const v of vs) params.append(k, v);
      params.append('marker', String(out[out.length - 1]!.id));
      const path = (req.raw.url ?? '').split('?')[0];
      body[`${collection}_links`] = [{ rel: 'next', href: `${baseUrl(req)}${path}?${params.toString()}` }];
    }
  }
  body[collection] = out.map((d) => pick(d, q.get('fields')));
  return body;
}

const FIELD_ALIASES: Record<string, string> = {
  security_group_ids: 'security_groups',
  tenant_id: 'project_id',
  project_id: 'tenant_id',
};

/** Trims a document to the asked-for fields (all when none are asked for). */
export function pick(d: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields?.length) return d;
  const o: Record<string, unknown> = { id: d.id };
  for (const f of fields) {
    if (f in d) o[f] = d[f];
    // The SDK asks for its own attribute name (port list --long: security_group_ids).
    const alias = FIELD_ALIASES[f];
    if (alias && alias in d) o[alias] = d[alias];
  }
  return o;
}

/** A single resource, trimmed by `fields=` too. */
export function showResponse(req: FastifyRequest, key: string, d: Record<string, unknown>): Record<string, unknown> {
  return { [key]: pick(d, queryOf(req).get('fields')) };
}
