import { BadRequest } from '../../shared/errors/index.js';

/**
 * Request-body checks with Keystone's messages ("Invalid input for field 'name': …"),
 * naming the bad field. Bodies are untrusted JSON: every accessor checks the type.
 */
export type Obj = Record<string, unknown>;

export function invalid(field: string, why: string): BadRequest {
  return new BadRequest(`Invalid input for field '${field}': ${why}`, 'ValidationError');
}

/** body[key] as an object, e.g. the `project` of `{"project": {...}}`. */
export function envelope(body: unknown, key: string): Obj {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest(
      `Expecting to find ${key} in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
      'ValidationError',
    );
  }
  const v = (body as Obj)[key];
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw invalid(key, `'${key}' is a required property and must be an object`);
  return v as Obj;
}

interface StrOpts {
  required?: boolean;
  max?: number;
  min?: number;
  nullable?: boolean;
}

export function optStr(o: Obj, field: string, opts: StrOpts = {}): string | null | undefined {
  const v = o[field];
  if (v === undefined) {
    if (opts.required) throw invalid(field, `'${field}' is a required property`);
    return undefined;
  }
  if (v === null) {
    if (opts.nullable && !opts.required) return null;
    throw invalid(field, "None is not of type 'string'");
  }
  if (typeof v !== 'string') throw invalid(field, `${JSON.stringify(v)} is not of type 'string'`);
  const max = opts.max ?? 255;
  if (v.length > max) throw invalid(field, `'${v.slice(0, 40)}…' is too long (at most ${max} characters)`);
  if (v.length < (opts.min ?? 0)) throw invalid(field, `'${v}' is too short`);
  return v;
}

export function reqStr(o: Obj, field: string, opts: Omit<StrOpts, 'required'> = {}): string {
  return optStr(o, field, { ...opts, required: true })!;
}

/** A resource name: a non-empty string of at most 255 characters, not only spaces. */
export function name(o: Obj, field = 'name', required = true): string | undefined {
  const v = optStr(o, field, { required, min: 1, max: 255 });
  if (v === undefined || v === null) return undefined;
  if (!v.trim()) throw invalid(field, `'${v}' does not match '[\\S]+'`);
  return v;
}

export function optBool(o: Obj, field: string): boolean | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(field, `${JSON.stringify(v)} is not of type 'boolean'`);
  return v;
}

export function optObj(o: Obj, field: string): Obj | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(field, `${JSON.stringify(v)} is not of type 'object'`);
  return v as Obj;
}

export function optTags(o: Obj, field = 'tags'): string[] | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 255 && !/[,/]/.test(t))) {
    throw invalid(field, 'must be a list of non-empty strings of at most 255 characters without "," or "/"');
  }
  if (v.length > 80) throw invalid(field, 'at most 80 tags');
  return v as string[];
}

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
