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
