import { Type, type Static } from 'typebox';
import { defineRoute } from './contract.js';

/**
 * The controller ↔ compute-agent contract (house style 3.3). Both sides are built from
 * these descriptors: the agent registers `route(Spawn, handler)`, the controller calls
 * `agents.call(host, Spawn, spec)`. Changes are additive only.
 *
 * Nouns: the API says "server", this contract says "instance" (Nova's internal noun);
 * libvirt's "domain" never crosses the boundary (house style 3.7.12).
 *
 * Errors the compute agent replies with (`{"error":{"code","message","retryable"}}`):
 * - 404 `InstanceNotFound`: no domain for that uuid (never for destroy, which succeeds
 *   when absent, nor for `get`, which replies `{instance: null}`).
 * - 409 `InstanceExists` (spawn of a uuid that already has a domain), `InvalidState`
 *   (e.g. unpause of a running instance), `VolumeAttached`/`VolumeNotAttached`.
 * - 400 `BadSpec`: the spec is valid JSON but cannot be honoured (unknown disk_format…).
 * - 500 `SpawnFailed` / `SnapshotFailed` / `ImageFetchFailed` / `ChecksumMismatch` /
 *   `HypervisorError`: the message names the failing step and the tool's message; it is
 *   meant for the server's `fault` and the instance-action event.
 */

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' });
const Url = Type.String({ pattern: '^https?://', maxLength: 4096 });

/**
 * Nova's power_state integers (nova/compute/power_state.py), as the API shows them in
 * `OS-EXT-STS:power_state`.
 */
export const PowerState = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerStateValue = (typeof PowerState)[keyof typeof PowerState];

export const PowerStateSchema = Type.Union([
  Type.Literal(0),
  Type.Literal(1),
  Type.Literal(3),
  Type.Literal(4),
  Type.Literal(6),
  Type.Literal(7),
]);

/** iSCSI connection info in Cinder's shape (same as controller/facades.ts IscsiConnectionInfo). */
export const IscsiConnectionInfo = Type.Object({
  driver_volume_type: Type.Literal('iscsi'),
  data: Type.Object({
    target_iqn: Type.String({ minLength: 1, maxLength: 223, pattern: '^(iqn|eui|naa)\\.[A-Za-z0-9.:_-]+$' }),
    /** host:port, IPv4 or [IPv6]. */
    target_portal: Type.String({ minLength: 3, maxLength: 300 }),
    target_lun: Type.Integer({ minimum: 0, maximum: 16383 }),
    volume_id: Uuid,
    auth_method: Type.Optional(Type.String({ maxLength: 16 })),
    auth_username: Type.Optional(Type.String({ maxLength: 255 })),
    auth_password: Type.Optional(Type.String({ maxLength: 255 })),
    discard: Type.Optional(Type.Boolean()),
  }),
});
export type IscsiConnectionInfo = Static<typeof IscsiConnectionInfo>;

/**
 * One NIC of an instance, bound to a Neutron-style port.
 * - `vif_type: 'ovs'` (default): libvirt plugs the tap into `bridge` itself
 *   (`<virtualport type='openvswitch'>` with `interfaceid = port_id`, so OVS gets
 *   `external_ids:iface-id`); the network agent only sets the local VLAN tag.
 * - `vif_type: 'tap'`: libvirt creates the tap (`<interface type='ethernet'>`), the
 *   network agent adds it to the bridge (os-vif style).
 * The tap is always named `'tap' + port_id.slice(0, 11)` (Nova's convention).
 */
export const VifSpec = Type.Object(
  {
    port_id: Uuid,
    mac: Mac,
    network_id: Uuid,
    mtu: Type.Integer({ minimum: 68, maximum: 65535 }),
    vif_type: Type.Optional(Type.Union([Type.Literal('ovs'), Type.Literal('tap')])),
    /** Integration bridge (default br-int). */
    bridge: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$' })),
    fixed_ips: Type.Optional(Type.Array(Type.Object({ subnet_id: Type.String(), ip_address: Type.String() }))),
    /** Guest NIC model (default virtio). */
    model: Type.Optional(Type.Union([Type.Literal('virtio'), Type.Literal('e1000'), Type.Literal('rtl8139')])),
  },
  { additionalProperties: false },
);
export type VifSpec = Static<typeof VifSpec>;

/** openstack/latest/meta_data.json, Nova's field names. */
export const MetaData = Type.Object(
  {
    uuid: Uuid,
    name: Type.String(),
    hostname: Type.String(),
    /** {key name: public key}. */
    public_keys: Type.Optional(Type.Record(Type.String(), Type.String())),
    keys: Type.Optional(Type.Array(Type.Object({ name: Type.String(), type: Type.String(), data: Type.String() }))),
    availability_zone: Type.Optional(Type.String()),
    launch_index: Type.Optional(Type.Integer({ minimum: 0 })),
    project_id: Type.Optional(Type.String()),
    /** Server metadata (key → value). */
    meta: Type.Optional(Type.Record(Type.String(), Type.String())),
    devices: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  },
  { additionalProperties: false },
);
export type MetaData = Static<typeof MetaData>;

/** openstack/latest/network_data.json (Nova's netutils shape: links, networks, services). */
export const NetworkData = Type.Object({
  links: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      ethernet_mac_address: Type.String(),
      mtu: Type.Optional(Type.Integer()),
      vif_id: Type.Optional(Type.String()),
    }),
  ),
  networks: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      link: Type.String(),
      network_id: Type.Optional(Type.String()),
      ip_address: Type.Optional(Type.String()),
      netmask: Type.Optional(Type.String()),
      routes: Type.Optional(Type.Array(Type.Object({ network: Type.String(), netmask: Type.String(), gateway: Type.String() }))),
      services: Type.Optional(Type.Array(Type.Object({ type: Type.String(), address: Type.String() }))),
    }),
  ),
  services: Type.Array(Type.Object({ type: Type.String(), address: Type.String() })),
});
export type NetworkData = Static<typeof NetworkData>;

/** What the EC2 meta-data tree needs beyond meta_data.json (Nova's get_ec2_metadata). */
export const Ec2Data = Type.Object(
  {
    /** i-<8 hex digits>, from the instance's sequence number. */
    instance_id: Type.String({ maxLength: 32 }),
    /** ami-<8 hex digits>, from the image's sequence number (ami-00000000 when booted from a volume). */
    ami_id: Type.String({ maxLength: 32 }),
    reservation_id: Type.String({ maxLength: 64 }),
    /** The flavor's name. */
    instance_type: Type.String({ maxLength: 255 }),
    /** The first fixed IPv4 address ('' when none). */
    local_ipv4: Type.String({ maxLength: 45 }),
    /** The first floating address ('' when none). */
    public_ipv4: Type.String({ maxLength: 45 }),
    security_groups: Type.Array(Type.String({ maxLength: 255 })),
    /** {ami: 'vda', root: '/dev/vda', ...}. */
    block_device_mapping: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type Ec2Data = Static<typeof Ec2Data>;

/** What goes on the config drive (ISO 9660, label config-2). */
export const ConfigDriveSpec = Type.Object(
  {
    meta_data: MetaData,
    /** The server's user_data, base64 as the API received it; null when none. */
    user_data: Type.Union([Type.String({ maxLength: 90_000 }), Type.Null()]),
    network_data: NetworkData,
    /** vendor_data.json content (opaque to Nova too); {} when none. */
    vendor_data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** The EC2 tree's data (ec2/<version>/meta-data.json on the drive); absent: no ec2/ folder. */
    ec2: Type.Optional(Ec2Data),
  },
  { additionalProperties: false },
);
export type ConfigDriveSpec = Static<typeof ConfigDriveSpec>;

/** Where the root disk comes from: an image fetched through the controller's image API. */
export const ImageSource = Type.Object(
  {
    id: Uuid,
    /** GET this URL with `X-Auth-Token: token` to stream the image bytes. */
    download_url: Url,
    token: Type.String({ minLength: 1, maxLength: 8192 }),
    /** MD5 hex of the bytes (Glance's `checksum`); null skips the check. */
    checksum: Type.Union([Type.String({ pattern: '^[0-9a-f]{32}$' }), Type.Null()]),
    /** Glance disk_format (qcow2, raw, vmdk, vdi, vhd, vhdx, iso…). */
    disk_format: Type.String({ minLength: 1, maxLength: 16 }),
    size: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type ImageSource = Static<typeof ImageSource>;

export const BootVolume = Type.Object({ volume_id: Uuid, connection: IscsiConnectionInfo }, { additionalProperties: false });

/** A data volume and the guest device it appears as (/dev/vdb…). */
export const AttachedVolume = Type.Object(
  { volume_id: Uuid, connection: IscsiConnectionInfo, device: Type.String({ pattern: '^(/dev/)?vd[b-z]$' }) },
  { additionalProperties: false },
);
export type AttachedVolume = Static<typeof AttachedVolume>;
export type BootVolume = Static<typeof BootVolume>;

/** Guest hardware knobs (image hw_* properties and flavor extra specs, resolved by the controller). */
export const VirtSettings = Type.Object(
  {
    /** QEMU machine type (default pc). */
    machine: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
    disk_bus: Type.Optional(
      Type.Union([Type.Literal('virtio'), Type.Literal('scsi'), Type.Literal('ide'), Type.Literal('sata')]),
    ),
    /** How the config drive is attached: cdrom (default, /dev/sr0) or disk (a /dev/vd*). */
    config_drive_device: Type.Optional(Type.Union([Type.Literal('cdrom'), Type.Literal('disk')])),
    /** Pass the host CPU model (kvm only). */
    cpu_mode: Type.Optional(Type.Union([Type.Literal('host-model'), Type.Literal('host-passthrough'), Type.Literal('default')])),
  },
  { additionalProperties: false },
);
export type VirtSettings = Static<typeof VirtSettings>;

/** Everything the agent needs to boot one instance; exactly one of image / boot_volume. */
export const InstanceSpec = Type.Object(
  {
    uuid: Uuid,
    /** The server's display name (for the domain title and logs). */
    name: Type.String({ maxLength: 255 }),
    hostname: Type.String({ maxLength: 255 }),
    project_id: Type.Optional(Type.String({ maxLength: 64 })),
    vcpus: Type.Integer({ minimum: 1, maximum: 256 }),
    memory_mb: Type.Integer({ minimum: 16, maximum: 4_194_304 }),
    /** Root disk size; 0 keeps the image's virtual size. */
    root_gb: Type.Integer({ minimum: 0, maximum: 65536 }),
    image: Type.Optional(ImageSource),
    boot_volume: Type.Optional(BootVolume),
    nics: Type.Array(VifSpec, { maxItems: 16 }),
    /** Absent or null: no config drive. */
    config_drive: Type.Optional(Type.Union([ConfigDriveSpec, Type.Null()])),
    virt: Type.Optional(VirtSettings),
    /**
     * Volumes attached besides the boot volume, present from the first boot (a server
     * rebuilt on another host: cold migration, resize, evacuation).
     */
    volumes: Type.Optional(Type.Array(AttachedVolume, { maxItems: 26 })),
    /**
     * `existing`: the root disk is already in the instance directory (received from the
     * source host by compute.migration_prepare): keep it instead of making a new one.
     */
    root_disk: Type.Optional(Type.Union([Type.Literal('create'), Type.Literal('existing')])),
  },
  { additionalProperties: false },
);
export type InstanceSpec = Static<typeof InstanceSpec>;

/** What the hypervisor really runs for one instance. */
export const InstanceState = Type.Object({
  uuid: Uuid,
  power_state: PowerStateSchema,
  /** The hypervisor's own state word (libvirt: running, paused, shut off, crashed, pmsuspended…). */
  state: Type.String(),
  /** True when a suspend (managed save) image exists: the next start resumes it. */
  suspended_to_disk: Type.Boolean(),
  vcpus: Type.Integer({ minimum: 0 }),
  memory_mb: Type.Integer({ minimum: 0 }),
  /** CPU time used, nanoseconds (0 when not running). */
  cpu_time_ns: Type.Number({ minimum: 0 }),
  /** Volumes attached through the hypervisor: volume id → guest device (vdb…). */
  volumes: Type.Record(Type.String(), Type.String()),
  /** Ports plugged: port ids. */
  ports: Type.Array(Type.String()),
});
export type InstanceState = Static<typeof InstanceState>;

const UuidBody = Type.Object({ uuid: Uuid }, { additionalProperties: false });
const InstanceReply = Type.Object({ instance: InstanceState });

export const HostCapabilities = Type.Object({
  hypervisor_type: Type.String(),
  hypervisor_version: Type.Integer({ minimum: 0 }),
  /** What virt_type resolved to (kvm or qemu). */
  virt_type: Type.String(),
  cpu_arch: Type.String(),
  vcpus: Type.Integer({ minimum: 0 }),
  memory_mb: Type.Integer({ minimum: 0 }),
  disk_gb: Type.Integer({ minimum: 0 }),
  vcpus_used: Type.Integer({ minimum: 0 }),
  memory_mb_used: Type.Integer({ minimum: 0 }),
  disk_gb_used: Type.Integer({ minimum: 0 }),
  running_vms: Type.Integer({ minimum: 0 }),
  console_host: Type.String(),
});
export type HostCapabilities = Static<typeof HostCapabilities>;

/** Capabilities and current use of this hypervisor (os-hypervisors). */
export const HostInfo = defineRoute({
  name: 'compute.host_info',
  method: 'GET',
  url: '/v1/compute/host',
  body: Type.Object({}, { additionalProperties: false }),
  reply: HostCapabilities,
  timeoutMs: 15_000,
});

/** Every instance the hypervisor runs that carries the Homestack marker (for reconciliation). */
export const ListInstances = defineRoute({
  name: 'compute.list',
  method: 'GET',
  url: '/v1/compute/instances',
  body: Type.Object({}, { additionalProperties: false }),
  reply: Type.Object({
    instances: Type.Array(InstanceState),
    /** Instance uuids whose state could not be read (one bad domain never fails the list). */
    unreadable: Type.Array(Type.String()),
    /**
     * Instance uuids with files on this host (disks, console log) but no domain and no
     * operation in progress: leftovers the controller may remove (after its grace
     * period) with compute.destroy {delete_disks: true}.
     */
    orphans: Type.Optional(Type.Array(Type.String())),
  }),
  timeoutMs: 30_000,
});

/** One instance, or `{instance: null}` when the hypervisor has no such domain. */
export const GetInstance = defineRoute({
  name: 'compute.get',
  method: 'GET',
  url: '/v1/compute/instances/:uuid',
  body: UuidBody,
  reply: Type.Object({ instance: Type.Union([InstanceState, Type.Null()]) }),
  timeoutMs: 15_000,
});

/**
 * Boots an instance: fetch/convert the image (cached per host), overlay root disk,
 * config drive, domain, start. On failure nothing is left (409 InstanceExists if the
 * uuid already has a domain). `libvirt_start_ms` is the time spent inside the
 * hypervisor's start call, so the controller can measure its own overhead.
 */
export const Spawn = defineRoute({
  name: 'compute.spawn',
  method: 'POST',
  url: '/v1/compute/instances',
  body: InstanceSpec,
  reply: Type.Object({
    instance: InstanceState,
    timings: Type.Object({
      image_ms: Type.Number({ minimum: 0 }),
      disk_ms: Type.Number({ minimum: 0 }),
      config_drive_ms: Type.Number({ minimum: 0 }),
      define_ms: Type.Number({ minimum: 0 }),
      libvirt_start_ms: Type.Number({ minimum: 0 }),
      total_ms: Type.Number({ minimum: 0 }),
    }),
    /** The base image came from the host's cache (no download). */
    image_cached: Type.Boolean(),
  }),
  timeoutMs: 30 * 60_000,
});

/** Removes the domain (and with delete_disks its disks and console log). Succeeds when absent. */
export const DestroyInstance = defineRoute({
  name: 'compute.destroy',
  method: 'DELETE',
  url: '/v1/compute/instances/:uuid',
  body: Type.Object({ uuid: Uuid, delete_disks: Type.Boolean() }, { additionalProperties: false }),
  reply: Type.Object({ uuid: Type.String(), existed: Type.Boolean() }),
  timeoutMs: 120_000,
});

/** Start a shut-off instance (resumes a managed-save image if one exists). No-op when running. */
export const PowerOn = defineRoute({
  name: 'compute.power_on',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/start',
  body: UuidBody,
  reply: InstanceReply,
  timeoutMs: 120_000,
});

/** ACPI shutdown, wait up to timeout_s, then force off. No-op when already off. */
export const PowerOff = defineRoute({
  name: 'compute.power_off',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/stop',
  body: Type.Object({ uuid: Uuid, timeout_s: Type.Integer({ minimum: 0, maximum: 3600 }) }, { additionalProperties: false }),
  reply: Type.Object({ instance: InstanceState, forced: Type.Boolean() }),
  timeoutMs: 3_700_000,
});

/** SOFT: ACPI reboot (falls back to hard after timeout_s); HARD: reset. Ends running. */
export const Reboot = defineRoute({
  name: 'compute.reboot',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/reboot',
  body: Type.Object(
    { uuid: Uuid, hard: Type.Boolean(), timeout_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })) },
    { additionalProperties: false },
  ),
  reply: InstanceReply,
  timeoutMs: 3_700_000,
});

/** Freeze the vCPUs in memory (libvirt suspend). 409 InvalidState unless running. */
export const Pause = defineRoute({
  name: 'compute.pause',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/pause',
  body: UuidBody,
  reply: InstanceReply,
  timeoutMs: 60_000,
});

/** Continue a paused instance (libvirt resume). 409 InvalidState unless paused. */
export const Unpause = defineRoute({
  name: 'compute.unpause',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/unpause',
  body: UuidBody,
  reply: InstanceReply,
  timeoutMs: 60_000,
});

/** Nova's trigger_crash_dump: a non-maskable interrupt to the guest (which may dump and reboot). 409 InvalidState unless running. */
export const TriggerCrashDump = defineRoute({
  name: 'compute.trigger_crash_dump',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/crash-dump',
  body: UuidBody,
  reply: Type.Object({ uuid: Type.String() }),
  timeoutMs: 30_000,
});

/** Save memory to disk and stop (libvirt managed save). 409 InvalidState unless running or paused. */
export const Suspend = defineRoute({
  name: 'compute.suspend',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/suspend',
  body: UuidBody,
  reply: InstanceReply,
  timeoutMs: 600_000,
});

/** Restore a suspended instance from its managed-save image. 409 InvalidState unless suspended. */
export const Resume = defineRoute({
  name: 'compute.resume',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/resume',
  body: UuidBody,
  reply: InstanceReply,
  timeoutMs: 600_000,
});

/**
 * A consistent copy of the root disk (the guest is paused while it is copied, then
 * continues), streamed by PUT to upload_url with `X-Auth-Token: token`
 * (Content-Type application/octet-stream, Glance's image-data upload).
 */
export const Snapshot = defineRoute({
  name: 'compute.snapshot',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/snapshot',
  body: Type.Object(
    {
      uuid: Uuid,
      image_id: Uuid,
      upload_url: Url,
      token: Type.String({ minLength: 1, maxLength: 8192 }),
      disk_format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({
    image_id: Type.String(),
    disk_format: Type.String(),
    size: Type.Integer({ minimum: 0 }),
    /** MD5 hex of the uploaded bytes. */
    checksum: Type.String(),
    /** How long the guest was paused for the copy. */
    paused_ms: Type.Number({ minimum: 0 }),
  }),
  timeoutMs: 60 * 60_000,
});

/** Attach an iSCSI volume (libvirt network disk, CHAP via a libvirt secret). Idempotent for the same volume. */
export const AttachVolume = defineRoute({
  name: 'compute.attach_volume',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/volumes',
  body: Type.Object(
    {
      uuid: Uuid,
      volume_id: Uuid,
      connection: IscsiConnectionInfo,
      /** Requested guest device (vdb…); null/absent: next free. */
      device: Type.Optional(Type.Union([Type.String({ pattern: '^(/dev/)?vd[a-z]{1,2}$' }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ device: Type.String() }),
  timeoutMs: 120_000,
});

/** Detach a volume; succeeds when it is not attached. */
export const DetachVolume = defineRoute({
  name: 'compute.detach_volume',
  method: 'DELETE',
  url: '/v1/compute/instances/:uuid/volumes/:volume_id',
  body: Type.Object({ uuid: Uuid, volume_id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ volume_id: Type.String(), existed: Type.Boolean() }),
  timeoutMs: 120_000,
});

/** Hot-plug a NIC; idempotent for the same port. */
export const PlugVif = defineRoute({
  name: 'compute.plug_vif',
  method: 'POST',
  url: '/v1/compute/instances/:uuid/vifs',
  body: Type.Object({ uuid: Uuid, vif: VifSpec }, { additionalProperties: false }),
  reply: Type.Object({ port_id: Type.String(), tap: Type.String() }),
  timeoutMs: 120_000,
});

/** Hot-unplug a NIC; succeeds when the port is not plugged. */
export const UnplugVif = defineRoute({
  name: 'compute.unplug_vif',
  method: 'DELETE',
  url: '/v1/compute/instances/:uuid/vifs/:port_id',
  body: Type.Object({ uuid: Uuid, port_id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ port_id: Type.String(), existed: Type.Boolean() }),
  timeoutMs: 120_000,
});

/** The serial console log (survives reboots); the last max_bytes bytes. */
export const ConsoleLog = defineRoute({
  name: 'compute.console_log',
  method: 'GET',
  url: '/v1/compute/instances/:uuid/console',
  body: Type.Object(
    { uuid: Uuid, max_bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024 })) },
    { additionalProperties: false },
  ),
  reply: Type.Object({ output: Type.String(), truncated: Type.Boolean() }),
  timeoutMs: 15_000,
});

/** Where the instance's VNC display listens (for the dashboard's proxy). */
export const VncConsole = defineRoute({
  name: 'compute.vnc_console',
  method: 'GET',
  url: '/v1/compute/instances/:uuid/vnc',
  body: UuidBody,
  reply: Type.Object({ host: Type.String(), port: Type.Integer({ minimum: 1, maximum: 65535 }) }),
  timeoutMs: 15_000,
});

/**
 * A websocket, not a JSON call (so not in COMPUTE_ROUTES and not sent with `call()`):
 * `GET` with `Upgrade: websocket` and the host credential (`Authorization: Bearer`)
 * opens a byte pipe to the instance's VNC display, which only the agent can reach
 * (it listens on compute.console_host, 127.0.0.1 by default, without a password).
 * Binary frames carry the RFB stream both ways, unchanged and without message
 * boundaries (as websockify does). The agent closes the websocket when the display
 * closes the TCP connection (1000) or cannot be reached (1011), and drops the TCP
 * connection when the websocket closes.
 *
 * Refused before the upgrade with the usual agent error document: 401 (credential),
 * 400 (not a uuid), 404 `InstanceNotFound`, 409 `InvalidState` (not running: no
 * display). A plain GET without the upgrade is a 426.
 */
export const VncWebsocket = {
  name: 'compute.vnc_websocket',
  method: 'GET',
  url: '/v1/compute/instances/:uuid/vnc/websocket',
  params: UuidBody,
} as const;

/** Base images in the host's cache, with the instances using each. */
export const ListCachedImages = defineRoute({
  name: 'compute.list_cached_images',
  method: 'GET',
  url: '/v1/compute/images',
  body: Type.Object({}, { additionalProperties: false }),
  reply: Type.Object({
    images: Type.Array(
      Type.Object({
        image_id: Type.String(),
        size: Type.Integer({ minimum: 0 }),
        last_used: Type.String(),
        used_by: Type.Array(Type.String()),
      }),
    ),
  }),
  timeoutMs: 30_000,
});

/** Drop a cached base image; 409 InvalidState while an instance disk is backed by it; succeeds when absent. */
export const EvictCachedImage = defineRoute({
  name: 'compute.evict_cached_image',
  method: 'DELETE',
  url: '/v1/compute/images/:image_id',
  body: Type.Object({ image_id: Uuid }, { additionalProperties: false }),
  reply: Type.Object({ image_id: Type.String(), existed: Type.Boolean() }),
  timeoutMs: 60_000,
});

/** Every compute-agent route, for registration and the contract test. */
export const COMPUTE_ROUTES = [
  HostInfo,
  ListInstances,
  GetInstance,
  Spawn,
  DestroyInstance,
  PowerOn,
  PowerOff,
  Reboot,
  Pause,
  Unpause,
  Suspend,
  Resume,
  Snapshot,
  AttachVolume,
  DetachVolume,
  PlugVif,
  UnplugVif,
  ConsoleLog,
  VncConsole,
  ListCachedImages,
  EvictCachedImage,
] as const;

/** Nova's tap device name for a port: 'tap' + the first 11 characters of the port id. */
export const tapName = (portId: string): string => `tap${portId.slice(0, 11)}`;
