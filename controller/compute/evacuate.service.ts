import { randomBytes } from 'node:crypto';
import type { AttachedVolume } from '../../shared/agent/compute.js';
import { BadRequest, Conflict, NotFound } from '../../shared/errors/index.js';
import { background, must, type ComputeCtx } from './context.js';
import type { HostRef } from './host-gateway.js';
import {
  adoptVolumes,
  claimDestination,
  connectVolumesFor,
  dropVolumes,
  moveRequestSpec,
  newMigration,
  NO_VALID_HOST,
  releaseDestination,
  type MovedVolume,
} from './move-common.js';
import { instanceSpec } from './server-build.service.js';
import { messageOf } from './host-gateway.js';
import type { ActionEnv, ActionResult } from './server-action-types.js';
import type { Instance } from './servers.repo.js';
import { mvAtLeast } from './versions.js';

/**
 * os-evacuate (admin): the server's host is down, so the server is rebuilt on another
 * host — volume-backed servers keep their data (their volumes are attached for the new
 * host), image-backed ones get a new root disk from their image, as Nova does without
 * shared storage. A host that is up is refused (Nova's ComputeServiceInUse). The
 * migration record (type evacuation) stays 'done' until the dead host comes back and
 * reconciliation destroys its stale copy; then it is 'completed' and the old host's
 * allocation is freed.
 */

const TRUE = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE = ['0', 'f', 'false', 'off', 'n', 'no'];
const bool = (v: unknown, name: string): boolean => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && TRUE.includes(v.toLowerCase())) return true;
  if (typeof v === 'string' && FALSE.includes(v.toLowerCase())) return false;
  throw new BadRequest(`Invalid input for field/attribute ${name}. Value: ${JSON.stringify(v)}.`);
};

export function evacuateAction(ctx: ComputeCtx, env: ActionEnv, i: Instance, arg: unknown): ActionResult {
  const { auth, requestId } = env;
  const v214 = Boolean(env.version && mvAtLeast(env.version, '2.14'));
  const v229 = Boolean(env.version && mvAtLeast(env.version, '2.29'));
  if (!arg || typeof arg !== 'object' || Array.isArray(arg))
    throw new BadRequest('Invalid input for field/attribute evacuate. Value: null.');
  const a = arg as Record<string, unknown>;
  const allowed = ['host', 'adminPass', ...(v214 ? [] : ['onSharedStorage']), ...(v229 ? ['force'] : [])];
  for (const k of Object.keys(a))
    if (!allowed.includes(k)) throw new BadRequest(`Additional properties are not allowed ('${k}' was unexpected)`);
  if (!v214 && !('onSharedStorage' in a)) throw new BadRequest("'onSharedStorage' is a required property");
  must(ctx, 'os_compute_api:os-evacuate', auth, { project_id: i.project_id, user_id: i.user_id });
  const host = a.host === undefined || a.host === null ? null : String(a.host);
  const shared = v214 ? false : bool(a.onSharedStorage, 'onSharedStorage');
  const force = v229 && 'force' in a ? bool(a.force, 'force') : false;
  if (force && !host) throw new BadRequest("Can't force to a non-provided destination");
  if (shared && 'adminPass' in a) throw new BadRequest("admin password can't be changed on existing disk");
  const password = typeof a.adminPass === 'string' ? a.adminPass : randomBytes(9).toString('base64url');
  let target: HostRef | null = null;
  if (host !== null) {
    const h = ctx.scheduler.cache.all().find((x) => x.name === host && x.roles.includes('compute'));
    if (!h) throw new NotFound(`Compute host ${host} not found.`, 'ComputeHostNotFound');
    target = { id: h.id, name: h.name };
  }
  if (i.host === host) throw new BadRequest("The target host can't be the same one.");
  if (!['active', 'stopped', 'error'].includes(i.vm_state) || i.task_state !== null)
    throw new Conflict(
      `Cannot 'evacuate' instance ${i.id} while it is in ${i.task_state !== null ? `task_state ${i.task_state}` : `vm_state ${i.vm_state}`}`,
      'InstanceInvalidState',
    );
  const src = ctx.scheduler.cache.all().find((x) => x.id === i.host_id);
  if (!i.host || !i.host_id || !src) throw new BadRequest(`Compute service of ${i.host ?? 'no host'} is unavailable.`);
  if (src.up) throw new BadRequest(`Compute service of ${i.host} is still in use.`, 'ComputeServiceInUse');
  if (shared)
    throw new BadRequest(
      `${i.host} is not on shared storage: the instance files are on the failed host's own disk.`,
      'InvalidSharedStorage',
    );
  if (!ctx.moves) throw new Conflict('Moving servers is not available on this cloud.', 'ServiceUnavailable');
  if (
    !ctx.servers.updateIf(
      i.id,
      { vmStates: ['active', 'stopped', 'error'], taskState: null },
      { task_state: 'rebuilding' },
      ctx.now().toISOString(),
    )
  )
    throw new Conflict(`Cannot 'evacuate' instance ${i.id} while it is in task_state ${i.task_state}`, 'InstanceInvalidState');
  const action = ctx.actions.start({
    instanceId: i.id,
    action: 'evacuate',
    requestId,
    projectId: i.project_id,
    userId: auth.userId,
  });
  const m = newMigration(ctx, i, auth, 'evacuation', { status: 'accepted', dest: target });
  const source: HostRef = { id: i.host_id, name: i.host };
  background(ctx, `evacuation of ${i.id}`, () =>
    runEvacuate(ctx, { instanceId: i.id, migrationId: m.id, action, source, target, publicUrl: env.publicUrl }),
  );
  // Below 2.14 Nova answers the new admin password (enable_instance_password); from 2.14, nothing.
  return v214 ? { status: 200 } : { status: 200, body: { adminPass: password } };
}

async function runEvacuate(
  ctx: ComputeCtx,
  o: { instanceId: string; migrationId: number; action: number; source: HostRef; target: HostRef | null; publicUrl: string },
): Promise<void> {
  const i = ctx.servers.get(o.instanceId)!;
  const m = ctx.migrations.get(o.migrationId)!;
  let dest: (HostRef & { az?: string }) | null = null;
  let vols: MovedVolume[] = [];
  const now = () => ctx.now().toISOString();
  try {
    const ev = ctx.actions.eventStart(o.action, 'conductor_rebuild_server');
    const claim = claimDestination(
      ctx,
      i,
      m,
      moveRequestSpec(ctx, i, { ignoreHosts: [o.source.name], host: o.target?.name ?? null }),
    );
    if (!claim.ok) {
      ctx.actions.eventFinish(ev, false, `${NO_VALID_HOST} ${claim.reason}`);
      throw new Error(`${NO_VALID_HOST} ${claim.reason}`);
    }
    dest = claim.host;
    ctx.actions.eventFinish(ev, true, `chose host ${dest.name}`, dest.name);
    ctx.migrations.update(m.id, { status: 'pre-migrating' });
    const d = dest;
    const ev2 = ctx.actions.eventStart(o.action, 'compute_rebuild_instance', d.name);
    try {
      ctx.servers.update(i.id, { task_state: 'rebuild_block_device_mapping' }, now());
      vols = await connectVolumesFor(ctx, i, d);
      ctx.migrations.update(m.id, { details: { volumes: vols.map(({ connection: _c, ...v }) => v) } });
      const nets = ctx.facades.networks;
      const ports = nets?.portsOfDevice(i.id) ?? [];
      for (const p of ports) await nets!.bindPort(p.id, d.name);
      ctx.servers.update(i.id, { task_state: 'rebuild_spawning' }, now());
      const boot = vols.find((v) => v.boot);
      const spec = instanceSpec(
        ctx,
        i,
        ports,
        o.publicUrl,
        boot ? { volume_id: boot.volume_id, attachmentId: boot.attachmentId, connection: boot.connection } : null,
      );
      const data: AttachedVolume[] = vols
        .filter((v) => !v.boot)
        .map((v) => ({ volume_id: v.volume_id, connection: v.connection, device: v.device }));
      let st = (await ctx.gateway.spawn(d, { ...spec, ...(data.length ? { volumes: data } : {}) })).state;
      if (i.vm_state === 'stopped') st = await ctx.gateway.power(d, i.id, 'stop');
      // The dead host's connections are revoked: it must not write to the volumes if it comes back.
      await adoptVolumes(ctx, i, vols, true);
      ctx.servers.update(
        i.id,
        {
          host: d.name,
          host_id: d.id,
          task_state: null,
          vm_state: i.vm_state === 'stopped' ? 'stopped' : 'active',
          power_state: st.power_state,
          launched_at: now(),
          ...(d.az ? { availability_zone: d.az } : {}),
        },
        now(),
      );
      ctx.actions.eventFinish(ev2, true, undefined, d.name);
    } catch (e) {
      ctx.actions.eventFinish(ev2, false, messageOf(e), d.name);
      throw e;
    }
    // The old host's allocation stays with the migration until that host is clean (reconcile.ts).
    ctx.migrations.update(m.id, { status: 'done', dest_host: ctx.moves!.address(d) });
    ctx.actions.finish(o.action);
  } catch (e) {
    const msg = messageOf(e);
    if (dest) {
      await ctx.gateway.destroy(dest, i.id).catch(() => {});
      await dropVolumes(ctx, vols);
      releaseDestination(ctx, i, m);
      for (const p of ctx.facades.networks?.portsOfDevice(i.id) ?? [])
        await ctx.facades.networks!.bindPort(p.id, o.source.name).catch(() => {});
    }
    ctx.servers.update(i.id, { task_state: null, vm_state: 'error' }, now());
    ctx.servers.addFault(i.id, 500, `Evacuation of instance ${i.id} failed: ${msg}`, msg, now());
    ctx.migrations.update(m.id, { status: 'failed', error: msg });
    ctx.actions.finish(o.action, 'Error');
  }
}
