import type { Policy } from '../http/auth.js';

const ADMIN = 'rule:admin_required';
const OWNER_MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`;
const READER = `${ADMIN} or role:reader`;

/**
 * Metadata definitions (Glance's policies/metadef.py): anyone reads (metadef_default),
 * the operator writes (metadef_admin); which namespaces a reader sees is the service's.
 */
const METADEF_RULES: Record<string, string> = Object.fromEntries([
  ...[
    'get_metadef_namespace',
    'get_metadef_namespaces',
    'get_metadef_object',
    'get_metadef_objects',
    'list_metadef_resource_types',
    'get_metadef_resource_type',
    'get_metadef_property',
    'get_metadef_properties',
    'get_metadef_tag',
    'get_metadef_tags',
  ].map((a) => [`image:${a}`, READER]),
  ...[
    'add_metadef_namespace',
    'modify_metadef_namespace',
    'delete_metadef_namespace',
    'add_metadef_object',
    'modify_metadef_object',
    'delete_metadef_object',
    'add_metadef_resource_type_association',
    'remove_metadef_resource_type_association',
    'add_metadef_property',
    'modify_metadef_property',
    'remove_metadef_property',
    'add_metadef_tag',
    'add_metadef_tags',
    'modify_metadef_tag',
    'delete_metadef_tag',
    'delete_metadef_tags',
  ].map((a) => [`image:${a}`, ADMIN]),
]);

/**
 * Glance's secure-RBAC defaults, shaped for this service: who may see an image
 * (owner, public, community, accepted members) is decided by the service itself, so
 * read rules only ask for a reader role; writes ask for a member of the owning
 * project (the target's project_id is the image owner). A policy file overrides them.
 */
export const IMAGE_RULES: Record<string, string> = {
  'image:get_images': READER,
  'image:get_image': READER,
  'image:download_image': READER,
  'image:add_image': OWNER_MEMBER,
  'image:modify_image': OWNER_MEMBER,
  'image:upload_image': OWNER_MEMBER,
  'image:delete_image': OWNER_MEMBER,
  'image:publicize_image': ADMIN,
  'image:communitize_image': OWNER_MEMBER,
  'image:deactivate': OWNER_MEMBER,
  'image:reactivate': OWNER_MEMBER,
  'image:add_member': OWNER_MEMBER,
  'image:delete_member': OWNER_MEMBER,
  'image:get_members': READER,
  'image:get_member': READER,
  // The member project answers for itself; the service checks it is that project.
  'image:modify_member': `${ADMIN} or role:member`,
  // Interoperable import: copying an image into more stores is the operator's (Glance's default).
  'image:copy_image': ADMIN,
  ...METADEF_RULES,
};

/** Adds the image defaults to identity's policy engine when it takes defaults. */
export function registerImagePolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  if (typeof p.register === 'function') p.register(IMAGE_RULES);
}
