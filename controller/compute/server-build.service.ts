import type { ConfigDriveSpec, InstanceSpec, IscsiConnectionInfo, NetworkData, VifSpec } from '../../shared/agent/compute.js';
import type { PortInfo } from '../facades.js';
import { ec2DataOf, metaDataOf, networkDataOfPorts } from '../metadata/source.js';
import type { AuthContext } from '../http/auth.js';
import type { ComputeCtx } from './context.js';
import { HostOpError, messageOf, type HostRef } from './host-gateway.js';
import type { RequestSpec } from './scheduler.js';
import type { Instance } from './servers.repo.js';
import { initiatorOf } from './hosts.repo.js';

/** What a build needs from the create request. */
export interface BuildInput {
  auth: AuthContext;
  requestId: string;
  /** The controller's base URL as agents reach it (image downloads). */
  publicUrl: string;
}

const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';

const buildingOf = (ctx: ComputeCtx) => ctx.building;
export const isBuilding = (ctx: ComputeCtx, id: string) => ctx.building.has(id);

/** ERROR + fault; the action and its open event end in error. Never throws. */
export function setError(ctx: ComputeCtx, id: string, code: number, message: string, details: string): void {
  try {
    const now = ctx.now().toISOString();
    ctx.servers.update(id, { vm_state: 'error', task_state: null }, now);
    ctx.servers.addFault(id, code, message, details, now);
  } catch (err) {
    ctx.log.error({ err, server: id }, 'could not record a server fault');
  }
}

function specOf(
  i: Instance,
  hostIds: { same: string[]; different: string[] },
  groupHosts: string[] | null,
  tried: string[],
): RequestSpec {
  const h = i.scheduler_hints as { force_host?: string; group_policy?: string };
  return {
    instanceId: i.id,
    resources: {
      vcpus: i.flavor.vcpus,
      memory_mb: i.flavor.ram,
      disk_gb: i.image_ref ? i.flavor.disk + i.flavor.ephemeral : i.flavor.ephemeral,
    },
    az: i.requested_az,
    forcedHost: h.force_host ?? null,
    group: h.group_policy ? { policy: h.group_policy, memberHosts: groupHosts ?? [] } : null,
    sameHost: hostIds.same,
    differentHost: hostIds.different,
    ignoreHosts: tried,
  };
}

/** Host names of other instances (scheduler hints, group members). */
function hostsOf(ctx: ComputeCtx, ids: string[], except: string): string[] {
  const out: string[] = [];
  for (const id of ids) {
    if (id === except) continue;
    const i = ctx.servers.get(id);
    if (i?.host) out.push(i.host);
  }
  return out;
}

function groupHosts(ctx: ComputeCtx, instanceId: string): string[] | null {
  const g = ctx.groups.groupOf(instanceId);
  if (!g) return null;
  return hostsOf(ctx, ctx.groups.members(g), instanceId);
}

const asList = (x: unknown): string[] => (x === undefined || x === null ? [] : Array.isArray(x) ? x.map(String) : [String(x)]);

/**
 * Builds one instance: schedule + claim → ports → bind → spawn, retried on another
 * host (compute.build_attempts) when the spawn fails. Every path ends in ACTIVE, or in
 * ERROR with a fault, with the claim released and the ports released; each step is an
 * instance-action event. Never throws.
 */
export async function buildInstance(ctx: ComputeCtx, id: string, input: BuildInput): Promise<void> {
  const mine = buildingOf(ctx);
  mine.add(id);
  const action =
    ctx.actions.byRequest(id, input.requestId)?.id ??
    ctx.actions.start({
      instanceId: id,
      action: 'create',
      requestId: input.requestId,
      projectId: input.auth.projectId ?? '',
      userId: input.auth.userId,
    });
  let ports: PortInfo[] | null = null;
  let bootVol: BootVolumeClaim | null = null;
  try {
    const attempts = ctx.config.compute.build_attempts;
    const tried: string[] = [];
    let last: HostOpError | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const inst = ctx.servers.get(id);
      if (!inst || inst.task_state === 'deleting') return await abandon(ctx, id, ports);

      // 1. Schedule and claim (one synchronous step: nothing interleaves).
      const ev = ctx.actions.eventStart(action, 'conductor_schedule_and_build_instances');
      const hints = inst.scheduler_hints as Record<string, unknown>;
      const spec = specOf(
        inst,
        { same: hostsOf(ctx, asList(hints.same_host), id), different: hostsOf(ctx, asList(hints.different_host), id) },
        groupHosts(ctx, id),
        tried,
      );
      if (inst.image_ref) spec.imageProperties = ctx.facades.images?.get(null, inst.image_ref)?.properties;
      const sel = ctx.scheduler.scheduleAndClaim(spec);
      if (!sel.ok) {
        const details = last ? `${sel.reason}; the last build failure: ${last.message}` : sel.reason;
        ctx.actions.eventFinish(ev, false, `${NO_VALID_HOST} ${details}`);
        ctx.actions.finish(action, 'Error');
        await releasePorts(ctx, id, ports);
        // After a failed build the user sees why it failed, not only that no host is left.
        setError(
          ctx,
          id,
          500,
          last ? `${NO_VALID_HOST} The last build failure (${tried.at(-1)}): ${last.message}` : NO_VALID_HOST,
          details,
        );
        return;
      }
      const host: HostRef = { id: sel.host.id, name: sel.host.name };
      ctx.actions.eventFinish(ev, true, `chose host ${host.name}`, host.name);
      ctx.servers.update(
        id,
        { host: host.name, host_id: host.id, availability_zone: inst.requested_az ?? sel.host.az, task_state: 'networking' },
        ctx.now().toISOString(),
      );

      try {
        // 2. Ports (created once) and their binding to this host.
        ports = await step(ctx, action, 'compute__allocate_network', host.name, false, async () => {
          const ps = ports ?? (await allocatePorts(ctx, inst, input.auth));
          for (const p of ps) await ctx.facades.networks!.bindPort(p.id, host.name);
          return ps;
        });
        if (ctx.servers.get(id)?.task_state === 'deleting') return await abandon(ctx, id, ports, host);
        ctx.servers.update(id, { task_state: 'spawning' }, ctx.now().toISOString());

        // 3. The boot volume (volume-backed servers), attached for this host.
        if (!inst.image_ref) {
          ctx.servers.update(id, { task_state: 'block_device_mapping' }, ctx.now().toISOString());
          bootVol = await step(ctx, action, 'compute__prepare_block_device', host.name, false, () =>
            prepareBootVolume(ctx, inst, host, input.auth),
          );
          ctx.servers.update(id, { task_state: 'spawning' }, ctx.now().toISOString());
        }

        // 4. Spawn.
        const instSpec = await step(ctx, action, 'compute__build_spec', host.name, false, async () =>
          instanceSpec(ctx, inst, ports!, input.publicUrl, bootVol),
        );
        const res = await step(
          ctx,
          action,
          'compute_build_and_run_instance',
          host.name,
          true,
          () =>
            withTimeout(
              ctx.gateway.spawn(host, instSpec, input.requestId),
              ctx.config.compute.build_timeout_s * 1000,
              `the spawn on ${host.name} did not finish in time`,
              (abort) => ctx.spawnWaits.set(id, { hostId: host.id, abort }),
              () => ctx.spawnWaits.delete(id),
            ),
          (r) => `libvirt_start_ms=${r.libvirtStartMs}`,
        );
        const now = ctx.now().toISOString();
        if (bootVol) ctx.facades.volumes?.attachComplete(bootVol.attachmentId, '/dev/vda');
        if (ctx.servers.get(id)?.task_state === 'deleting') return await abandon(ctx, id, ports, host);
        ctx.servers.update(
          id,
          { vm_state: 'active', task_state: null, power_state: res.state.power_state, launched_at: now, progress: 100 },
          now,
        );
        ctx.actions.finish(action);
        return;
      } catch (e) {
        last = e instanceof HostOpError && e.step ? e : HostOpError.step('build', e, false);
        ctx.scheduler.release(id);
        if (bootVol) {
          const a = bootVol.attachmentId;
          bootVol = null;
          ctx.servers.clearBootAttachment(id);
          await ctx.facades.volumes
            ?.detach(a)
            .catch((err) => ctx.log.warn({ err, server: id }, 'could not detach the boot volume after a failed spawn'));
        }
        // The agent leaves nothing on a failed spawn; destroy anyway (idempotent) for a
        // timed-out or abandoned one. Not awaited: for a host that is down the destroy
        // waits in the dispatcher, queued after the spawn, until the host is back.
        if (last.retryable)
          ctx.gateway
            .destroy(host, id, input.requestId)
            .catch((err) => ctx.log.warn({ err, server: id }, 'cleanup destroy failed'));
        tried.push(host.name);
        ctx.servers.update(id, { host: null, host_id: null, task_state: 'scheduling' }, ctx.now().toISOString());
        if (!last.retryable) break;
      }
    }
    await releasePorts(ctx, id, ports);
    ctx.actions.finish(action, 'Error');
    const msg =
      last && last.retryable && tried.length >= attempts
        ? `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${id}. The last failure (${tried.at(-1)}): ${last.message}`
        : `Build of instance ${id} aborted: ${last?.message ?? 'unknown error'}`;
    setError(ctx, id, 500, msg, last?.message ?? '');
  } catch (e) {
    ctx.log.error({ err: e, server: id }, 'unexpected build failure');
    ctx.scheduler.release(id);
    await releasePorts(ctx, id, ports);
    ctx.actions.finish(action, 'Error');
    setError(ctx, id, 500, `Build of instance ${id} aborted: ${messageOf(e)}`, messageOf(e));
  } finally {
    mine.delete(id);
  }
}

/** Runs one build step as an instance-action event; failures become HostOpError.step. */
async function step<T>(
  ctx: ComputeCtx,
  action: number,
  name: string,
  host: string,
  retryable: boolean,
  fn: () => Promise<T>,
  details?: (r: T) => string,
): Promise<T> {
  const ev = ctx.actions.eventStart(action, name, host);
  try {
    const r = await fn();
    ctx.actions.eventFinish(ev, true, details?.(r), host);
    return r;
  } catch (e) {
    ctx.actions.eventFinish(ev, false, messageOf(e), host);
    throw HostOpError.step(name, e, retryable);
  }
}

/**
 * The spawn's promise, or a HostOpError when it takes longer than `ms` or when
 * `register`'s abort is called (the host went down).
 */
function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  msg: string,
  register?: (abort: (e: Error) => void) => void,
  done?: () => void,
): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new HostOpError('BuildTimeout', msg)), ms);
      t.unref?.();
      register?.(rej);
    }),
  ]).finally(() => {
    clearTimeout(t);
    done?.();
  });
}

/**
 * A host went down: builds waiting for a spawn there stop waiting and try another
 * host (the destroy they queue runs after the spawn once the host is back).
 */
export function abortSpawnsOn(ctx: ComputeCtx, hostId: string, hostName: string): number {
  let n = 0;
  for (const [, w] of ctx.spawnWaits) {
    if (w.hostId !== hostId) continue;
    w.abort(new HostOpError('HostDown', `host ${hostName} went down during the spawn`));
    n++;
  }
  return n;
}

async function allocatePorts(ctx: ComputeCtx, inst: Instance, auth: AuthContext): Promise<PortInfo[]> {
  const nets = inst.requested_networks;
  if (nets === 'none' || nets === 'auto' || !nets.length) return [];
  const net = ctx.facades.networks;
  if (!net) throw new Error('networking is not available');
  const az = inst.availability_zone ?? ctx.config.compute.default_availability_zone;
  const out: PortInfo[] = [];
  try {
    for (const n of nets) {
      if (n.port) out.push(net.claimPort(auth, n.port, inst.id, az));
      else
        out.push(
          net.createServerPort(auth, {
            networkId: n.uuid!,
            fixedIp: n.fixed_ip,
            serverId: inst.id,
            az,
            securityGroups: inst.security_groups.map((g) => g.name),
          }),
        );
    }
  } catch (e) {
    // Nothing half-made: ports made so far go.
    await net.releaseServerPorts(inst.id).catch(() => {});
    throw e;
  }
  return out;
}

async function releasePorts(ctx: ComputeCtx, id: string, ports: PortInfo[] | null): Promise<void> {
  if (!ctx.facades.networks || (ports !== null && !ports.length)) return;
  await ctx.facades.networks
    .releaseServerPorts(id)
    .catch((err) => ctx.log.warn({ err, server: id }, 'could not release the ports of a server'));
}

/** The server was deleted while it was being built: undo everything and finish the delete. */
async function abandon(ctx: ComputeCtx, id: string, ports: PortInfo[] | null, host?: HostRef): Promise<void> {
  if (host)
    await ctx.gateway
      .destroy(host, id)
      .catch((err) => ctx.log.warn({ err, server: id }, 'destroy after delete-during-build failed'));
  ctx.scheduler.release(id);
  await releasePorts(ctx, id, ports);
  markDeleted(ctx, id);
}

export function markDeleted(ctx: ComputeCtx, id: string): void {
  const now = ctx.now().toISOString();
  ctx.db.transaction(() => {
    ctx.servers.update(
      id,
      { vm_state: 'deleted', task_state: null, power_state: 0, deleted: true, deleted_at: now, terminated_at: now },
      now,
    );
    ctx.groups.removeMember(id);
    ctx.servers.removeVolumes(id);
  })();
}

interface BootVolumeClaim {
  volume_id: string;
  attachmentId: string;
  connection: IscsiConnectionInfo;
}

/**
 * The boot volume of a volume-backed server, attached (exported) for `host`: the
 * given volume, or one created from the image on the first attempt (kept for retries:
 * its block-device row remembers it).
 */
async function prepareBootVolume(ctx: ComputeCtx, inst: Instance, host: HostRef, auth: AuthContext): Promise<BootVolumeClaim> {
  const volumes = ctx.facades.volumes;
  if (!volumes) throw new Error('block storage is not available');
  const bdm = inst.block_devices.find((b) => b.boot_index === 0);
  if (!bdm?.uuid) throw new Error('no boot volume was requested');
  const row = ctx.servers.attachedVolumes(inst.id).find((b) => b.boot_index === 0);
  let volumeId = row?.volume_id;
  let deleteOnTermination = row?.delete_on_termination ?? bdm.delete_on_termination ?? false;
  if (!volumeId) {
    if (bdm.source_type === 'image') {
      const v = await volumes.createForServer(auth, { size: bdm.volume_size ?? 1, imageId: bdm.uuid, name: '' });
      volumeId = v.id;
    } else if (bdm.source_type === 'snapshot') {
      const v = await volumes.createForServer(auth, { size: bdm.volume_size ?? null, snapshotId: bdm.uuid, name: '' });
      volumeId = v.id;
    } else {
      volumeId = bdm.uuid;
    }
    deleteOnTermination = bdm.delete_on_termination ?? false;
    ctx.servers.addVolume(
      inst.id,
      {
        volume_id: volumeId,
        device_name: '/dev/vda',
        boot_index: 0,
        delete_on_termination: deleteOnTermination,
        attachment_id: null,
      },
      ctx.now().toISOString(),
    );
  }
  const a = await volumes.attach(auth, volumeId, {
    serverId: inst.id,
    host: host.name,
    initiator: initiatorOf(ctx.hosts, host.id),
    device: '/dev/vda',
  });
  ctx.servers.setVolumeAttachment(inst.id, volumeId, a.attachmentId);
  return { volume_id: volumeId, attachmentId: a.attachmentId, connection: a.connection };
}

/** Everything the agent needs to boot this instance (contract: shared/agent/compute.ts InstanceSpec). */
export function instanceSpec(
  ctx: ComputeCtx,
  inst: Instance,
  ports: PortInfo[],
  publicUrl: string,
  bootVol: BootVolumeClaim | null = null,
): InstanceSpec {
  const nics: VifSpec[] = ports.map((p) => ({
    port_id: p.id,
    mac: p.mac_address,
    network_id: p.network_id,
    mtu: p.mtu || 1450,
    fixed_ips: p.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
  }));
  let image: InstanceSpec['image'];
  if (inst.image_ref) {
    const img = ctx.facades.images?.get(null, inst.image_ref);
    if (!img) throw new Error(`image ${inst.image_ref} is gone`);
    if (!ctx.facades.identity) throw new Error('no service token available for the image download');
    image = {
      id: img.id,
      download_url: `${publicUrl}/image/v2/images/${img.id}/file`,
      token: ctx.facades.identity.serviceToken(),
      checksum: img.checksum && /^[0-9a-f]{32}$/.test(img.checksum) ? img.checksum : null,
      disk_format: img.disk_format ?? 'raw',
      size: img.size,
    };
  } else if (!bootVol) {
    throw new Error('a volume-backed server needs its boot volume attached');
  }
  // The same documents the metadata service serves (controller/metadata), in Nova's shapes.
  const cd: ConfigDriveSpec = {
    meta_data: metaDataOf(inst, inst.availability_zone ?? ctx.config.compute.default_availability_zone),
    user_data: inst.user_data ? inst.user_data.replace(/\s+/g, '') : null,
    network_data: networkDataOfPorts(ctx.facades.networks, ports),
    ec2: ec2DataOf(inst, ports),
  };
  const props = image ? (ctx.facades.images?.get(null, image.id)?.properties ?? {}) : {};
  const bus = props.hw_disk_bus;
  return {
    uuid: inst.id,
    name: inst.name,
    hostname: inst.hostname,
    project_id: inst.project_id,
    vcpus: inst.flavor.vcpus,
    memory_mb: inst.flavor.ram,
    root_gb: inst.flavor.disk,
    ...(image ? { image } : {}),
    ...(bootVol ? { boot_volume: { volume_id: bootVol.volume_id, connection: bootVol.connection } } : {}),
    nics,
    config_drive: inst.config_drive === 'True' ? cd : null,
    ...(bus === 'virtio' || bus === 'scsi' || bus === 'ide' || bus === 'sata' ? { virt: { disk_bus: bus } } : {}),
  };
}
