import { Type, type Static } from 'typebox';

/**
 * Glance v2 request vocabulary and bodies. Image create and PATCH bodies are open-ended
 * (any extra key is a string property; JSON-patch paths name attributes), so the image
 * service checks them attribute by attribute with Glance's messages
 * (controller/images/patch.ts); the member bodies are fixed and checked against these
 * schemas.
 */
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'community', 'shared', 'private'] as const;
export const STATUSES = [
  'queued',
  'saving',
  'active',
  'killed',
  'deleted',
  'uploading',
  'importing',
  'pending_delete',
  'deactivated',
] as const;
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;

/** POST /v2/images/{id}/members */
export const ImageMemberCreate = Type.Object({ member: Type.String({ minLength: 1, maxLength: 255 }) });
export type ImageMemberCreate = Static<typeof ImageMemberCreate>;

/** PUT /v2/images/{id}/members/{member} */
export const ImageMemberUpdate = Type.Object({ status: Type.Union(MEMBER_STATUSES.map((s) => Type.Literal(s))) });
export type ImageMemberUpdate = Static<typeof ImageMemberUpdate>;

/** One operation of a PATCH /v2/images/{id} body (application/openstack-images-v2.1-json-patch). */
export const ImagePatchOp = Type.Object({
  op: Type.Union([Type.Literal('add'), Type.Literal('replace'), Type.Literal('remove')]),
  path: Type.String(),
  value: Type.Optional(Type.Unknown()),
});
export type ImagePatchOp = Static<typeof ImagePatchOp>;

/** Import methods this cloud can offer (Glance's enabled_import_methods; glance-download is not served). */
export const IMPORT_METHODS = ['glance-direct', 'web-download', 'copy-image'] as const;
export type ImportMethod = (typeof IMPORT_METHODS)[number];

/**
 * POST /v2/images/{id}/import. The image service first answers Glance's own messages
 * for a missing method or name, an unknown method and non-boolean flags
 * (controller/images/image-import.service.ts), then checks the rest against this.
 */
export const ImageImportRequest = Type.Object({
  method: Type.Object({
    name: Type.Union(IMPORT_METHODS.map((m) => Type.Literal(m))),
    uri: Type.Optional(Type.String()),
  }),
  stores: Type.Optional(Type.Array(Type.String())),
  all_stores: Type.Optional(Type.Boolean()),
  all_stores_must_succeed: Type.Optional(Type.Boolean()),
});
export type ImageImportRequest = Static<typeof ImageImportRequest>;

// Metadata definitions (/v2/metadefs), as Glance's request schemas
// (glance/api/v2/metadef_*.py get_schema) accept them.
const Str = (maxLength?: number) => Type.String(maxLength ? { maxLength } : {});
const PROPERTY_TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string'] as const;

/** One property definition (a JSON-schema fragment): title and type are required. */
export const MetadefPropertyDef = Type.Object({
  name: Type.Optional(Str(255)),
  title: Str(),
  description: Type.Optional(Str()),
  operators: Type.Optional(Type.Array(Str())),
  type: Type.Union(PROPERTY_TYPES.map((t) => Type.Literal(t))),
  required: Type.Optional(Type.Array(Str())),
  minimum: Type.Optional(Type.Number()),
  maximum: Type.Optional(Type.Number()),
  maxLength: Type.Optional(Type.Integer({ minimum: 0 })),
  minLength: Type.Optional(Type.Integer({ minimum: 0 })),
  pattern: Type.Optional(Str()),
  enum: Type.Optional(Type.Array(Type.Unknown())),
  readonly: Type.Optional(Type.Boolean()),
  default: Type.Optional(Type.Unknown()),
  items: Type.Optional(Type.Object({ type: Type.Optional(Str()), enum: Type.Optional(Type.Array(Type.Unknown())) })),
  maxItems: Type.Optional(Type.Integer({ minimum: 0 })),
  minItems: Type.Optional(Type.Integer({ minimum: 0 })),
  uniqueItems: Type.Optional(Type.Boolean()),
  additionalItems: Type.Optional(Type.Boolean()),
});
export type MetadefPropertyDef = Static<typeof MetadefPropertyDef>;
/** A property created or replaced on its own: its name is in the body. */
export const MetadefPropertyBody = Type.Intersect([MetadefPropertyDef, Type.Object({ name: Str(255) })]);
export type MetadefPropertyBody = Static<typeof MetadefPropertyBody>;

const OBJECT_FIELDS = {
  name: Str(255),
  description: Type.Optional(Str()),
  required: Type.Optional(Type.Array(Str())),
  properties: Type.Optional(Type.Record(Type.String(), MetadefPropertyDef)),
};
const TAG_FIELDS = { name: Str(255) };
const ASSOCIATION_FIELDS = { name: Str(80), prefix: Type.Optional(Str(80)), properties_target: Type.Optional(Str(80)) };

// On their own, bodies take only their attributes (Glance's Schema: additionalProperties false).
export const MetadefObjectBody = Type.Object(OBJECT_FIELDS, { additionalProperties: false });
export type MetadefObjectBody = Static<typeof MetadefObjectBody>;
export const MetadefTagBody = Type.Object(TAG_FIELDS, { additionalProperties: false });
export const MetadefTagsBody = Type.Object({ tags: Type.Array(MetadefTagBody) });
export type MetadefTagsBody = Static<typeof MetadefTagsBody>;
export const MetadefAssociationBody = Type.Object(ASSOCIATION_FIELDS, { additionalProperties: false });
export type MetadefAssociationBody = Static<typeof MetadefAssociationBody>;

/**
 * Inside a namespace body the items are open, as in Glance's namespace schema: glanceclient's
 * md-namespace-update PUTs back what it read, associations and objects with their
 * created_at, self and schema (the namespace's own read-only keys are refused, 403).
 */
export const MetadefNamespaceBody = Type.Object(
  {
    namespace: Str(80),
    display_name: Type.Optional(Str(80)),
    description: Type.Optional(Str(500)),
    visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
    protected: Type.Optional(Type.Boolean()),
    owner: Type.Optional(Str(255)),
    resource_type_associations: Type.Optional(Type.Array(Type.Object(ASSOCIATION_FIELDS))),
    properties: Type.Optional(Type.Record(Type.String(), MetadefPropertyDef)),
    objects: Type.Optional(Type.Array(Type.Object(OBJECT_FIELDS))),
    tags: Type.Optional(Type.Array(Type.Object(TAG_FIELDS))),
  },
  { additionalProperties: false },
);
export type MetadefNamespaceBody = Static<typeof MetadefNamespaceBody>;
