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
