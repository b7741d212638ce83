import type { IscsiConnectionInfo } from '../shared/agent/compute.js';
import type { Readable } from 'node:stream';
import type { AuthContext } from './http/auth.js';

/**
 * What one service offers the others inside the controller (Nova asks Glance for an
 * image, Neutron for a port, Cinder for a volume). Each service implements its facade
 * in its own folder; buildApp creates them in dependency order and hands them over in
 * ServiceDeps.facades. Interfaces grow additively: add a method, never change one.
 * A `ctx` of null means "the cloud itself" (no visibility check).
 */
export interface Facades {
  identity: IdentityFacade;
  images: ImageFacade;
  networks: NetworkFacade;
  volumes: VolumeFacade;
}

export interface IdentityFacade {
  /** A fresh admin token of the internal service user, for agents calling the APIs. */
  serviceToken(): string;
  projectExists(projectId: string): boolean;
  /** Name of a project (for dashboards and logs), or null. */
  projectName(projectId: string): string | null;
}

export interface ImageInfo {
  id: string;
  name: string | null;
  status: string;
  owner: string | null;
  visibility: string;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  min_disk: number;
  min_ram: number;
  /** Custom properties (architecture, hw_*, image_type...). */
  properties: Record<string, string>;
}

export interface ImageFacade {
  /** The image if `ctx` may see it (null ctx: any image), else null. */
  get(ctx: AuthContext | null, id: string): ImageInfo | null;
  /** A queued image record (for createImage snapshots), visible before any data arrives. */
  createRecord(
    ctx: AuthContext,
    fields: {
      name: string;
      owner: string;
      disk_format: string;
      container_format: string;
      min_disk?: number;
      min_ram?: number;
      visibility?: string;
      protected?: boolean;
      properties?: Record<string, string>;
    },
  ): ImageInfo;
  /** Streams `data` into a queued image and activates it (format checks apply). */
  upload(id: string, data: Readable): Promise<ImageInfo>;
  /** Marks an image that will never get data as killed (failed snapshot). */
  kill(id: string, reason: string): void;
  /** An owner's images with all these properties, newest first (Nova's backup rotation). */
  withProperties(owner: string, props: Record<string, string>): ImageInfo[];
  /** Deletes an image and its data, as DELETE /v2/images/{id} does (a protected image stays). */
  remove(id: string): Promise<void>;
  /** The image's bytes, for agents fetching through the controller. */
  open(id: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Bytes moved so far by the image's running import (and the total, when known), or null. */
  importProgress(id: string): { bytes: number; total: number | null } | null;
}

export interface PortInfo {
  id: string;
  network_id: string;
  network_name: string;
  project_id: string;
  mac_address: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  device_id: string;
  device_owner: string;
  binding_host_id: string;
  mtu: number;
  /** Segmentation id (VNI) and type of the port's network, for binding. */
  network_type: string;
  segmentation_id: number | null;
  security_group_ids: string[];
  port_security_enabled: boolean;
  /** Floating addresses associated with the port's fixed addresses. */
  floating_ips: Array<{ floating_ip_address: string; fixed_ip_address: string }>;
}

/** What a guest's network_data.json needs of a subnet. */
export interface SubnetInfo {
  id: string;
  network_id: string;
  ip_version: 4 | 6;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  dns_nameservers: string[];
  host_routes: Array<{ destination: string; nexthop: string }>;
  ipv6_address_mode: string | null;
}

export interface NetworkFacade {
  /** Resolve what a server create asks for ("auto", a network id, a port id, a fixed IP). */
  networkVisible(ctx: AuthContext, networkId: string): boolean;
  /** The networks available to ctx's project (for networks "auto" / no networks at 2.1). */
  availableNetworks(ctx: AuthContext): Array<{ id: string; name: string }>;
  /** Creates a port for a server (device_owner compute:<az>); 409/400 errors as Neutron. */
  createServerPort(
    ctx: AuthContext,
    req: { networkId: string; fixedIp?: string; serverId: string; az: string; securityGroups?: string[] },
  ): PortInfo;
  /** Claims an existing port for a server. */
  claimPort(ctx: AuthContext, portId: string, serverId: string, az: string): PortInfo;
  /** Binds a port to a host (binding:host_id) and tells that host's network agent. */
  bindPort(portId: string, host: string): Promise<PortInfo>;
  /**
   * Wires a server's ports on a second host during a live migration (binding:profile
   * migrating_to), or stops that (null). Resolves once that host's agent has them or
   * after the bind wait. Optional: absent where networking does not support it.
   */
  setPortsMigrating?(serverId: string, host: string | null): Promise<void>;
  /** Deletes ports Nova created for a server; unbinds and frees the ones passed in. */
  releaseServerPorts(serverId: string): Promise<void>;
  portsOfDevice(deviceId: string): PortInfo[];
  getPort(portId: string): PortInfo | null;
  /** The subnets with these ids (unknown ids are left out). */
  subnetsOf(ids: string[]): SubnetInfo[];
  /**
   * Whether `host` runs a metadata proxy for `networkId`: the network's DHCP server, or a
   * router with an interface on it (the L3 agent's proxy).
   */
  servesMetadata(host: string, networkId: string): boolean;
}

export interface VolumeInfo {
  id: string;
  name: string | null;
  status: string;
  size: number;
  project_id: string;
  bootable: boolean;
  host: string | null;
  attachments: Array<{ server_id: string; attachment_id: string; device: string | null; host_name: string | null }>;
}

/** iSCSI connection info in Cinder's shape (house style 3.2): the agent contract's TypeBox schema. */
export type { IscsiConnectionInfo };

export interface VolumeSnapshotInfo {
  id: string;
  volume_id: string;
  project_id: string;
  status: string;
  size: number;
}

export interface VolumeFacade {
  get(ctx: AuthContext | null, id: string): VolumeInfo | null;
  /** Creates a volume (from an image or a snapshot, for boot-from-volume) and resolves when available. */
  createForServer(
    ctx: AuthContext,
    req: { size: number | null; imageId?: string; snapshotId?: string; name?: string },
  ): Promise<VolumeInfo>;
  /** A snapshot the caller may see (null ctx: any), or null. */
  snapshot(ctx: AuthContext | null, id: string): VolumeSnapshotInfo | null;
  /**
   * Nova's create_snapshot_force for a volume-backed server's image: a snapshot of the
   * volume even while in-use, returned at once (status creating).
   */
  snapshotForImage(ctx: AuthContext, volumeId: string, name: string): VolumeSnapshotInfo;
  /** Resolves once the snapshot is available; rejects when it ends in another status or is gone. */
  snapshotReady(id: string, timeoutMs?: number): Promise<VolumeSnapshotInfo>;
  /** Deletes a snapshot made for an image that failed (absent: nothing to do). */
  deleteSnapshot(id: string): Promise<void>;
  /** Reserve → export for the compute host's initiator → connection info. */
  attach(
    ctx: AuthContext | null,
    volumeId: string,
    req: { serverId: string; host: string; initiator: string; device?: string | null },
  ): Promise<{ attachmentId: string; connection: IscsiConnectionInfo }>;
  /**
   * A second attachment of a volume already attached to the server, for the host it
   * moves to (Nova's attachment_create for the destination): exported for that host's
   * initiator with its own CHAP credentials while the first stays. Optional.
   */
  attachForMove?(
    volumeId: string,
    req: { serverId: string; host: string; initiator: string; device?: string | null },
  ): Promise<{ attachmentId: string; connection: IscsiConnectionInfo }>;
  /** Marks the attachment complete (in-use) once the hypervisor has the disk. */
  attachComplete(attachmentId: string, device: string): void;
  /** Removes the export and the attachment; the volume becomes available. */
  detach(attachmentId: string): Promise<void>;
  delete(volumeId: string): Promise<void>;
}
