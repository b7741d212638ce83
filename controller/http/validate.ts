import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { BadRequest } from '../../shared/errors/index.js';

/**
 * Checks a request body against its schema and answers like Nova's jsonschema
 * validator: "Invalid input for field/attribute flavorRef. Value: …. … ".
 */
export function validate<T extends TSchema>(schema: T, body: unknown): Static<T> {
  if (Value.Check(schema, body)) return body as Static<T>;
  const errs = [...Value.Errors(schema, body)] as Array<{
    instancePath?: string;
    message?: string;
    keyword?: string;
    params?: Record<string, unknown>;
  }>;
  // Prefer the deepest error: it names the attribute, not the union around it.
  const e = errs.sort((a, b) => (b.instancePath ?? '').length - (a.instancePath ?? '').length)[0];
  const path = (e?.instancePath ?? '').split('/').filter(Boolean);
  if (e?.keyword === 'required' && e.params && 'requiredProperties' in e.params) {
    const missing = (e.params.requiredProperties as string[])[0];
    throw new BadRequest(
      `Invalid input for field/attribute ${path.at(-1) ?? 'body'}. Value: ${short(at(body, path))}. '${missing}' is a required property`,
    );
  }
  if (!path.length)
    throw new BadRequest(`Invalid input for field/attribute body. Value: ${short(body)}. ${e?.message ?? 'invalid'}`);
  throw new BadRequest(
    `Invalid input for field/attribute ${path.at(-1)}. Value: ${short(at(body, path))}. ${e?.message ?? 'invalid'}`,
  );
}

function at(v: unknown, path: string[]): unknown {
  let x = v;
  for (const p of path) x = x && typeof x === 'object' ? (x as Record<string, unknown>)[p] : undefined;
  return x;
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? 'None' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** An integer from a number or a decimal string (Nova accepts both). */
export function toInt(v: unknown, field: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw new BadRequest(`Invalid input for field/attribute ${field}. Value: ${String(v)}. ${String(v)} is not an integer`);
  return n;
}
