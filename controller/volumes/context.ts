import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { Forbidden } from '../../shared/errors/index.js';
import type { AgentLayer } from '../agents/index.js';
import type { Db } from '../db/open.js';
import type { Facades } from '../facades.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';
import { baseUrl } from '../http/base-url.js';
import { BackupsRepo } from './backups.repo.js';
import { VolumesRepo } from './volumes.repo.js';

/** Everything the block-storage service needs, built once per buildApp (no module state). */
export interface VolumeCtx {
  db: Db;
  config: ControllerConfig;
  log: FastifyBaseLogger;
  policy: Policy;
  facades: Partial<Facades>;
  /** Hosts, agent clients and the durable dispatcher; null only in tests that never reach agents. */
  layer: AgentLayer | null;
  repo: VolumesRepo;
  backups: BackupsRepo;
  now: () => Date;
  /** Background work (tests wait for it with settle()). */
  tasks: Set<Promise<unknown>>;
}

export function createVolumeCtx(o: Omit<VolumeCtx, 'repo' | 'backups' | 'tasks' | 'now'> & { now?: () => Date }): VolumeCtx {
  const now = o.now ?? (() => new Date());
  return { ...o, now, repo: new VolumesRepo(o.db, now), backups: new BackupsRepo(o.db, now), tasks: new Set() };
}

export function background(ctx: VolumeCtx, what: string, fn: () => Promise<unknown>): void {
  const p = (async () => {
    await new Promise((r) => setImmediate(r));
    await fn();
  })().catch((err) => ctx.log.error({ err, what }, 'volume background task failed'));
  ctx.tasks.add(p);
  void p.finally(() => ctx.tasks.delete(p));
}

export async function settle(ctx: VolumeCtx): Promise<void> {
  while (ctx.tasks.size) await Promise.all([...ctx.tasks]);
}

const ADMIN = 'rule:admin_required';
const MEMBER = 'rule:admin_required or (role:member and project_id:%(project_id)s)';
const READER = 'rule:admin_required or (role:reader and project_id:%(project_id)s)';
const ANY = '@';

/** Cinder's default policy (cinder/policies/*.py, secure-RBAC defaults) for what is implemented. */
export const VOLUME_RULES: Record<string, string> = {
  'volume:create': MEMBER,
  'volume:get': READER,
  'volume:get_all': READER,
  'volume:update': MEMBER,
  'volume:delete': MEMBER,
  'volume:extend': MEMBER,
  'volume:update_readonly_flag': MEMBER,
  'volume:retype': MEMBER,
  'volume_extension:volume_actions:upload_image': MEMBER,
  'volume_extension:volume_actions:upload_public': ADMIN,
  'volume_extension:volume_admin_actions:reset_status': ADMIN,
  'volume_extension:snapshot_admin_actions:reset_status': ADMIN,
  'volume_extension:volume_admin_actions:force_delete': ADMIN,
  'volume_extension:snapshot_admin_actions:force_delete': ADMIN,
  'snapshot_extension:snapshot_actions:update_snapshot_status': ANY,
  'volume:get_volume_metadata': READER,
  'volume:update_volume_metadata': MEMBER,
  'volume:delete_volume_metadata': MEMBER,
  'volume:get_snapshot_metadata': READER,
  'volume:update_snapshot_metadata': MEMBER,
  'volume:delete_snapshot_metadata': MEMBER,
  'volume_extension:volume_tenant_attribute': READER,
  'volume_extension:volume_host_attribute': ADMIN,
  'volume:attachment_create': MEMBER,
  'volume:attachment_update': MEMBER,
  'volume:attachment_complete': MEMBER,
  'volume:attachment_delete': MEMBER,
  'volume_extension:volume_actions:attach': MEMBER,
  'volume_extension:volume_actions:detach': MEMBER,
  'volume_extension:volume_actions:reserve': MEMBER,
  'volume_extension:volume_actions:unreserve': MEMBER,
  'volume_extension:volume_actions:begin_detaching': MEMBER,
  'volume_extension:volume_actions:roll_detaching': MEMBER,
  'volume_extension:volume_actions:initialize_connection': MEMBER,
  'volume_extension:volume_actions:terminate_connection': MEMBER,
  'volume:create_snapshot': MEMBER,
  'volume:get_snapshot': READER,
  'volume:get_all_snapshots': READER,
  'volume:update_snapshot': MEMBER,
  'volume:delete_snapshot': MEMBER,
  'volume_extension:types_manage': ADMIN,
  'volume_extension:type_get': ANY,
  'volume_extension:type_get_all': ANY,
  'volume_extension:services:index': ADMIN,
  'volume_extension:quotas:show': 'rule:admin_required or project_id:%(project_id)s',
  'volume_extension:quotas:update': ADMIN,
  'volume_extension:quotas:delete': ADMIN,
  'volume_extension:availability_zone_list': ANY,
  'limits_extension:used_limits': ANY,
  // cinder/policies/backups.py and backup_actions.py
  'backup:get_all': READER,
  'backup:get': READER,
  'backup:create': MEMBER,
  'backup:update': MEMBER,
  'backup:delete': MEMBER,
  'backup:restore': MEMBER,
  'backup:backup-import': ADMIN,
  'backup:export-import': ADMIN,
  'backup:backup_project_attribute': ADMIN,
  'volume_extension:backup_admin_actions:reset_status': ADMIN,
  'volume_extension:backup_admin_actions:force_delete': ADMIN,
};

export function registerVolumePolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  if (typeof p.register === 'function') p.register(VOLUME_RULES);
}

/** Cinder's 403 text names the rule. */
export function must(ctx: VolumeCtx, action: string, auth: AuthContext, target?: PolicyTarget): void {
  if (!ctx.policy.allowed(action, auth, target ?? { project_id: auth.projectId ?? null })) {
    throw new Forbidden(`Policy doesn't allow ${action} to be performed.`);
  }
}

export function volumeBase(req: FastifyRequest, ctx: VolumeCtx): string {
  return `${baseUrl(req, ctx.config.public_url || undefined)}/volume`;
}
