import { ServerTagsRepo } from './server-tags.repo.js';
import { createHash } from 'node:crypto';
import type { AuthContext } from '../http/auth.js';
import { can, links, novaTime, usgTime, type ComputeCtx } from './context.js';
import type { Instance } from './servers.repo.js';
import { mvAtLeast, type Microversion } from './versions.js';

const RESIZE_TASKS = ['resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish'];

/** Nova's status from vm_state + task_state (nova/api/openstack/common.py _STATE_MAP). */
export function statusOf(vm: string, task: string | null): string {
  switch (vm) {
    case 'building':
      return 'BUILD';
    case 'active':
      if (task === 'rebooting' || task === 'reboot_pending' || task === 'reboot_started') return 'REBOOT';
      if (task === 'rebooting_hard' || task === 'reboot_pending_hard' || task === 'reboot_started_hard') return 'HARD_REBOOT';
      if (task === 'rebuilding' || task === 'rebuild_block_device_mapping' || task === 'rebuild_spawning') return 'REBUILD';
      if (task === 'updating_password') return 'PASSWORD';
      if (task === 'migrating') return 'MIGRATING';
      if (task !== null && RESIZE_TASKS.includes(task)) return 'RESIZE';
      return 'ACTIVE';
    case 'stopped':
      if (task !== null && RESIZE_TASKS.includes(task)) return 'RESIZE';
      return task === 'rebuilding' || task === 'rebuild_block_device_mapping' || task === 'rebuild_spawning'
        ? 'REBUILD'
        : 'SHUTOFF';
    case 'resized':
      return task === 'resize_reverting' ? 'REVERT_RESIZE' : 'VERIFY_RESIZE';
    case 'paused':
      return task === 'migrating' ? 'MIGRATING' : 'PAUSED';
    case 'suspended':
      return 'SUSPENDED';
    case 'rescued':
      return 'RESCUE';
    case 'error':
      return task === 'rebuilding' ? 'REBUILD' : 'ERROR';
    case 'deleted':
      return 'DELETED';
    case 'soft-delete':
      return 'SOFT_DELETED';
    case 'shelved':
    case 'shelved_offloaded':
      return vm.toUpperCase();
    default:
      return 'UNKNOWN';
  }
}

/** vm_states a status filter selects (Nova's common.task_and_vm_state_from_status). */
export function vmStatesOf(status: string): { vm: string[]; task?: Array<string | null> } | null {
  switch (status.toUpperCase()) {
    case 'BUILD':
      return { vm: ['building'] };
    case 'ACTIVE':
      return {
        vm: ['active'],
        task: [
          null,
          'image_snapshot',
          'image_pending_upload',
          'image_uploading',
          'powering-off',
          'powering-on',
          'pausing',
          'unpausing',
          'suspending',
          'resuming',
          'deleting',
        ],
      };
    case 'REBOOT':
      return { vm: ['active'], task: ['rebooting', 'reboot_pending', 'reboot_started'] };
    case 'HARD_REBOOT':
      return { vm: ['active'], task: ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'] };
    case 'REBUILD':
      return { vm: ['active', 'stopped', 'error'], task: ['rebuilding'] };
    case 'MIGRATING':
      return { vm: ['active', 'paused'], task: ['migrating'] };
    case 'RESIZE':
      return { vm: ['active', 'stopped'], task: RESIZE_TASKS };
    case 'VERIFY_RESIZE':
      return { vm: ['resized'], task: [null] };
    case 'REVERT_RESIZE':
      return { vm: ['resized'], task: ['resize_reverting'] };
    case 'SHUTOFF':
      return { vm: ['stopped'] };
    case 'PAUSED':
      return { vm: ['paused'] };
    case 'SUSPENDED':
      return { vm: ['suspended'] };
    case 'ERROR':
      return { vm: ['error'] };
    case 'DELETED':
      return { vm: ['deleted'] };
    case 'RESCUE':
      return { vm: ['rescued'] };
    default:
      return null;
  }
}

/** Nova's hostId: sha224(project_id + host), '' without a host. */
export const hostIdOf = (projectId: string, host: string | null): string =>
  host
    ? createHash('sha224')
        .update(projectId + host)
        .digest('hex')
    : '';

/** addresses: {network name: [{addr, version, OS-EXT-IPS:type, OS-EXT-IPS-MAC:mac_addr}]}, floating ones included. */
export function addressesOf(ctx: ComputeCtx, id: string): Record<string, Array<Record<string, unknown>>> {
  const net = ctx.facades.networks;
  if (!net) return {};
  const out: Record<string, Array<Record<string, unknown>>> = {};
  let ports;
  try {
    ports = net.portsOfDevice(id);
  } catch (err) {
    ctx.log.warn({ err, server: id }, 'could not read the ports of a server');
    return {};
  }
  for (const p of ports) {
    const list = (out[p.network_name] ??= []);
    for (const ip of p.fixed_ips) {
      list.push({
        addr: ip.ip_address,
        version: ip.ip_address.includes(':') ? 6 : 4,
        'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': p.mac_address,
      });
    }
    for (const f of p.floating_ips) {
      list.push({
        addr: f.floating_ip_address,
        version: 4,
        'OS-EXT-IPS:type': 'floating',
        'OS-EXT-IPS-MAC:mac_addr': p.mac_address,
      });
    }
  }
  return out;
}

export interface ViewOpts {
  base: string;
  v: Microversion;
  auth: AuthContext;
}

/** The brief form of GET /servers. */
export function serverBrief(i: Instance, o: ViewOpts): Record<string, unknown> {
  return { id: i.id, name: i.name, links: links(o.base, i.project_id, 'servers', i.id) };
}

export const instanceName = (i: Instance) => `instance-${i.seq.toString(16).padStart(8, '0')}`;

/** The full server document (GET /servers/{id}, /servers/detail). */
export function serverView(ctx: ComputeCtx, i: Instance, o: ViewOpts): Record<string, unknown> {
  const status = statusOf(i.vm_state, i.task_state);
  const doc: Record<string, unknown> = {
    id: i.id,
    name: i.name,
    status,
    tenant_id: i.project_id,
    user_id: i.user_id,
    metadata: i.metadata,
    hostId: hostIdOf(i.project_id, i.host),
    image: i.image_ref ? { id: i.image_ref, links: [{ rel: 'bookmark', href: `${o.base}/images/${i.image_ref}` }] } : '',
    flavor: mvAtLeast(o.v, '2.47')
      ? {
          vcpus: i.flavor.vcpus,
          ram: i.flavor.ram,
          disk: i.flavor.disk,
          ephemeral: i.flavor.ephemeral,
          swap: i.flavor.swap,
          original_name: i.flavor.name,
          extra_specs: i.flavor.extra_specs,
        }
      : { id: i.flavor_id, links: [{ rel: 'bookmark', href: `${o.base}/flavors/${i.flavor_id}` }] },
    created: novaTime(i.created_at),
    updated: novaTime(i.updated_at),
    addresses: addressesOf(ctx, i.id),
    accessIPv4: i.access_ipv4,
    accessIPv6: i.access_ipv6,
    links: links(o.base, i.project_id, 'servers', i.id),
    'OS-DCF:diskConfig': 'MANUAL',
    progress: i.vm_state === 'building' ? i.progress : i.vm_state === 'active' ? 100 : 0,
    'OS-EXT-AZ:availability_zone': i.availability_zone ?? '',
    config_drive: i.config_drive,
    key_name: i.key_name,
    'OS-SRV-USG:launched_at': usgTime(i.launched_at),
    'OS-SRV-USG:terminated_at': usgTime(i.terminated_at),
    security_groups: i.security_groups,
    'OS-EXT-STS:task_state': i.task_state,
    'OS-EXT-STS:vm_state': i.vm_state,
    'OS-EXT-STS:power_state': i.power_state,
    'os-extended-volumes:volumes_attached': ctx.servers
      .attachedVolumes(i.id)
      .map((b) =>
        mvAtLeast(o.v, '2.3') ? { id: b.volume_id, delete_on_termination: b.delete_on_termination } : { id: b.volume_id },
      ),
  };
  if (mvAtLeast(o.v, '2.19')) doc.description = i.description;
  if (mvAtLeast(o.v, '2.26')) doc.tags = new ServerTagsRepo(ctx.db).list(i.id);
  if (
    mvAtLeast(o.v, '2.16') &&
    ctx.policy.allowed('os_compute_api:servers:show:host_status', o.auth, { project_id: i.project_id })
  )
    doc.host_status = hostStatusOf(ctx, i);
  if (mvAtLeast(o.v, '2.9')) doc.locked = i.locked;
  if (can(ctx, 'os_compute_api:os-extended-server-attributes', o.auth, { project_id: i.project_id })) {
    doc['OS-EXT-SRV-ATTR:host'] = i.host;
    doc['OS-EXT-SRV-ATTR:hypervisor_hostname'] = i.host;
    doc['OS-EXT-SRV-ATTR:instance_name'] = instanceName(i);
    if (mvAtLeast(o.v, '2.3')) {
      doc['OS-EXT-SRV-ATTR:reservation_id'] = i.reservation_id;
      doc['OS-EXT-SRV-ATTR:launch_index'] = i.launch_index;
      doc['OS-EXT-SRV-ATTR:hostname'] = i.hostname;
      doc['OS-EXT-SRV-ATTR:kernel_id'] = '';
      doc['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      doc['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      doc['OS-EXT-SRV-ATTR:user_data'] = i.user_data;
    }
  }
  if (status === 'ERROR' || status === 'DELETED') {
    const f = ctx.servers.latestFault(i.id);
    if (f) {
      const fault: Record<string, unknown> = { code: f.code, message: f.message, created: novaTime(f.created_at) };
      // Nova shows details to admins always, to others unless it is a 500.
      if (f.details && (o.auth.isAdmin || f.code !== 500)) fault.details = f.details;
      doc.fault = fault;
    }
  }
  return doc;
}

/**
 * Nova's host_status (2.16): UP, DOWN (missed heartbeats), MAINTENANCE (disabled),
 * UNKNOWN (no such host any more), '' (no host).
 */
export function hostStatusOf(ctx: ComputeCtx, i: Instance): string {
  if (!i.host_id) return '';
  const h = ctx.scheduler.cache.all().find((x) => x.id === i.host_id);
  if (!h) return 'UNKNOWN';
  if (!h.up) return 'DOWN';
  if (!h.enabled) return 'MAINTENANCE';
  return 'UP';
}
