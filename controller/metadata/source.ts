import type { Ec2Data, MetaData } from '../../shared/agent/compute.js';
import type { MetadataSource } from '../../shared/metadata/instance-metadata.js';
import type { Db } from '../db/open.js';
import type { NetworkFacade, PortInfo } from '../facades.js';
import type { Instance } from '../compute/servers.repo.js';
import { networkDataOf } from './network-data.js';
import { passwordOf } from './passwords.repo.js';

/**
 * A server's metadata documents' source, from its rows: what the config drive is
 * built from at boot and what the metadata service renders on every request.
 */

/** meta_data.json's fields (Nova's InstanceMetadata._metadata_as_json inputs). */
export function metaDataOf(inst: Instance, availabilityZone: string): MetaData {
  return {
    uuid: inst.id,
    name: inst.name,
    hostname: inst.hostname,
    availability_zone: availabilityZone,
    launch_index: inst.launch_index,
    project_id: inst.project_id,
    meta: inst.metadata,
    ...(inst.key_name && inst.key_data
      ? { public_keys: { [inst.key_name]: inst.key_data }, keys: [{ name: inst.key_name, type: 'ssh', data: inst.key_data }] }
      : {}),
  };
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0').slice(-8);

/**
 * The EC2 tree's data. Nova maps its integer ids to `i-%08x` / `ami-%08x`; here the
 * instance's sequence number gives the instance id, and the image id's first 8 hex
 * digits its AMI id (ami-00000000 for a server booted from a volume).
 */
export function ec2DataOf(inst: Instance, ports: PortInfo[]): Ec2Data {
  const v4 = (a: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);
  const fixed = ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)).find(v4) ?? '';
  const floating = ports.flatMap((p) => p.floating_ips.map((f) => f.floating_ip_address)).find(v4) ?? '';
  return {
    instance_id: `i-${hex8(inst.seq)}`,
    ami_id: `ami-${inst.image_ref ? inst.image_ref.replace(/-/g, '').slice(0, 8) : '00000000'}`,
    reservation_id: inst.reservation_id,
    instance_type: inst.flavor.name,
    local_ipv4: fixed,
    public_ipv4: floating,
    security_groups: inst.security_groups.map((g) => g.name),
    block_device_mapping: { ami: 'vda', root: '/dev/vda' },
  };
}

/** The network_data.json of a server's ports (subnets read through the network facade). */
export function networkDataOfPorts(net: NetworkFacade | undefined, ports: PortInfo[]) {
  const ids = [...new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)))];
  const subnets = new Map((net?.subnetsOf(ids) ?? []).map((s) => [s.id, s]));
  return networkDataOf(ports, subnets);
}

export function metadataSourceOf(
  o: { db: Db; net: NetworkFacade | undefined; defaultAz: string },
  inst: Instance,
): MetadataSource {
  const ports = o.net?.portsOfDevice(inst.id) ?? [];
  return {
    meta: metaDataOf(inst, inst.availability_zone ?? o.defaultAz),
    userData: inst.user_data ? Buffer.from(inst.user_data.replace(/\s+/g, ''), 'base64') : null,
    networkData: networkDataOfPorts(o.net, ports),
    ec2: ec2DataOf(inst, ports),
    vendorData: {},
    password: passwordOf(o.db, inst.id),
  };
}
