import { Type, type Static } from 'typebox';
import { defineRoute } from './contract.js';

/**
 * Controller → network agent contract (house style 3.2, 3.7 rule 6: ensure, not create).
 *
 * The controller sends each host's network agent its WHOLE desired state in one call,
 * `POST /v1/network/sync`: every tunnel peer, every network with a port on this host (or
 * served by this host's DHCP / routers), every port bound to the host, every DHCP server
 * and router the host runs and every security group its ports use. The agent converges:
 * adds what is missing, changes what differs, removes what it owns and is no longer
 * wanted (flows carry the agent's cookie, OVS rows its external_ids, namespaces its
 * prefixes). A periodic controller job re-sends the same body to heal drift; sending the
 * same body twice changes nothing the second time.
 *
 * Partial failure: one bad item never blocks the others. The reply lists per-item
 * errors in `errors`; items not named there converged. The call itself fails (5xx)
 * only when the agent cannot reach Open vSwitch at all.
 *
 * Nouns at this edge are Neutron's (network, port, subnet, router, floating IP);
 * bridges, ofports and VLANs stay inside the agent, except `local_vlan` reported for
 * diagnostics.
 *
 * Additive changes only from here on.
 */

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Ipv4 = Type.String({ pattern: '^(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})$' });
/** An IPv4 or IPv6 address (the agent applies IPv4 today; IPv6 entries are accepted and reported). */
const IpAddress = Type.String({ minLength: 2, maxLength: 45 });
const Cidr = Type.String({ pattern: '^[0-9a-fA-F:.]+/\\d{1,3}$' });
const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) =>
  Type.Union([t, Type.Null()]);

/** Another host's VXLAN endpoint. */
export const TunnelPeer = Type.Object(
  {
    ip: Ipv4,
    /** The peer's host name, for logs and the tunnel port's external_ids. */
    host: Type.Optional(Type.String({ maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type TunnelPeer = Static<typeof TunnelPeer>;

export const NetworkSpec = Type.Object(
  {
    id: Uuid,
    /** provider:network_type. */
    type: Type.Union([Type.Literal('vxlan'), Type.Literal('flat')]),
    /** provider:segmentation_id for vxlan (required then), null for flat. */
    vni: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 16_777_215 }))),
    /** provider:physical_network for flat (maps to a provider bridge by config). */
    physical_network: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    mtu: Type.Integer({ minimum: 68, maximum: 9000 }),
    /**
     * vxlan: the tunnel peers (IPs from `tunnels`) that also have this network; broadcast
     * and unknown unicast flood only to them. Omitted = every peer in `tunnels`.
     */
    peers: Type.Optional(Type.Array(Ipv4)),
  },
  { additionalProperties: false },
);
export type NetworkSpec = Static<typeof NetworkSpec>;

export const FixedIp = Type.Object({ subnet_id: Type.Optional(Uuid), ip_address: IpAddress }, { additionalProperties: false });
export type FixedIp = Static<typeof FixedIp>;

export const AddressPair = Type.Object(
  { ip_address: Type.String({ minLength: 2, maxLength: 49 }), mac_address: Type.Optional(Mac) },
  { additionalProperties: false },
);

/** A Neutron port bound to this host (VM ports; DHCP and router ports are implied by `dhcp`/`routers`). */
export const PortSpec = Type.Object(
  {
    port_id: Uuid,
    network_id: Uuid,
    mac: Mac,
    fixed_ips: Type.Array(FixedIp),
    device_owner: Type.Optional(Type.String({ maxLength: 255 })),
    /** security_groups of the port; enforced when port_security is true. */
    security_group_ids: Type.Array(Uuid),
    /** port_security_enabled: false = no anti-spoofing and no security groups. */
    port_security: Type.Boolean(),
    allowed_address_pairs: Type.Array(AddressPair),
    /** admin_state_up false = the port is put in the dead VLAN. */
    admin_state_up: Type.Optional(Type.Boolean()),
    /**
     * The port is being live-migrated (binding:profile migrating_to): 'source' on the host it
     * is bound to, 'destination' on the host it moves to. Traffic for it goes where the guest
     * was last seen sending from (see agents/network/flows.ts, MOVING_*).
     */
    live_migration: Type.Optional(Type.Union([Type.Literal('source'), Type.Literal('destination')])),
  },
  { additionalProperties: false },
);
export type PortSpec = Static<typeof PortSpec>;

export const SecurityGroupRule = Type.Object(
  {
    id: Uuid,
    direction: Type.Union([Type.Literal('ingress'), Type.Literal('egress')]),
    ethertype: Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')]),
    /** null = any; a name (tcp, udp, icmp, ...) or an IP protocol number as a string. */
    protocol: Nullable(Type.String({ maxLength: 16 })),
    port_range_min: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
    port_range_max: Nullable(Type.Integer({ minimum: 0, maximum: 65535 })),
    remote_ip_prefix: Nullable(Type.String({ maxLength: 49 })),
    remote_group_id: Nullable(Uuid),
  },
  { additionalProperties: false },
);
export type SecurityGroupRule = Static<typeof SecurityGroupRule>;

export const SecurityGroupSpec = Type.Object(
  {
    id: Uuid,
    rules: Type.Array(SecurityGroupRule),
    /** Fixed IPs of every port (on any host) in this group: what remote_group_id rules naming it match. */
    member_ips: Type.Array(IpAddress),
  },
  { additionalProperties: false },
);
export type SecurityGroupSpec = Static<typeof SecurityGroupSpec>;

export const HostRoute = Type.Object({ destination: Cidr, nexthop: IpAddress }, { additionalProperties: false });

export const DhcpSubnet = Type.Object(
  {
    id: Uuid,
    cidr: Cidr,
    ip_version: Type.Union([Type.Literal(4), Type.Literal(6)]),
    gateway_ip: Nullable(Type.String({ maxLength: 45 })),
    dns_nameservers: Type.Array(IpAddress),
    host_routes: Type.Array(HostRoute),
  },
  { additionalProperties: false },
);
export type DhcpSubnet = Static<typeof DhcpSubnet>;

export const DhcpHost = Type.Object(
  { mac: Mac, ip_address: IpAddress, hostname: Type.Optional(Type.String({ maxLength: 63 })) },
  { additionalProperties: false },
);
export type DhcpHost = Static<typeof DhcpHost>;

/** An instance the metadata proxy of a network serves: its fixed address there, its id and project. */
export const MetadataInstance = Type.Object(
  {
    ip_address: IpAddress,
    instance_id: Type.String({ minLength: 1, maxLength: 64 }),
    project_id: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type MetadataInstance = Static<typeof MetadataInstance>;

/** A DHCP server for one network (dnsmasq in its own namespace). */
export const DhcpSpec = Type.Object(
  {
    network_id: Uuid,
    /** The network:dhcp port: its MAC and its address in each DHCP-enabled subnet. */
    port: Type.Object({ port_id: Uuid, mac: Mac, fixed_ips: Type.Array(FixedIp) }, { additionalProperties: false }),
    /** Subnets with enable_dhcp. */
    subnets: Type.Array(DhcpSubnet),
    /** One entry per port on the network (MAC → fixed address), as Neutron's hosts file. */
    hosts: Type.Array(DhcpHost),
    mtu: Type.Integer({ minimum: 68, maximum: 9000 }),
    dns_domain: Type.Optional(Type.String({ maxLength: 255 })),
    lease_seconds: Type.Optional(Type.Integer({ minimum: 120 })),
    /**
     * Present: serve the metadata service at 169.254.169.254 in this namespace (the
     * address on the namespace's interface, a route to it via the DHCP port's address
     * in DHCP option 121) to these instances, identified by their address.
     */
    metadata: Type.Optional(Type.Object({ instances: Type.Array(MetadataInstance) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type DhcpSpec = Static<typeof DhcpSpec>;

export const RouterInterface = Type.Object(
  {
    port_id: Uuid,
    network_id: Uuid,
    subnet_id: Type.Optional(Uuid),
    mac: Mac,
    /** The router's address on the subnet, with the subnet's prefix: "10.0.0.1/24". */
    ip_cidr: Cidr,
  },
  { additionalProperties: false },
);
export type RouterInterface = Static<typeof RouterInterface>;

export const FloatingIpSpec = Type.Object(
  {
    id: Type.Optional(Uuid),
    floating_ip_address: Ipv4,
    fixed_ip_address: Ipv4,
    port_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type FloatingIpSpec = Static<typeof FloatingIpSpec>;

export const RouterGateway = Type.Object(
  {
    port_id: Uuid,
    network_id: Uuid,
    mac: Mac,
    /** The router's address on the external subnet with its prefix. */
    ip_cidr: Cidr,
    /** The external subnet's gateway: the router's default route. */
    gateway_ip: Nullable(Type.String({ maxLength: 45 })),
    enable_snat: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type RouterGateway = Static<typeof RouterGateway>;

/** A router (namespace with qr- interfaces per subnet and a qg- gateway on the external network). */
export const RouterSpec = Type.Object(
  {
    id: Uuid,
    interfaces: Type.Array(RouterInterface),
    gateway: Type.Union([RouterGateway, Type.Null()]),
    /** Associated floating IPs (DNAT in, SNAT out). */
    floating_ips: Type.Array(FloatingIpSpec),
    /**
     * Present: serve the metadata service at 169.254.169.254 in the router's namespace
     * (Neutron's L3 agent metadata proxy) to these instances of its internal subnets,
     * identified by their address: what guests on a subnet without DHCP (no option-121
     * route to a DHCP namespace) reach through their default route.
     */
    metadata: Type.Optional(Type.Object({ instances: Type.Array(MetadataInstance) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type RouterSpec = Static<typeof RouterSpec>;

export const NetworkSyncBody = Type.Object(
  {
    /** Monotonic per host (e.g. a timestamp); a sync older than the last applied one is ignored. */
    generation: Type.Optional(Type.Integer({ minimum: 0 })),
    tunnels: Type.Array(TunnelPeer),
    networks: Type.Array(NetworkSpec),
    ports: Type.Array(PortSpec),
    security_groups: Type.Array(SecurityGroupSpec),
    dhcp: Type.Array(DhcpSpec),
    routers: Type.Array(RouterSpec),
  },
  { additionalProperties: false },
);
export type NetworkSyncBody = Static<typeof NetworkSyncBody>;

export const PortStatus = Type.Object(
  {
    port_id: Uuid,
    /** ACTIVE: the device is on br-int with its VLAN and flows; DOWN: the device is not there yet. */
    status: Type.Union([Type.Literal('ACTIVE'), Type.Literal('DOWN')]),
  },
  { additionalProperties: false },
);
export type PortStatus = Static<typeof PortStatus>;

export const SyncError = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('tunnel'),
      Type.Literal('network'),
      Type.Literal('port'),
      Type.Literal('dhcp'),
      Type.Literal('router'),
      Type.Literal('security_group'),
      Type.Literal('flows'),
    ]),
    id: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type SyncError = Static<typeof SyncError>;

export const NetworkSyncReply = Type.Object(
  {
    /** The generation applied (echo of the body's, or 0). */
    generation: Type.Integer({ minimum: 0 }),
    /** true when a newer generation had already been applied and this body was ignored. */
    ignored: Type.Boolean(),
    networks: Type.Array(Type.Object({ id: Uuid, local_vlan: Type.Integer() }, { additionalProperties: false })),
    ports: Type.Array(PortStatus),
    tunnels: Type.Object(
      {
        /** Peer IPs with a tunnel port after the sync. */
        active: Type.Array(Type.String()),
        added: Type.Array(Type.String()),
        removed: Type.Array(Type.String()),
      },
      { additionalProperties: false },
    ),
    /** How many OpenFlow flows were added/deleted to converge (0/0 on a no-op sync). */
    flows: Type.Object(
      { added: Type.Integer({ minimum: 0 }), deleted: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
    errors: Type.Array(SyncError),
    duration_ms: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type NetworkSyncReply = Static<typeof NetworkSyncReply>;

/** Converge this host to the whole desired network state. Idempotent. */
export const NetworkSync = defineRoute({
  name: 'network.sync',
  method: 'POST',
  url: '/v1/network/sync',
  body: NetworkSyncBody,
  reply: NetworkSyncReply,
  timeoutMs: 180_000,
});

/** What the agent has now (diagnostics, and the controller's port status refresh). */
export const NetworkState = defineRoute({
  name: 'network.state',
  method: 'GET',
  url: '/v1/network/state',
  body: Type.Object({}, { additionalProperties: false }),
  reply: Type.Object(
    {
      datapath: Type.String(),
      tunnel_ip: Type.String(),
      generation: Type.Integer({ minimum: 0 }),
      networks: Type.Array(Type.Object({ id: Uuid, local_vlan: Type.Integer() }, { additionalProperties: false })),
      ports: Type.Array(PortStatus),
      tunnels: Type.Array(Type.String()),
      dhcp: Type.Array(Type.Object({ network_id: Uuid, running: Type.Boolean() }, { additionalProperties: false })),
      routers: Type.Array(Uuid),
    },
    { additionalProperties: false },
  ),
  timeoutMs: 15_000,
});

export const NETWORK_ROUTES = [NetworkSync, NetworkState] as const;
