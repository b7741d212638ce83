import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { BadRequest, type CloudError } from '../../shared/errors/index.js';

/** One failure of a body against its schema, as TypeBox reports it. */
export interface SchemaError {
  /** JSON pointer into the body: "/volume/size". */
  instancePath: string;
  schemaPath?: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
}

/** How a service words a refused body (Nova's by default; Keystone's in controller/identity/body.ts). */
export type Rejection = (errors: SchemaError[], body: unknown) => CloudError;

/**
 * The one validation path of the public APIs: checks a request body against its
 * shared/api schema and returns it typed, or throws what `reject` makes of the errors.
 */
export function validate<T extends TSchema>(schema: T, body: unknown, reject: Rejection = novaRejection): Static<T> {
  if (Value.Check(schema, body)) return body as Static<T>;
  throw reject([...Value.Errors(schema, body)] as unknown as SchemaError[], body);
}

/**
 * Nova's jsonschema validator's answer: "Invalid input for field/attribute flavorRef.
 * Value: …. … ". The deepest error names the attribute, not the union around it.
 */
export const novaRejection: Rejection = (errs, body) => {
  const e = errs.sort((a, b) => (b.instancePath ?? '').length - (a.instancePath ?? '').length)[0];
  const path = pathOf(e);
  if (e?.keyword === 'required' && e.params && 'requiredProperties' in e.params) {
    const missing = (e.params.requiredProperties as string[])[0];
    return new BadRequest(
      `Invalid input for field/attribute ${path.at(-1) ?? 'body'}. Value: ${short(valueAt(body, path))}. '${missing}' is a required property`,
    );
  }
  if (!path.length)
    return new BadRequest(`Invalid input for field/attribute body. Value: ${short(body)}. ${e?.message ?? 'invalid'}`);
  return new BadRequest(
    `Invalid input for field/attribute ${path.at(-1)}. Value: ${short(valueAt(body, path))}. ${e?.message ?? 'invalid'}`,
  );
};

/** The path segments of an error: "/tags/0" → ["tags", "0"]. */
export function pathOf(e: SchemaError | undefined): string[] {
  return (e?.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function valueAt(v: unknown, path: readonly string[]): unknown {
  let x = v;
  for (const p of path) x = x && typeof x === 'object' ? (x as Record<string, unknown>)[p] : undefined;
  return x;
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? 'None' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * The error Python's jsonschema (Draft 4, as OpenStack services run it) would raise
 * first: a property's own failure before the object's missing properties, and a
 * failed anyOf rather than each of its branches.
 */
export function firstJsonschemaError(errs: readonly SchemaError[]): SchemaError | undefined {
  const own = errs.filter((e) => e.keyword !== 'boolean' && !(e.schemaPath ?? '').includes('/anyOf/'));
  return own.find((e) => e.keyword !== 'required') ?? own[0] ?? errs[0];
}

/** jsonschema's message for an error ("'abc' is too long", "1 is not of type 'string', 'null'"). */
export function jsonschemaMessage(e: SchemaError, value: unknown): string {
  const v = pyRepr(value);
  const p = e.params ?? {};
  switch (e.keyword) {
    case 'required':
      return `${pyRepr((p.requiredProperties as string[] | undefined)?.[0] ?? '')} is a required property`;
    case 'type': {
      const types = Array.isArray(p.type) ? p.type : [p.type];
      return `${v} is not of type ${types.map((t) => pyRepr(t)).join(', ')}`;
    }
    case 'minLength':
    case 'minItems':
      return `${v} is too short`;
    case 'maxLength':
    case 'maxItems':
      return `${v} is too long`;
    case 'pattern':
      return `${v} does not match ${pyRepr(p.pattern)}`;
    case 'enum':
      return `${v} is not one of ${pyRepr(p.allowedValues)}`;
    case 'const':
      return `${pyRepr(p.allowedValue)} was expected`;
    case 'additionalProperties': {
      const extra = (p.additionalProperties as string[] | undefined) ?? [];
      return `Additional properties are not allowed (${extra.map((k) => pyRepr(k)).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`;
    }
    case 'minProperties':
      return `${v} does not have enough properties`;
    case 'maxProperties':
      return `${v} has too many properties`;
    case 'uniqueItems':
      return `${v} has non-unique elements`;
    case 'minimum':
      return `${v} is less than the minimum of ${pyRepr(p.limit)}`;
    case 'maximum':
      return `${v} is greater than the maximum of ${pyRepr(p.limit)}`;
    case 'anyOf':
      return `${v} is not valid under any of the given schemas`;
    default:
      return e.message;
  }
}

/** Python's repr() of a JSON value, as jsonschema puts values in its messages. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      .split(q)
      .join(q === "'" ? "\\'" : q);
    return `${q}${body}${q}`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** An integer from a number or a decimal string (Nova accepts both). */
export function toInt(v: unknown, field: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw new BadRequest(`Invalid input for field/attribute ${field}. Value: ${String(v)}. ${String(v)} is not an integer`);
  return n;
}
