import { Type, type Static, type TSchema } from 'typebox';

/**
 * Neutron v2.0 request bodies (what the openstack client, the SDK, Terraform and
 * Ansible send). Unknown attributes are tolerated (clients add fields we do not
 * model); known ones are type-checked and the error names the attribute. Nulls are
 * accepted where Neutron accepts them.
 */
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Str = (max = 255) => Type.String({ maxLength: max });
const Bool = Type.Boolean();
const Tags = Type.Array(Type.String({ maxLength: 255 }));
const Open = { additionalProperties: true } as const;

export const NetworkType = Type.Union([Type.Literal('vxlan'), Type.Literal('flat')]);

const NetworkFields = {
  name: Str(),
  description: Str(),
  admin_state_up: Bool,
  shared: Bool,
  'router:external': Bool,
  'provider:network_type': NetworkType,
  'provider:physical_network': Nullable(Str(64)),
  'provider:segmentation_id': Nullable(Type.Integer({ minimum: 1, maximum: 16777215 })),
  mtu: Type.Integer({ minimum: 68, maximum: 65535 }),
  port_security_enabled: Bool,
  is_default: Bool,
  availability_zone_hints: Type.Array(Str()),
  dns_domain: Nullable(Str()),
  tags: Tags,
  tenant_id: Str(),
  project_id: Str(),
};
export const NetworkCreate = Type.Partial(Type.Object(NetworkFields, Open));
export const NetworkUpdate = Type.Partial(Type.Object(NetworkFields, Open));
export type NetworkCreate = Static<typeof NetworkCreate>;

export const AllocationPool = Type.Object({ start: Type.String(), end: Type.String() });
export const HostRoute = Type.Object({ destination: Type.String(), nexthop: Type.String() });
const SubnetFields = {
  name: Str(),
  description: Str(),
  network_id: Type.String(),
  ip_version: Type.Union([Type.Literal(4), Type.Literal(6)]),
  cidr: Nullable(Type.String()),
  gateway_ip: Nullable(Type.String()),
  enable_dhcp: Bool,
  allocation_pools: Nullable(Type.Array(AllocationPool)),
  dns_nameservers: Nullable(Type.Array(Type.String())),
  host_routes: Nullable(Type.Array(HostRoute)),
  ipv6_ra_mode: Nullable(Type.Union([Type.Literal('slaac'), Type.Literal('dhcpv6-stateful'), Type.Literal('dhcpv6-stateless')])),
  ipv6_address_mode: Nullable(
    Type.Union([Type.Literal('slaac'), Type.Literal('dhcpv6-stateful'), Type.Literal('dhcpv6-stateless')]),
  ),
  subnetpool_id: Type.Null(),
  prefixlen: Type.Integer(),
  use_default_subnetpool: Type.Boolean(),
  segment_id: Type.Null(),
  service_types: Type.Array(Type.String()),
  tags: Tags,
  tenant_id: Str(),
  project_id: Str(),
};
export const SubnetCreate = Type.Intersect([
  Type.Object({ network_id: Type.String(), ip_version: Type.Union([Type.Literal(4), Type.Literal(6)]) }),
  Type.Partial(Type.Object(SubnetFields, Open)),
]);
export const SubnetUpdate = Type.Partial(Type.Object(SubnetFields, Open));
export type SubnetCreate = Static<typeof SubnetCreate>;

export const FixedIp = Type.Object({ subnet_id: Type.Optional(Type.String()), ip_address: Type.Optional(Type.String()) }, Open);
export const AddressPair = Type.Object({ ip_address: Type.String(), mac_address: Type.Optional(Nullable(Type.String())) });
const PortFields = {
  name: Str(),
  description: Str(),
  network_id: Type.String(),
  admin_state_up: Bool,
  mac_address: Type.String({ pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$' }),
  fixed_ips: Type.Array(FixedIp),
  device_id: Str(),
  device_owner: Str(),
  'binding:host_id': Nullable(Str()),
  'binding:vnic_type': Type.String(),
  'binding:profile': Nullable(Type.Record(Type.String(), Type.Unknown())),
  security_groups: Nullable(Type.Array(Type.String())),
  port_security_enabled: Bool,
  allowed_address_pairs: Nullable(Type.Array(AddressPair)),
  extra_dhcp_opts: Nullable(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  dns_name: Nullable(Str()),
  tags: Tags,
  tenant_id: Str(),
  project_id: Str(),
};
export const PortCreate = Type.Intersect([
  Type.Object({ network_id: Type.String() }),
  Type.Partial(Type.Object(PortFields, Open)),
]);
export const PortUpdate = Type.Partial(Type.Object(PortFields, Open));
export type PortCreate = Static<typeof PortCreate>;

export const ExternalGatewayInfo = Nullable(
  Type.Object(
    {
      network_id: Type.Optional(Type.String()),
      enable_snat: Type.Optional(Bool),
      external_fixed_ips: Type.Optional(Type.Array(FixedIp)),
    },
    Open,
  ),
);
const RouterFields = {
  name: Str(),
  description: Str(),
  admin_state_up: Bool,
  external_gateway_info: ExternalGatewayInfo,
  routes: Nullable(Type.Array(HostRoute)),
  distributed: Type.Literal(false),
  ha: Type.Literal(false),
  availability_zone_hints: Type.Array(Str()),
  tags: Tags,
  tenant_id: Str(),
  project_id: Str(),
};
export const RouterCreate = Type.Partial(Type.Object(RouterFields, Open));
export const RouterUpdate = Type.Partial(Type.Object(RouterFields, Open));
/** add_router_interface / remove_router_interface: an unwrapped body. */
export const RouterInterface = Type.Object(
  { subnet_id: Type.Optional(Type.String()), port_id: Type.Optional(Type.String()) },
  Open,
);

const FloatingIpFields = {
  floating_network_id: Type.String(),
  floating_ip_address: Nullable(Type.String()),
  subnet_id: Nullable(Type.String()),
  port_id: Nullable(Type.String()),
  fixed_ip_address: Nullable(Type.String()),
  description: Str(),
  dns_name: Nullable(Str()),
  dns_domain: Nullable(Str()),
  qos_policy_id: Type.Null(),
  tags: Tags,
  tenant_id: Str(),
  project_id: Str(),
};
export const FloatingIpCreate = Type.Intersect([
  Type.Object({ floating_network_id: Type.String() }),
  Type.Partial(Type.Object(FloatingIpFields, Open)),
]);
export const FloatingIpUpdate = Type.Partial(Type.Object(FloatingIpFields, Open));

export const SecurityGroupCreate = Type.Partial(
  Type.Object(
    {
      name: Str(),
      description: Str(),
      stateful: Bool,
      tags: Tags,
      tenant_id: Str(),
      project_id: Str(),
    },
    Open,
  ),
);
export const SecurityGroupUpdate = SecurityGroupCreate;

// Any integer: the range is checked by the service with Neutron's messages ("Invalid value for port -16.").
const PortNum = Nullable(Type.Integer());
export const SecurityGroupRuleCreate = Type.Intersect([
  Type.Object({ security_group_id: Type.String() }),
  Type.Partial(
    Type.Object(
      {
        direction: Type.Union([Type.Literal('ingress'), Type.Literal('egress')]),
        ethertype: Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')]),
        protocol: Nullable(Type.Union([Type.String(), Type.Integer({ minimum: 0, maximum: 255 })])),
        port_range_min: PortNum,
        port_range_max: PortNum,
        remote_ip_prefix: Nullable(Type.String()),
        remote_group_id: Nullable(Type.String()),
        remote_address_group_id: Type.Null(),
        description: Nullable(Str()),
        tenant_id: Str(),
        project_id: Str(),
      },
      Open,
    ),
  ),
]);
export type SecurityGroupRuleCreate = Static<typeof SecurityGroupRuleCreate>;

/** PUT /v2.0/quotas/{project_id} {"quota": {...}}: integers, -1 = unlimited. */
export const QUOTA_RESOURCES = [
  'network',
  'subnet',
  'port',
  'router',
  'floatingip',
  'security_group',
  'security_group_rule',
  'rbac_policy',
  'subnetpool',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export const QuotaUpdate = Type.Partial(
  Type.Object(
    Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, Type.Integer({ minimum: -1 })])) as Record<
      QuotaResource,
      ReturnType<typeof Type.Integer>
    >,
    Open,
  ),
);
