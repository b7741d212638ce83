import type { FastifyBaseLogger } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { Forbidden } from '../../shared/errors/index.js';
import { HostsRepo } from '../agents/hosts.repo.js';
import type { Db } from '../db/open.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';
import { PolicyNotAuthorized } from './errors.js';
import type { NetworkRow } from './networks.repo.js';

/** A host as networking sees it (a row of `hosts`). */
export interface HostLite {
  id: string;
  name: string;
  roles: string[];
  tunnel_ip: string;
  state: 'up' | 'down';
  enabled: boolean;
  last_heartbeat_at: string | null;
  created_at: string;
  registered_at: string | null;
  capabilities: Record<string, unknown>;
}

/** What every networking service function receives. */
export interface Svc {
  db: Db;
  config: ControllerConfig;
  policy: Policy;
  log: FastifyBaseLogger;
  /** Hosts (read from the `hosts` table). */
  hosts(): HostLite[];
  /** Called after a committed change that may alter what agents must have. */
  changed(why: string): void;
  /** True when identity knows the project (unknown → true: no identity wired). */
  projectExists(projectId: string): boolean;
}

export function readHosts(db: Db): HostLite[] {
  return new HostsRepo(db).listSummaries();
}

/** The cloud itself (facade calls with a null ctx). */
export const isAdmin = (ctx: AuthContext | null): boolean => !ctx || ctx.isAdmin;

/** Enforces a policy action; a null ctx is the cloud itself. */
export function enforce(s: Svc, action: string, ctx: AuthContext | null, target: PolicyTarget = {}): void {
  if (!ctx) return;
  if (!s.policy.allowed(action, ctx, target)) throw new PolicyNotAuthorized(action);
}

/** Admin-only attributes (provider:*, shared, router:external, binding:host_id...). */
export function requireAdminFor(ctx: AuthContext | null, attr: string, action: string): void {
  if (!isAdmin(ctx)) throw new PolicyNotAuthorized(`${action}:${attr}`);
}

/** The project a new resource belongs to: the caller's, or any for an admin. */
export function ownerOf(ctx: AuthContext | null, body: { project_id?: string; tenant_id?: string }): string {
  const asked = body.project_id || body.tenant_id;
  if (ctx && !ctx.isAdmin) {
    if (asked && asked !== ctx.projectId) {
      throw new Forbidden(
        "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
      );
    }
  }
  const p = asked || ctx?.projectId;
  if (!p) throw new Forbidden('A project-scoped token is required to create networking resources.');
  return p;
}

export const ownsProject = (ctx: AuthContext | null, projectId: string): boolean => isAdmin(ctx) || ctx!.projectId === projectId;

/** Members see their project's networks plus shared and external ones. */
export const canSeeNetwork = (ctx: AuthContext | null, n: NetworkRow): boolean =>
  ownsProject(ctx, n.project_id) || n.shared || n.router_external;

/**
 * Subnets follow their network's sharing, not its external flag: Neutron's get_subnet is
 * "admin or owner or rule:shared" (field:networks:shared), so another project sees a
 * non-shared external network but none of its subnets.
 */
export const canSeeSubnetsOf = (ctx: AuthContext | null, n: NetworkRow): boolean => ownsProject(ctx, n.project_id) || n.shared;

/** Default rules of the network service (registered when the policy engine takes defaults). */
export const NETWORK_POLICY_DEFAULTS: Record<string, string> = {
  'network:get_network': "rule:admin_required or project_id:%(project_id)s or 'True':%(shared)s or 'True':%(router:external)s",
  'network:get_subnet': "rule:admin_required or project_id:%(project_id)s or 'True':%(shared)s",
  'network:get_agent': 'rule:admin_required',
  'network:get_network_ip_availability': 'rule:admin_required',
  'network:update_quota': 'rule:admin_required',
  'network:delete_quota': 'rule:admin_required',
  'network:get_quota': 'rule:admin_required or project_id:%(project_id)s',
};
