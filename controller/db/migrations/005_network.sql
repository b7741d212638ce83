-- Networking (Neutron v2.0): networks, subnets, ports with their fixed addresses,
-- routers, floating IPs, security groups, quotas. Tags and list-valued attributes are
-- JSON arrays. IP allocations carry the uniqueness that IPAM relies on.
CREATE TABLE net_networks (
  id               TEXT PRIMARY KEY,              -- uuid
  project_id       TEXT NOT NULL,
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  admin_state_up   INTEGER NOT NULL DEFAULT 1,
  status           TEXT NOT NULL DEFAULT 'ACTIVE',
  shared           INTEGER NOT NULL DEFAULT 0,
  router_external  INTEGER NOT NULL DEFAULT 0,
  is_default       INTEGER NOT NULL DEFAULT 0,
  network_type     TEXT NOT NULL,                 -- vxlan | flat
  physical_network TEXT,                          -- flat only
  segmentation_id  INTEGER,                       -- the VNI (vxlan only)
  mtu              INTEGER NOT NULL,
  port_security_enabled INTEGER NOT NULL DEFAULT 1,
  availability_zone_hints TEXT NOT NULL DEFAULT '[]',
  dns_domain       TEXT NOT NULL DEFAULT '',
  tags             TEXT NOT NULL DEFAULT '[]',
  revision_number  INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
-- One network per VNI; one flat network per physical network.
CREATE UNIQUE INDEX net_networks_vni ON net_networks(segmentation_id) WHERE network_type = 'vxlan';
CREATE UNIQUE INDEX net_networks_flat ON net_networks(physical_network) WHERE network_type = 'flat';
CREATE INDEX net_networks_project ON net_networks(project_id);

CREATE TABLE net_subnets (
  id               TEXT PRIMARY KEY,
  network_id       TEXT NOT NULL REFERENCES net_networks(id) ON DELETE CASCADE,
  project_id       TEXT NOT NULL,
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  ip_version       INTEGER NOT NULL,              -- 4 | 6
  cidr             TEXT NOT NULL,                 -- normalised (host bits zero)
  gateway_ip       TEXT,
  enable_dhcp      INTEGER NOT NULL DEFAULT 1,
  allocation_pools TEXT NOT NULL DEFAULT '[]',    -- [{start, end}]
  dns_nameservers  TEXT NOT NULL DEFAULT '[]',
  host_routes      TEXT NOT NULL DEFAULT '[]',    -- [{destination, nexthop}]
  ipv6_ra_mode     TEXT,
  ipv6_address_mode TEXT,
  tags             TEXT NOT NULL DEFAULT '[]',
  revision_number  INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX net_subnets_network ON net_subnets(network_id);

CREATE TABLE net_ports (
  id               TEXT PRIMARY KEY,
  network_id       TEXT NOT NULL REFERENCES net_networks(id),
  project_id       TEXT NOT NULL,
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  mac_address      TEXT NOT NULL,
  admin_state_up   INTEGER NOT NULL DEFAULT 1,
  status           TEXT NOT NULL DEFAULT 'DOWN',
  device_id        TEXT NOT NULL DEFAULT '',
  device_owner     TEXT NOT NULL DEFAULT '',
  binding_host_id  TEXT NOT NULL DEFAULT '',
  binding_vnic_type TEXT NOT NULL DEFAULT 'normal',
  binding_profile  TEXT NOT NULL DEFAULT '{}',
  port_security_enabled INTEGER NOT NULL DEFAULT 1,
  allowed_address_pairs TEXT NOT NULL DEFAULT '[]', -- [{ip_address, mac_address}]
  extra_dhcp_opts  TEXT NOT NULL DEFAULT '[]',
  dns_name         TEXT NOT NULL DEFAULT '',
  auto_delete      INTEGER NOT NULL DEFAULT 0,    -- made by compute for a server: deleted with it
  tags             TEXT NOT NULL DEFAULT '[]',
  revision_number  INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX net_ports_mac ON net_ports(network_id, mac_address);
CREATE INDEX net_ports_device ON net_ports(device_id);
CREATE INDEX net_ports_network ON net_ports(network_id);

-- IPAM: one row per address in use; the primary key is what makes a double
-- allocation impossible even if two writers raced.
CREATE TABLE net_ip_allocations (
  subnet_id        TEXT NOT NULL REFERENCES net_subnets(id),
  ip_address       TEXT NOT NULL,                 -- canonical text form
  port_id          TEXT NOT NULL REFERENCES net_ports(id) ON DELETE CASCADE,
  network_id       TEXT NOT NULL,
  seq              INTEGER NOT NULL DEFAULT 0,    -- order within the port's fixed_ips
  PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX net_ip_allocations_port ON net_ip_allocations(port_id);

CREATE TABLE net_security_groups (
  id               TEXT PRIMARY KEY,
  project_id       TEXT NOT NULL,
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  stateful         INTEGER NOT NULL DEFAULT 1,
  tags             TEXT NOT NULL DEFAULT '[]',
  revision_number  INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX net_security_groups_project ON net_security_groups(project_id);
-- The project's `default` group, made on first use.
CREATE TABLE net_default_security_groups (
  project_id        TEXT PRIMARY KEY,
  security_group_id TEXT NOT NULL REFERENCES net_security_groups(id) ON DELETE CASCADE
);

CREATE TABLE net_security_group_rules (
  id                TEXT PRIMARY KEY,
  security_group_id TEXT NOT NULL REFERENCES net_security_groups(id) ON DELETE CASCADE,
  project_id        TEXT NOT NULL,
  direction         TEXT NOT NULL,                -- ingress | egress
  ethertype         TEXT NOT NULL,                -- IPv4 | IPv6
  protocol          TEXT,                         -- name or number as given (normalised lower case)
  port_range_min    INTEGER,
  port_range_max    INTEGER,
  remote_ip_prefix  TEXT,
  remote_group_id   TEXT REFERENCES net_security_groups(id) ON DELETE CASCADE,
  description       TEXT NOT NULL DEFAULT '',
  revision_number   INTEGER NOT NULL DEFAULT 0,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL
);
CREATE INDEX net_security_group_rules_group ON net_security_group_rules(security_group_id);

CREATE TABLE net_port_security_groups (
  port_id           TEXT NOT NULL REFERENCES net_ports(id) ON DELETE CASCADE,
  security_group_id TEXT NOT NULL REFERENCES net_security_groups(id),
  PRIMARY KEY (port_id, security_group_id)
);
CREATE INDEX net_port_security_groups_group ON net_port_security_groups(security_group_id);

CREATE TABLE net_routers (
  id               TEXT PRIMARY KEY,
  project_id       TEXT NOT NULL,
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  admin_state_up   INTEGER NOT NULL DEFAULT 1,
  status           TEXT NOT NULL DEFAULT 'ACTIVE',
  gw_network_id    TEXT REFERENCES net_networks(id),
  gw_port_id       TEXT REFERENCES net_ports(id),
  enable_snat      INTEGER NOT NULL DEFAULT 1,
  routes           TEXT NOT NULL DEFAULT '[]',    -- [{destination, nexthop}]
  host             TEXT NOT NULL DEFAULT '',      -- the L3 host (hosts.name) it is scheduled to
  tags             TEXT NOT NULL DEFAULT '[]',
  revision_number  INTEGER NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX net_routers_project ON net_routers(project_id);

CREATE TABLE net_floatingips (
  id                  TEXT PRIMARY KEY,
  project_id          TEXT NOT NULL,
  floating_network_id TEXT NOT NULL REFERENCES net_networks(id),
  floating_port_id    TEXT NOT NULL REFERENCES net_ports(id),
  floating_ip_address TEXT NOT NULL,
  port_id             TEXT REFERENCES net_ports(id),
  fixed_ip_address    TEXT,
  router_id           TEXT REFERENCES net_routers(id),
  status              TEXT NOT NULL DEFAULT 'DOWN',
  description         TEXT NOT NULL DEFAULT '',
  tags                TEXT NOT NULL DEFAULT '[]',
  revision_number     INTEGER NOT NULL DEFAULT 0,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX net_floatingips_address ON net_floatingips(floating_network_id, floating_ip_address);
CREATE UNIQUE INDEX net_floatingips_fixed ON net_floatingips(port_id, fixed_ip_address) WHERE port_id IS NOT NULL;

-- Per-project overrides of the default quotas (-1 = unlimited).
CREATE TABLE net_quotas (
  project_id   TEXT NOT NULL,
  resource     TEXT NOT NULL,
  hard_limit   INTEGER NOT NULL,
  PRIMARY KEY (project_id, resource)
);
