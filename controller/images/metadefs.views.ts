import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { BadRequest, Forbidden } from '../../shared/errors/index.js';
import type { AssociationRow, NamespaceRow, ObjectRow, PropertyRow, ResourceTypeRow, TagRow } from './metadefs.repo.js';

/**
 * Glance's metadefs bodies as its wsme models render them: attributes never set are left
 * out (not null), links are relative (/v2/...), as glance/api/v2/metadef_*.py serve them.
 */

const defined = <T extends Record<string, unknown>>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;

export const namespaceHref = (ns: string) => `/v2/metadefs/namespaces/${ns}`;

export function namespaceView(n: NamespaceRow): Record<string, unknown> {
  return defined({
    namespace: n.namespace,
    display_name: n.display_name,
    description: n.description,
    visibility: n.visibility,
    protected: n.protected,
    owner: n.owner,
    created_at: n.created_at,
    updated_at: n.updated_at,
    self: namespaceHref(n.namespace),
    schema: '/v2/schemas/metadefs/namespace',
  });
}

export const associationView = (a: AssociationRow) =>
  defined({
    name: a.name,
    prefix: a.prefix,
    properties_target: a.properties_target,
    created_at: a.created_at,
    updated_at: a.updated_at,
  });

export const resourceTypeView = (r: ResourceTypeRow) => ({ name: r.name, created_at: r.created_at, updated_at: r.updated_at });

/** A property inside a namespace's or object's `properties` map: its definition (keyed by name). */
export const propertyDefinition = (p: PropertyRow) => p.definition;
/** One property on its own: its name and definition. */
export const propertyView = (p: PropertyRow) => ({ name: p.name, ...p.definition });

export function objectView(o: ObjectRow, prefix = ''): Record<string, unknown> {
  const properties = o.properties ? Object.fromEntries(Object.entries(o.properties).map(([k, v]) => [prefix + k, v])) : null;
  return defined({
    name: o.name,
    description: o.description,
    required: o.required ? o.required.map((r) => prefix + r) : null,
    properties,
    created_at: o.created_at,
    updated_at: o.updated_at,
    self: `${namespaceHref(o.namespace)}/objects/${o.name}`,
    schema: '/v2/schemas/metadefs/object',
  });
}

export const tagView = (t: TagRow) => ({ name: t.name, created_at: t.created_at, updated_at: t.updated_at });

/**
 * Glance's request deserializers: read-only attributes are refused with 403
 * ("Attribute 'x' is read-only."), then the body is checked against its schema (400).
 */
export function checkBody<T>(schema: TSchema, body: unknown, readOnly: readonly string[] = []): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('Body expected in request.');
  }
  for (const k of readOnly) if (k in body) throw new Forbidden(`Attribute '${k}' is read-only.`);
  if (!Value.Check(schema, body)) {
    const e = [...Value.Errors(schema, body)][0] as { instancePath?: string; message?: string } | undefined;
    throw new BadRequest(
      `Invalid body${e?.instancePath ? ` at ${e.instancePath}` : ''}: ${e?.message ?? 'does not match the schema'}`,
    );
  }
  return body as T;
}

export const READ_ONLY_ATTRS = ['self', 'schema', 'created_at', 'updated_at'] as const;
