-- Compute (Nova v2.1): flavors, keypairs, instances with their faults and actions,
-- placement-style allocations, quotas and server groups.

CREATE TABLE flavors (
  id            TEXT PRIMARY KEY,              -- flavorid (a uuid when created with id null)
  name          TEXT NOT NULL UNIQUE,
  ram           INTEGER NOT NULL,              -- MiB
  vcpus         INTEGER NOT NULL,
  disk          INTEGER NOT NULL,              -- GiB (root)
  ephemeral     INTEGER NOT NULL DEFAULT 0,
  swap          INTEGER NOT NULL DEFAULT 0,    -- MiB
  rxtx_factor   REAL NOT NULL DEFAULT 1.0,
  is_public     INTEGER NOT NULL DEFAULT 1,
  disabled      INTEGER NOT NULL DEFAULT 0,
  description   TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT
);

CREATE TABLE flavor_extra_specs (
  flavor_id     TEXT NOT NULL REFERENCES flavors(id) ON DELETE CASCADE,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  PRIMARY KEY (flavor_id, key)
);

CREATE TABLE flavor_projects (
  flavor_id     TEXT NOT NULL REFERENCES flavors(id) ON DELETE CASCADE,
  project_id    TEXT NOT NULL,
  PRIMARY KEY (flavor_id, project_id)
);

-- Keypairs belong to a user, not a project.
CREATE TABLE keypairs (
  user_id       TEXT NOT NULL,
  name          TEXT NOT NULL,
  public_key    TEXT NOT NULL,
  fingerprint   TEXT NOT NULL,
  type          TEXT NOT NULL DEFAULT 'ssh',
  created_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
);

CREATE TABLE instances (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- instance-%08x and the list order
  id            TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  hostname      TEXT NOT NULL,
  description   TEXT,
  project_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  reservation_id TEXT NOT NULL,
  launch_index  INTEGER NOT NULL DEFAULT 0,
  image_ref     TEXT NOT NULL DEFAULT '',      -- '' for volume-backed
  flavor_id     TEXT NOT NULL,
  flavor        TEXT NOT NULL,                 -- JSON snapshot {id,name,ram,vcpus,disk,ephemeral,swap,extra_specs}
  vm_state      TEXT NOT NULL,                 -- building active stopped paused suspended rescued error deleted
  task_state    TEXT,
  power_state   INTEGER NOT NULL DEFAULT 0,
  host          TEXT,                          -- host name
  host_id       TEXT,                          -- hosts.id
  availability_zone TEXT,
  requested_az  TEXT,
  key_name      TEXT,
  key_data      TEXT,
  user_data     TEXT,
  config_drive  TEXT NOT NULL DEFAULT '',
  metadata      TEXT NOT NULL DEFAULT '{}',
  security_groups TEXT NOT NULL DEFAULT '[]',  -- JSON [{name}] as requested
  requested_networks TEXT NOT NULL DEFAULT '"auto"', -- JSON
  scheduler_hints TEXT NOT NULL DEFAULT '{}',
  block_devices TEXT NOT NULL DEFAULT '[]',    -- JSON block_device_mapping_v2 as requested
  access_ipv4   TEXT NOT NULL DEFAULT '',
  access_ipv6   TEXT NOT NULL DEFAULT '',
  locked        INTEGER NOT NULL DEFAULT 0,
  locked_by     TEXT,
  admin_pass    TEXT,
  progress      INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  launched_at   TEXT,
  terminated_at TEXT,
  deleted       INTEGER NOT NULL DEFAULT 0,
  deleted_at    TEXT
);
CREATE INDEX instances_project ON instances(project_id, deleted);
CREATE INDEX instances_host ON instances(host_id, deleted);
CREATE INDEX instances_updated ON instances(updated_at);

CREATE TABLE instance_faults (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id   TEXT NOT NULL,
  code          INTEGER NOT NULL,
  message       TEXT NOT NULL,
  details       TEXT NOT NULL DEFAULT '',
  created_at    TEXT NOT NULL
);
CREATE INDEX instance_faults_instance ON instance_faults(instance_id);

CREATE TABLE instance_actions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id   TEXT NOT NULL,
  action        TEXT NOT NULL,
  request_id    TEXT NOT NULL,
  project_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  message       TEXT,
  start_time    TEXT NOT NULL,
  finish_time   TEXT,
  updated_at    TEXT NOT NULL
);
CREATE INDEX instance_actions_instance ON instance_actions(instance_id);

CREATE TABLE instance_action_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  action_id     INTEGER NOT NULL REFERENCES instance_actions(id) ON DELETE CASCADE,
  event         TEXT NOT NULL,
  result        TEXT,                          -- Success | Error | null while running
  traceback     TEXT,
  host          TEXT,
  start_time    TEXT NOT NULL,
  finish_time   TEXT,
  details       TEXT
);
CREATE INDEX instance_action_events_action ON instance_action_events(action_id);

-- Placement: what each instance holds on its host. Inventory = hosts.vcpus/memory_mb/
-- disk_gb times the configured allocation ratios. Claimed in one IMMEDIATE transaction
-- that re-checks capacity.
CREATE TABLE allocations (
  instance_id   TEXT PRIMARY KEY,
  host_id       TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  vcpus         INTEGER NOT NULL,
  memory_mb     INTEGER NOT NULL,
  disk_gb       INTEGER NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX allocations_host ON allocations(host_id);

CREATE TABLE compute_quotas (
  project_id    TEXT NOT NULL,
  resource      TEXT NOT NULL,
  hard_limit    INTEGER NOT NULL,
  PRIMARY KEY (project_id, resource)
);

CREATE TABLE server_groups (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  project_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  policy        TEXT NOT NULL,                 -- affinity anti-affinity soft-affinity soft-anti-affinity
  rules         TEXT NOT NULL DEFAULT '{}',
  created_at    TEXT NOT NULL
);

CREATE TABLE server_group_members (
  group_id      TEXT NOT NULL REFERENCES server_groups(id) ON DELETE CASCADE,
  instance_id   TEXT NOT NULL,
  PRIMARY KEY (group_id, instance_id)
);
CREATE INDEX server_group_members_instance ON server_group_members(instance_id);

-- Volumes attached to servers (os-extended-volumes:volumes_attached, boot from volume).
CREATE TABLE block_device_mappings (
  instance_id   TEXT NOT NULL,
  volume_id     TEXT NOT NULL,
  device_name   TEXT,
  boot_index    INTEGER,
  delete_on_termination INTEGER NOT NULL DEFAULT 0,
  attachment_id TEXT,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (instance_id, volume_id)
);
