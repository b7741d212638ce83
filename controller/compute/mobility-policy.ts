import type { Policy } from '../http/auth.js';
import { SERVER_TAG_RULES } from './server-tags.routes.js';

const ADMIN = 'rule:admin_required';
const MEMBER = 'rule:admin_required or (role:member and project_id:%(project_id)s)';

/**
 * Nova's defaults for moving servers (nova/policies/migrate_server.py, evacuate.py,
 * migrations.py, servers_migrations.py, servers.py): everything that picks or changes
 * hosts is admin-only; a member may resize their own server and confirm or revert it.
 */
export const MOBILITY_RULES: Record<string, string> = {
  'os_compute_api:os-migrate-server:migrate': ADMIN,
  'os_compute_api:os-migrate-server:migrate:host': ADMIN,
  'os_compute_api:os-migrate-server:migrate_live': ADMIN,
  'os_compute_api:os-migrate-server:migrate_live:host': ADMIN,
  'os_compute_api:os-evacuate': ADMIN,
  'os_compute_api:os-migrations:index': ADMIN,
  'os_compute_api:servers:migrations:index': ADMIN,
  'os_compute_api:servers:migrations:index:host': ADMIN,
  'os_compute_api:servers:migrations:show': ADMIN,
  'os_compute_api:servers:migrations:delete': ADMIN,
  'os_compute_api:servers:migrations:force_complete': ADMIN,
  'os_compute_api:servers:resize': MEMBER,
  'os_compute_api:servers:confirm_resize': MEMBER,
  'os_compute_api:servers:revert_resize': MEMBER,
  // the other steps to 2.30 (versions.ts)
  'os_compute_api:servers:trigger_crash_dump': MEMBER,
  'os_compute_api:servers:show:host_status': ADMIN,
  ...SERVER_TAG_RULES,
};

export function registerMobilityPolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  if (typeof p.register === 'function') p.register(MOBILITY_RULES);
}
