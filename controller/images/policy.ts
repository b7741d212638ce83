import type { Policy } from '../http/auth.js';

const ADMIN = 'rule:admin_required';
const OWNER_MEMBER = `${ADMIN} or (role:member and project_id:%(project_id)s)`;
const READER = `${ADMIN} or role:reader`;

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
};

/** Adds the image defaults to identity's policy engine when it takes defaults. */
export function registerImagePolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  if (typeof p.register === 'function') p.register(IMAGE_RULES);
}
