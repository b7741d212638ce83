import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import type { Facades } from '../facades.js';
import { baseUrl, localBaseUrl } from '../http/base-url.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';
import { ActionsRepo } from './actions.repo.js';
import { FlavorsRepo } from './flavors.repo.js';
import { ComputeHostsRepo } from './hosts.repo.js';
import { Placement } from './placement.repo.js';
import { ComputeQuotasRepo } from './quotas.repo.js';
import { ServerGroupsRepo } from './server-groups.repo.js';
import { enforce } from './policy.js';
import type { ComputeHostGateway } from './host-gateway.js';
import { HostStateCache, Scheduler } from './scheduler.js';
import { ServersRepo } from './servers.repo.js';
import { MigrationsRepo } from './migrations.repo.js';
import type { MoveGateway } from './move-gateway.js';

/** Everything the compute services share, built once per app (no module state). */
export interface ComputeCtx {
  db: Db;
  config: ControllerConfig;
  log: FastifyBaseLogger;
  policy: Policy;
  facades: Partial<Facades>;
  gateway: ComputeHostGateway;
  placement: Placement;
  scheduler: Scheduler;
  servers: ServersRepo;
  flavors: FlavorsRepo;
  actions: ActionsRepo;
  hosts: ComputeHostsRepo;
  groups: ServerGroupsRepo;
  quotas: ComputeQuotasRepo;
  migrations: MigrationsRepo;
  /** Moving instances between hosts (absent: the gateway cannot, e.g. the unit tests' fake). */
  moves?: MoveGateway;
  /** Live migrations running in this process: instance → migration id. */
  liveMigrations: Map<string, number>;
  now: () => Date;
  /** Background work in flight (builds, deletes, actions): tests await it. */
  tasks: Set<Promise<unknown>>;
  /** Instances whose build runs in this process (a delete lets the build clean up). */
  building: Set<string>;
  /** First sighting (ms) of domains that belong to no instance (reconciliation grace). */
  strays: Map<string, number>;
  /** Builds waiting for a spawn: instance → host and how to stop waiting. */
  spawnWaits: Map<string, { hostId: string; abort: (e: Error) => void }>;
  /** Console tokens (controller/console), set by the compute plugin. */
  consoles?: import('../console/tokens.js').ConsoleTokens;
}

export function createComputeCtx(o: {
  db: Db;
  config: ControllerConfig;
  log: FastifyBaseLogger;
  policy: Policy;
  facades: Partial<Facades>;
  gateway: ComputeHostGateway;
  moves?: MoveGateway;
  now?: () => Date;
}): ComputeCtx {
  const c = o.config.compute;
  const placement = new Placement(o.db, {
    cpu: c.cpu_allocation_ratio,
    ram: c.ram_allocation_ratio,
    disk: c.disk_allocation_ratio,
  });
  const now = o.now ?? (() => new Date());
  return {
    ...o,
    now,
    placement,
    scheduler: new Scheduler(new HostStateCache(o.db, placement, 1000), placement, c.weigher),
    servers: new ServersRepo(o.db),
    flavors: new FlavorsRepo(o.db),
    actions: new ActionsRepo(o.db, () => now().toISOString()),
    hosts: new ComputeHostsRepo(o.db),
    groups: new ServerGroupsRepo(o.db),
    quotas: new ComputeQuotasRepo(o.db),
    migrations: new MigrationsRepo(o.db, () => now().toISOString()),
    liveMigrations: new Map(),
    tasks: new Set(),
    building: new Set(),
    strays: new Map(),
    spawnWaits: new Map(),
  };
}

/** Runs work after the response, tracked so tests (and shutdown) can wait for it. */
export function background(ctx: ComputeCtx, what: string, fn: () => Promise<unknown>): void {
  const p = (async () => {
    await new Promise((r) => setImmediate(r));
    await fn();
  })().catch((err) => ctx.log.error({ err, what }, 'compute background task failed'));
  ctx.tasks.add(p);
  void p.finally(() => ctx.tasks.delete(p));
}

/** Waits until no background work is left (tests). */
export async function settle(ctx: ComputeCtx): Promise<void> {
  while (ctx.tasks.size) await Promise.all([...ctx.tasks]);
}

export const can = (ctx: ComputeCtx, action: string, auth: AuthContext, target?: PolicyTarget) =>
  ctx.policy.allowed(action, auth, target);
export const must = (ctx: ComputeCtx, action: string, auth: AuthContext, target?: PolicyTarget) =>
  enforce(ctx.policy, action, auth, target);

/** The compute endpoint as the client reached it (for links). */
export function computeBase(req: FastifyRequest, ctx: ComputeCtx): string {
  return `${baseUrl(req, ctx.config.public_url || undefined)}/compute`;
}

/** The controller's public base URL (for agents: image downloads and uploads). */
export function publicBase(req: FastifyRequest | null, ctx: ComputeCtx): string {
  if (ctx.config.public_url) return ctx.config.public_url.replace(/\/+$/, '');
  if (req) return baseUrl(req);
  return localBaseUrl(ctx.config);
}

/** Nova's self + bookmark links. */
export function links(base: string, project: string | undefined, collection: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${base}/${collection}/${id}` },
  ];
}

/** Nova's timestamp forms. */
export const novaTime = (iso: string | null | undefined): string | null => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : null);
/** OS-SRV-USG uses naive microsecond timestamps: 2013-09-23T13:53:12.000000 */
export const usgTime = (iso: string | null | undefined): string | null => (iso ? iso.replace(/\.(\d{3})Z$/, '.$1000') : null);

/** Parses a query boolean as Nova's strutils does. */
export function boolParam(v: unknown): boolean | null {
  if (v === undefined || v === null) return null;
  const s = String(v).toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  return null;
}
