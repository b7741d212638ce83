import type { Static, TSchema } from 'typebox';
import { BadRequest } from '../../shared/errors/index.js';
import { firstJsonschemaError, jsonschemaMessage, pathOf, validate, valueAt, type Rejection } from '../http/validate.js';

/**
 * Identity request bodies through the shared validation path (controller/http/validate.ts)
 * against the schemas of shared/api/identity.ts, refused with Keystone's words: a 400
 * ValidationError "Invalid input for field 'name': 'x…' is too long", or jsonschema's
 * message alone when the member object itself is at fault ("'name' is a required
 * property", "{} does not have enough properties"), as keystone/common/validation/
 * validators.py words them (its first line: Keystone appends jsonschema's schema dump).
 */

/** Keystone's ValidationError naming a field. */
export function invalid(field: string, why: string): BadRequest {
  return new BadRequest(`Invalid input for field '${field}': ${why}`, 'ValidationError');
}

const NOT_AN_OBJECT =
  'Expecting to find valid JSON object in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

export const keystoneRejection: Rejection = (errs, body) => {
  const e = firstJsonschemaError(errs);
  if (!e) return new BadRequest('Invalid input', 'ValidationError');
  const path = pathOf(e);
  const message = jsonschemaMessage(e, valueAt(body, path));
  return path.length ? invalid(path.join('/'), message) : new BadRequest(message, 'ValidationError');
};

/**
 * The member `key` of a request body checked against `schema`, as Keystone reads
 * `request_body_json.get(key, {})` and validates it: no body or no member is `{}`;
 * a body that is not a JSON object is refused as Keystone's JSON body check does.
 */
export function member<T extends TSchema>(schema: T, body: unknown, key: string): Static<T> {
  if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body)))
    throw new BadRequest(NOT_AN_OBJECT, 'ValidationError');
  const b = (body ?? {}) as Record<string, unknown>;
  const m = key in b ? b[key] : {};
  return validate(schema, m, keystoneRejection);
}
