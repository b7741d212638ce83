import fc from 'fast-check';
import { nasty } from './fuzz-kit.js';

/**
 * Values shaped by a JSON Schema (the agents' TypeBox descriptors are JSON Schema), so
 * that fuzzed requests get past validation into the handlers and drivers: objects with
 * their properties (required ones always, optional ones sometimes), strings drawn from the
 * schema's pattern or length and now and then from `nasty`, integers in range and at
 * the edges. Two departures keep a run fast and on this machine: URLs point at a closed
 * local port, and durations (keys ending in _ms or _s) stay under 50.
 */
type Schema = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  patternProperties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
};

const URLS = ['http://127.0.0.1:9/', 'http://127.0.0.1:9/../../etc/passwd', 'https://127.0.0.1:9/x?y=%00'];

export function fromSchema(schema: unknown, key = '', depth = 0): fc.Arbitrary<unknown> {
  const s = (schema ?? {}) as Schema;
  if (depth > 8) return fc.constant(null);
  if ('const' in s) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return fc.oneof(...alts.map((a) => fromSchema(a, key, depth + 1)));
  const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (type.length > 1) return fc.oneof(...type.map((t) => fromSchema({ ...s, type: t }, key, depth + 1)));
  switch (type[0]) {
    case 'object':
      return objectOf(s, depth);
    case 'array':
      return fc.array(fromSchema(s.items, key, depth + 1), {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)),
      });
    case 'string':
      return stringOf(s);
    case 'integer':
    case 'number': {
      const min = s.minimum ?? -(2 ** 31);
      const max = s.maximum ?? 2 ** 31;
      if (/_(ms|s)$/.test(key)) return fc.integer({ min: Math.max(0, min), max: Math.max(0, Math.min(max, 50)) });
      const edges = [min, max, 0, -1, 1].filter((v) => v >= min && v <= max);
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(...edges), fc.constantFrom(2 ** 53, -0.5, 1e308));
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectOf(s: Schema, depth: number): fc.Arbitrary<unknown> {
  const props = Object.entries(s.properties ?? {});
  if (props.length) {
    const rec: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of props) rec[k] = fromSchema(v, k, depth + 1);
    return fc.record(rec, { requiredKeys: (s.required ?? []).filter((k) => k in rec) });
  }
  const pp = Object.entries(s.patternProperties ?? {})[0];
  if (pp) return fc.dictionary(fc.stringMatching(new RegExp(pp[0])), fromSchema(pp[1], '', depth + 1), { maxKeys: 3 });
  if (typeof s.additionalProperties === 'object')
    return fc.dictionary(fc.string({ maxLength: 12 }), fromSchema(s.additionalProperties, '', depth + 1), { maxKeys: 3 });
  return fc.constant({});
}

function stringOf(s: Schema): fc.Arbitrary<string> {
  if (s.pattern === '^https?://') return fc.constantFrom(...URLS);
  const max = Math.min(s.maxLength ?? 40, 64);
  const valid = s.pattern
    ? fc.stringMatching(new RegExp(s.pattern), { size: 'small' })
    : fc.string({ minLength: Math.min(s.minLength ?? 0, max), maxLength: max });
  return fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: nasty, weight: 1 });
}
