import { Forbidden } from '../../shared/errors/index.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';

const ADMIN = 'rule:admin_required';
const OWNER = 'rule:admin_required or project_id:%(project_id)s';
const MEMBER = 'rule:admin_required or (role:member and project_id:%(project_id)s)';
const READER = 'rule:admin_required or (role:reader and project_id:%(project_id)s)';
const USER = 'rule:admin_required or user_id:%(user_id)s';
const ANY = '@';

/**
 * Nova's default policy (nova/policies/*.py, secure-RBAC defaults), registered with
 * identity's policy engine at plugin build; a policy file still overrides them.
 */
export const COMPUTE_RULES: Record<string, string> = {
  'os_compute_api:servers:create': MEMBER,
  'os_compute_api:servers:create:forced_host': ADMIN,
  'os_compute_api:servers:index': READER,
  'os_compute_api:servers:detail': READER,
  'os_compute_api:servers:index:get_all_tenants': ADMIN,
  'os_compute_api:servers:detail:get_all_tenants': ADMIN,
  'os_compute_api:servers:allow_all_filters': ADMIN,
  'os_compute_api:servers:show': READER,
  'os_compute_api:servers:update': MEMBER,
  'os_compute_api:servers:delete': MEMBER,
  'os_compute_api:servers:start': MEMBER,
  'os_compute_api:servers:stop': MEMBER,
  'os_compute_api:servers:reboot': MEMBER,
  'os_compute_api:servers:rebuild': MEMBER,
  'os_compute_api:servers:create_image': MEMBER,
  'os_compute_api:os-create-backup': MEMBER,
  'os_compute_api:os-pause-server:pause': MEMBER,
  'os_compute_api:os-pause-server:unpause': MEMBER,
  'os_compute_api:os-suspend-server:suspend': MEMBER,
  'os_compute_api:os-suspend-server:resume': MEMBER,
  'os_compute_api:os-console-output': MEMBER,
  'os_compute_api:os-lock-server:lock': MEMBER,
  'os_compute_api:os-lock-server:unlock': MEMBER,
  'os_compute_api:os-lock-server:unlock:unlock_override': ADMIN,
  'os_compute_api:os-admin-actions:reset_state': ADMIN,
  'os_compute_api:os-extended-server-attributes': ADMIN,
  'os_compute_api:os-flavor-manage:create': ADMIN,
  'os_compute_api:os-flavor-manage:update': ADMIN,
  'os_compute_api:os-flavor-manage:delete': ADMIN,
  'os_compute_api:os-flavor-extra-specs:index': ANY,
  'os_compute_api:os-flavor-extra-specs:show': ANY,
  'os_compute_api:os-flavor-extra-specs:create': ADMIN,
  'os_compute_api:os-flavor-extra-specs:update': ADMIN,
  'os_compute_api:os-flavor-extra-specs:delete': ADMIN,
  'os_compute_api:os-flavor-access': ADMIN,
  'os_compute_api:os-flavor-access:add_tenant_access': ADMIN,
  'os_compute_api:os-flavor-access:remove_tenant_access': ADMIN,
  'os_compute_api:os-keypairs:index': USER,
  'os_compute_api:os-keypairs:show': USER,
  'os_compute_api:os-keypairs:create': USER,
  'os_compute_api:os-keypairs:delete': USER,
  'os_compute_api:os-hypervisors:list': ADMIN,
  'os_compute_api:os-hypervisors:list-detail': ADMIN,
  'os_compute_api:os-hypervisors:show': ADMIN,
  'os_compute_api:os-hypervisors:statistics': ADMIN,
  'os_compute_api:os-services:list': ADMIN,
  'os_compute_api:os-services:update': ADMIN,
  'os_compute_api:os-availability-zone:list': ANY,
  'os_compute_api:os-availability-zone:detail': ADMIN,
  'os_compute_api:limits': ANY,
  'os_compute_api:os-quota-sets:show': OWNER,
  'os_compute_api:os-quota-sets:update': ADMIN,
  'os_compute_api:os-quota-sets:defaults': ANY,
  'os_compute_api:os-quota-sets:delete': ADMIN,
  'os_compute_api:os-server-groups:index': READER,
  'os_compute_api:os-server-groups:index:all_projects': ADMIN,
  'os_compute_api:os-server-groups:show': READER,
  'os_compute_api:os-server-groups:create': MEMBER,
  'os_compute_api:os-server-groups:delete': MEMBER,
  'os_compute_api:os-instance-actions:list': READER,
  'os_compute_api:os-instance-actions:show': READER,
  'os_compute_api:os-instance-actions:events': ADMIN,
  'os_compute_api:os-instance-actions:events:details': ADMIN,
  'os_compute_api:os-simple-tenant-usage:list': ADMIN,
  'os_compute_api:os-simple-tenant-usage:show': READER,
  'os_compute_api:server-metadata:index': READER,
  'os_compute_api:server-metadata:show': READER,
  'os_compute_api:server-metadata:create': MEMBER,
  'os_compute_api:server-metadata:update': MEMBER,
  'os_compute_api:server-metadata:update_all': MEMBER,
  'os_compute_api:server-metadata:delete': MEMBER,
  'os_compute_api:os-volumes-attachments:index': READER,
  'os_compute_api:os-volumes-attachments:show': READER,
  'os_compute_api:os-volumes-attachments:create': MEMBER,
  'os_compute_api:os-volumes-attachments:delete': MEMBER,
};

/** Registers Nova's defaults with an engine that accepts them (identity's PolicyEngine). */
export function registerComputePolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  if (typeof p.register === 'function') p.register(COMPUTE_RULES);
}

/** Nova's 403 text names the rule. */
export function enforce(policy: Policy, action: string, ctx: AuthContext, target?: PolicyTarget): void {
  if (!policy.allowed(action, ctx, target)) throw new Forbidden(`Policy doesn't allow ${action} to be performed.`);
}
