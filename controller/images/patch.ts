import { BadRequest, Conflict, Forbidden } from '../../shared/errors/index.js';
import type { ImageRow } from './images.repo.js';
import { CONTAINER_FORMATS, CORE, DISK_FORMATS, READ_ONLY, RESERVED, RESERVED_NAMESPACE, VISIBILITIES } from './schemas.js';

/** The attributes a PATCH may change. */
export type ImageChanges = Partial<
  Pick<
    ImageRow,
    | 'name'
    | 'visibility'
    | 'protected'
    | 'os_hidden'
    | 'disk_format'
    | 'container_format'
    | 'min_disk'
    | 'min_ram'
    | 'owner'
    | 'properties'
    | 'tags'
  >
>;

/** Decodes a JSON pointer of depth one ("/name", "/a~1b" → "a/b"). */
function attributeOf(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new BadRequest(`Pointer \`${String(path)}\` does not start with "/".`);
  const parts = path.slice(1).split('/');
  if (parts.length !== 1 || !parts[0]) throw new BadRequest(`Nested paths are not allowed: ${path}`);
  if (/~[^01]|~$/.test(parts[0])) throw new BadRequest(`Invalid JSON pointer: ${path}`);
  return parts[0].replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Checks one core attribute's value; throws 400 naming the attribute. */
export function checkCoreValue(attr: string, v: unknown): unknown {
  const bad = (what: string) =>
    new BadRequest(`Provided object does not match schema 'image': ${JSON.stringify(v)} is not ${what} (attribute '${attr}')`);
  switch (attr) {
    case 'name':
      if (v !== null && (typeof v !== 'string' || v.length > 255)) throw bad("of type 'string' (at most 255 characters)");
      return v;
    case 'owner':
      if (v !== null && (typeof v !== 'string' || v.length > 255)) throw bad("of type 'string'");
      return v;
    case 'visibility':
      if (typeof v !== 'string' || !(VISIBILITIES as readonly string[]).includes(v))
        throw bad(`one of ${VISIBILITIES.join(', ')}`);
      return v;
    case 'protected':
    case 'os_hidden':
      if (typeof v !== 'boolean') throw bad("of type 'boolean'");
      return v;
    case 'min_disk':
    case 'min_ram':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad('a non-negative integer');
      return v;
    case 'disk_format':
      if (v !== null && !(DISK_FORMATS as readonly string[]).includes(v as string))
        throw bad(`one of ${DISK_FORMATS.join(', ')}`);
      return v;
    case 'container_format':
      if (v !== null && !(CONTAINER_FORMATS as readonly string[]).includes(v as string))
        throw bad(`one of ${CONTAINER_FORMATS.join(', ')}`);
      return v;
    case 'tags':
      if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || t.length > 255 || !t)) throw bad('an array of strings');
      return [...new Set(v as string[])];
  }
  return v;
}

/** Checks a custom property (top-level key): name length and a string value. */
export function checkProperty(key: string, v: unknown): string {
  if (key.length > 255) throw new BadRequest(`Property name ${JSON.stringify(key.slice(0, 40))}… is longer than 255 characters`);
  if (typeof v !== 'string')
    throw new BadRequest(
      `Provided object does not match schema 'image': ${JSON.stringify(v)} is not of type 'string' (property '${key}')`,
    );
  if (v.length > 65535) throw new BadRequest(`Property '${key}' is too long`);
  return v;
}

/** 403 for attributes nobody may change. */
export function refuseProtected(attr: string): void {
  if (READ_ONLY.has(attr)) throw new Forbidden(`Attribute '${attr}' is read-only.`);
  if (RESERVED.has(attr) || attr.startsWith(RESERVED_NAMESPACE)) throw new Forbidden(`Attribute '${attr}' is reserved.`);
}

/**
 * A patch in the v2.0 media type (application/openstack-images-v2.0-json-patch, JSON
 * Patch draft 4 style: `{"replace": "/name", "value": "x"}`) in the v2.1 form
 * (`{"op": "replace", "path": "/name", ...}`), with Glance's messages for operation
 * objects that name no operation or more than one. Anything else is left for applyPatch.
 */
export function fromDraft4(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  return body.map((raw) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
    const o = raw as Record<string, unknown>;
    const ops = (['add', 'remove', 'replace'] as const).filter((k) => k in o);
    if (ops.length > 1)
      throw new BadRequest('Operation objects must contain only one member named "add", "remove", or "replace".');
    if (!ops.length)
      throw new BadRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
    const { [ops[0]!]: path, ...rest } = o;
    return { ...rest, op: ops[0], path };
  });
}

/**
 * Applies a Glance v2.1 JSON patch (add, replace, remove on depth-one paths) to an
 * image and returns the changed attributes; the image is not modified. `add` on an
 * existing attribute replaces it (JSON Patch "add" on an object member).
 */
export function applyPatch(image: ImageRow, body: unknown): ImageChanges {
  if (!Array.isArray(body)) throw new BadRequest('Request body must be a JSON array of operation objects.');
  const core: Record<string, unknown> = {};
  const props = { ...image.properties };
  let propsChanged = false;
  for (const raw of body) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new BadRequest('Operations must be JSON objects.');
    const o = raw as Record<string, unknown>;
    const op = o.op;
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      throw new BadRequest(`Invalid operation: \`${String(op)}\`: the op must be "add", "remove" or "replace".`);
    }
    const attr = attributeOf(o.path);
    refuseProtected(attr);
    if (op !== 'remove' && !('value' in o)) throw new BadRequest(`Operation "${op}" requires a member named "value".`);
    if (CORE.has(attr)) {
      if (op === 'remove') throw new Forbidden(`Attribute '${attr}' is a base attribute and cannot be removed.`);
      const value = checkCoreValue(attr, o.value);
      if (
        (attr === 'disk_format' || attr === 'container_format') &&
        image.status !== 'queued' &&
        value !== (image as unknown as Record<string, unknown>)[attr]
      ) {
        throw new Forbidden(`Attribute ${attr} can be only replaced for a queued image.`);
      }
      core[attr] = value;
      continue;
    }
    if (op === 'remove' || op === 'replace') {
      if (!(attr in props)) throw new Conflict(`Property ${attr} does not exist.`);
    }
    if (op === 'remove') delete props[attr];
    else props[attr] = checkProperty(attr, o.value);
    propsChanged = true;
  }
  const out = core as ImageChanges;
  if (propsChanged) out.properties = props;
  return out;
}
