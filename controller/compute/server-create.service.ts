import { randomBytes } from 'node:crypto';
import { ServerCreate } from '../../shared/api/compute.js';
import { BadRequest, Conflict, Forbidden } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { ImageInfo } from '../facades.js';
import type { AuthContext } from '../http/auth.js';
import { can, must, type ComputeCtx } from './context.js';
import { visibleFlavor } from './flavors.service.js';
import { KeypairsRepo } from './keypairs.repo.js';
import { checkInstanceQuota, quotaLimit } from './quotas.service.js';
import type { BlockDevice, FlavorSnapshot, Instance, RequestedNetworks } from './servers.repo.js';
import { mvAtLeast, type Microversion } from './versions.js';
import { checkBootSnapshot, imageBootMapping } from './volume-backed-image.service.js';
import { toInt, validate } from '../http/validate.js';

export interface CreateResult {
  instances: Instance[];
  adminPass: string;
  reservationId: string;
  returnReservationId: boolean;
}

/** The id at the end of a flavorRef/imageRef that may be a link. */
const refId = (ref: string | number): string => {
  const s = String(ref).trim();
  return s.includes('/') ? s.replace(/\/+$/, '').split('/').pop()! : s;
};

const hostnameOf = (name: string): string => {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return h || 'server';
};

/**
 * Validates a server create and records the instances (BUILD / scheduling), the
 * `create` action of each, and group membership, in one transaction that also checks
 * the quota. The caller then starts the builds in the background.
 */
export function createServers(
  ctx: ComputeCtx,
  auth: AuthContext,
  body: unknown,
  v: Microversion,
  requestId: string,
): CreateResult {
  const projectId = auth.projectId;
  if (!projectId) throw new Forbidden('A project-scoped token is required to create servers.');
  must(ctx, 'os_compute_api:servers:create', auth, { project_id: projectId });
  const b = validate(ServerCreate, body);
  const s = b.server;
  const name = s.name.trim();
  if (!name) throw new BadRequest('Invalid input for field/attribute name. Value: . The name must not be empty or only spaces.');

  // Flavor.
  const flavorId = refId(s.flavorRef);
  let flavor;
  try {
    flavor = visibleFlavor(ctx, auth, flavorId);
  } catch {
    throw new BadRequest(`Flavor ${flavorId} could not be found.`, 'FlavorNotFound');
  }
  if (flavor.disabled) throw new BadRequest(`Flavor ${flavorId} is disabled.`);
  const snapshot: FlavorSnapshot = {
    id: flavor.id,
    name: flavor.name,
    ram: flavor.ram,
    vcpus: flavor.vcpus,
    disk: flavor.disk,
    ephemeral: flavor.ephemeral,
    swap: flavor.swap,
    extra_specs: ctx.flavors.extraSpecs(flavor.id),
  };

  // Boot source: an image, or a volume (block_device_mapping_v2 with boot_index 0).
  const bdms: BlockDevice[] = (s.block_device_mapping_v2 ?? []).map((d) => ({
    ...d,
    boot_index: d.boot_index === null || d.boot_index === undefined ? null : toInt(d.boot_index, 'boot_index'),
    volume_size: d.volume_size === null || d.volume_size === undefined ? null : toInt(d.volume_size, 'volume_size'),
  }));
  let bootBdm = bdms.find((d) => d.boot_index === 0);
  let imageRef = s.imageRef ? refId(s.imageRef) : '';
  let image: ImageInfo | null = null;
  // An image made by createImage of a volume-backed server boots from its snapshot (Nova merges the image's mappings).
  const fromImage = !bootBdm && imageRef ? imageBootMapping(imageOf(ctx, auth, imageRef)) : null;
  if (fromImage) {
    bdms.unshift(fromImage);
    bootBdm = fromImage;
  }
  if (bootBdm && (bootBdm.destination_type ?? 'volume') === 'volume') {
    if (bootBdm.source_type === 'volume') {
      if (!bootBdm.uuid)
        throw new BadRequest('Invalid input for field/attribute uuid: a volume id is required for a volume boot.');
      if (!ctx.facades.volumes) throw new BadRequest('Block storage is not available: cannot boot from volume.');
      const vol = ctx.facades.volumes.get(auth, bootBdm.uuid);
      if (!vol) throw new BadRequest(`Volume ${bootBdm.uuid} could not be found.`, 'VolumeNotFound');
      if (vol.status !== 'available')
        throw new BadRequest(`Volume ${bootBdm.uuid} status must be available, but current status is: ${vol.status}.`);
      imageRef = '';
    } else if (bootBdm.source_type === 'image') {
      if (!bootBdm.uuid) throw new BadRequest('Invalid input for field/attribute uuid: an image id is required.');
      if (!ctx.facades.volumes) throw new BadRequest('Block storage is not available: cannot boot from volume.');
      if (!bootBdm.volume_size)
        throw new BadRequest("Images with destination_type 'volume' need to have a non-zero size specified");
      image = imageOf(ctx, auth, bootBdm.uuid);
      imageRef = '';
    } else if (bootBdm.source_type === 'snapshot') {
      checkBootSnapshot(ctx, auth, bootBdm);
      imageRef = '';
    } else {
      throw new BadRequest(`Boot from a ${bootBdm.source_type ?? 'unspecified'} source is not supported.`);
    }
  } else {
    if (!imageRef) throw new BadRequest('Missing imageRef attribute');
    image = imageOf(ctx, auth, imageRef);
    if (image.min_ram && flavor.ram < image.min_ram) throw new BadRequest("Flavor's memory is too small for requested image.");
    if (image.min_disk && flavor.disk && flavor.disk < image.min_disk)
      throw new BadRequest("Flavor's disk is too small for requested image.");
    const vsize = image.virtual_size ?? image.size;
    if (flavor.disk && vsize && vsize > flavor.disk * 1024 ** 3)
      throw new BadRequest("Flavor's disk is too small for requested image.");
  }

  // Networks: absent at 2.1 (or "auto") → the only network available.
  let nets: RequestedNetworks;
  if (s.networks === undefined && mvAtLeast(v, '2.37'))
    throw new BadRequest("Invalid input for field/attribute server. Value: {...}. 'networks' is a required property");
  if (s.networks === 'none') nets = 'none';
  else if (s.networks === undefined || s.networks === 'auto') {
    const avail = ctx.facades.networks?.availableNetworks(auth) ?? [];
    if (avail.length > 1)
      throw new Conflict('Multiple possible networks found, use a Network ID to be more specific.', 'NetworkAmbiguous');
    nets = avail.length === 1 ? [{ uuid: avail[0]!.id }] : s.networks === 'auto' ? 'auto' : 'none';
    if (nets === 'auto') throw new BadRequest('Unable to automatically allocate a network for project ' + projectId);
  } else {
    const net = ctx.facades.networks;
    if (!net && s.networks.length) throw new BadRequest('Networking is not available.');
    nets = s.networks.map((n) => {
      if (n.port) {
        const p = net!.getPort(n.port);
        if (!p || (p.project_id !== projectId && !auth.isAdmin))
          throw new BadRequest(`Port ${n.port} could not be found.`, 'PortNotFound');
        if (p.device_id) throw new Conflict(`Port ${n.port} is still in use.`, 'PortInUse');
        return { port: n.port };
      }
      if (!n.uuid) throw new BadRequest('Bad networks format: network uuid is not in proper format');
      if (!net!.networkVisible(auth, n.uuid)) throw new BadRequest(`Network ${n.uuid} could not be found.`, 'NetworkNotFound');
      return { uuid: n.uuid, ...(n.fixed_ip ? { fixed_ip: n.fixed_ip } : {}) };
    });
    const ports = nets.filter((n) => n.port).map((n) => n.port);
    if (new Set(ports).size !== ports.length) throw new BadRequest('Duplicate networks or ports are not allowed.');
  }

  // Key pair.
  let keyData: string | null = null;
  if (s.key_name) {
    const k = new KeypairsRepo(ctx.db).get(auth.userId, s.key_name);
    if (!k) throw new BadRequest('Invalid key_name provided.', 'KeypairNotFound');
    keyData = k.public_key;
  }

  // User data must be base64.
  if (s.user_data) {
    const clean = s.user_data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1)
      throw new BadRequest('User data needs to be valid base 64.');
  }

  // Availability zone, or admin host targeting `zone:host`.
  let az: string | null = s.availability_zone ?? null;
  let forcedHost: string | null = null;
  if (az && az.includes(':')) {
    const [zone, host] = az.split(':', 2);
    if (host) {
      must(ctx, 'os_compute_api:servers:create:forced_host', auth, { project_id: projectId });
      const h = ctx.hosts.byName(host);
      if (!h) throw new BadRequest(`Compute host ${host} could not be found.`, 'ComputeHostNotFound');
      forcedHost = host;
    }
    az = zone || null;
  }
  if (az) {
    const zones = new Set(
      ctx.scheduler.cache
        .all()
        .filter((h) => h.roles.includes('compute'))
        .map((h) => h.az),
    );
    if (!zones.has(az)) throw new BadRequest(`The requested availability zone is not available`, 'InvalidRequest');
  }

  // Scheduler hints.
  const hints = b['OS-SCH-HNT:scheduler_hints'] ?? {};
  let group: { id: string; policy: string } | null = null;
  if (hints.group) {
    const g = ctx.groups.get(hints.group);
    if (!g || (g.project_id !== projectId && !auth.isAdmin))
      throw new BadRequest(`Invalid server group: group ${hints.group} not found`);
    group = g;
  }
  const asList = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
  for (const h of [...asList(hints.same_host), ...asList(hints.different_host)]) {
    if (!ctx.servers.get(h)) throw new BadRequest(`Invalid scheduler hint: instance ${h} could not be found.`);
  }

  const metadata = s.metadata ?? {};
  const maxMeta = quotaLimit(ctx, projectId, 'metadata_items');
  if (maxMeta >= 0 && Object.keys(metadata).length > maxMeta)
    throw new Forbidden('Quota exceeded for metadata_items: too many metadata items.', 'MetadataLimitExceeded');

  const minCount = s.min_count !== undefined ? toInt(s.min_count, 'min_count') : 1;
  const maxCount = s.max_count !== undefined ? toInt(s.max_count, 'max_count') : minCount;
  if (minCount < 1 || maxCount < 1) throw new BadRequest('min_count and max_count must be at least 1');
  if (minCount > maxCount) throw new BadRequest('min_count must be <= max_count');

  const sgs = (s.security_groups ?? [{ name: 'default' }]).map((g) => ({ name: g.name }));
  const adminPass = s.adminPass ?? randomBytes(9).toString('base64').replace(/[+/=]/g, 'x');
  const reservationId = `r-${randomBytes(4).toString('hex')}`;
  // Nova's force_config_drive (on by default); otherwise the drive only when asked for.
  // The document shows 'True' or '' as Nova's does.
  const asked = s.config_drive === true || (typeof s.config_drive === 'string' && /^(true|1|yes|on|t|y)$/i.test(s.config_drive));
  const configDrive = ctx.config.compute.force_config_drive || asked ? 'True' : '';

  const tx = ctx.db.transaction((): Instance[] => {
    const count = checkInstanceQuota(ctx, projectId, { cores: flavor.vcpus, ram: flavor.ram }, minCount, maxCount);
    if (group) {
      const lim = quotaLimit(ctx, projectId, 'server_group_members');
      const have = ctx.groups.memberCount(group.id);
      if (lim >= 0 && have + count > lim) throw new Forbidden('Quota exceeded, too many servers in group', 'QuotaError');
    }
    const now = ctx.now().toISOString();
    const out: Instance[] = [];
    for (let n = 0; n < count; n++) {
      const nm = maxCount > 1 ? `${name}-${n + 1}` : name;
      const inst = ctx.servers.insert({
        id: newUuid(),
        name: nm,
        hostname: hostnameOf(nm),
        description: s.description ?? null,
        project_id: projectId,
        user_id: auth.userId,
        reservation_id: reservationId,
        launch_index: n,
        image_ref: imageRef,
        flavor_id: flavor.id,
        flavor: snapshot,
        vm_state: 'building',
        task_state: 'scheduling',
        power_state: 0,
        availability_zone: az,
        requested_az: az,
        key_name: s.key_name ?? null,
        key_data: keyData,
        user_data: s.user_data ?? null,
        config_drive: configDrive,
        metadata,
        security_groups: sgs,
        requested_networks: nets,
        scheduler_hints: {
          ...hints,
          ...(forcedHost ? { force_host: forcedHost } : {}),
          ...(group ? { group_policy: group.policy } : {}),
          ...(image && !imageRef ? { bdm_image: image.id } : {}),
        },
        block_devices: bdms,
        access_ipv4: s.accessIPv4 ?? '',
        access_ipv6: s.accessIPv6 ?? '',
        admin_pass: null,
        created_at: now,
      });
      if (group) ctx.groups.addMember(group.id, inst.id);
      ctx.actions.start({ instanceId: inst.id, action: 'create', requestId, projectId, userId: auth.userId });
      out.push(inst);
    }
    return out;
  });
  const instances = tx.immediate();
  const rri =
    s.return_reservation_id === true ||
    (typeof s.return_reservation_id === 'string' && /^(true|1)$/i.test(s.return_reservation_id));
  return { instances, adminPass, reservationId, returnReservationId: rri };
}

function imageOf(ctx: ComputeCtx, auth: AuthContext, id: string): ImageInfo {
  const images = ctx.facades.images;
  const img = images?.get(auth, id) ?? null;
  if (!img) throw new BadRequest(`Image ${id} could not be found.`, 'ImageNotFound');
  if (img.status !== 'active') throw new BadRequest(`Image ${id} is not active.`, 'ImageNotActive');
  return img;
}

export const isAdminView = (ctx: ComputeCtx, auth: AuthContext) =>
  can(ctx, 'os_compute_api:servers:detail:get_all_tenants', auth);
