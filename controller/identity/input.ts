/**
 * Small helpers of the identity routes and services: a body's extra attributes,
 * stored JSON, query values. Bodies are checked against shared/api/identity.ts through
 * body.ts before they reach a service.
 */
export type Obj = Record<string, unknown>;

/** The attributes a body may set beyond the known ones (Keystone keeps them as "extra"). */
export function extras(o: Obj, known: readonly string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (!known.includes(k) && k !== 'id' && k !== 'links') out[k] = v;
  return out;
}

export function parseJson<T>(s: string, fallback: T): T {
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
}

/** Query-string values: first of repeated keys, as a string. */
export function q(query: unknown, key: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[key];
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return v === undefined ? undefined : String(v);
}

/** Keystone's boolean query values: present without value, true, 1, yes → true. */
export function qBool(query: unknown, key: string): boolean | undefined {
  const v = q(query, key);
  if (v === undefined) return undefined;
  return v === '' || /^(true|1|yes|on)$/i.test(v);
}
