-- Hosts (one per agent) and the durable dispatch of operations to them.
CREATE TABLE hosts (
  id            TEXT PRIMARY KEY,           -- uuid
  name          TEXT NOT NULL UNIQUE,       -- hostname
  agent_url     TEXT NOT NULL,              -- http://mgmt-address:port
  credential_hash TEXT NOT NULL,            -- sha256 of the per-host secret
  roles         TEXT NOT NULL DEFAULT '[]', -- JSON array: compute, network, volume
  agent_version TEXT NOT NULL DEFAULT '',
  api_version   INTEGER NOT NULL DEFAULT 1,
  hypervisor_type TEXT NOT NULL DEFAULT '',
  vcpus         INTEGER NOT NULL DEFAULT 0,
  memory_mb     INTEGER NOT NULL DEFAULT 0,
  disk_gb       INTEGER NOT NULL DEFAULT 0,
  tunnel_ip     TEXT NOT NULL DEFAULT '',
  usage         TEXT NOT NULL DEFAULT '{}', -- JSON: last reported usage
  capabilities  TEXT NOT NULL DEFAULT '{}', -- JSON: what the agent reported at registration
  enabled       INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,
  state         TEXT NOT NULL DEFAULT 'down', -- up | down (recomputed from heartbeats)
  registered_at TEXT,
  last_heartbeat_at TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE operations (
  id            TEXT PRIMARY KEY,           -- uuid, also the idempotency key sent to the agent
  host_id       TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  kind          TEXT NOT NULL,              -- e.g. compute.spawn
  payload       TEXT NOT NULL,              -- JSON body
  state         TEXT NOT NULL DEFAULT 'pending', -- pending | sending | done | failed
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  result        TEXT,                       -- JSON reply when done
  resource_type TEXT,                       -- what the operation is for (server, volume...)
  resource_id   TEXT,
  next_attempt_at TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  finished_at   TEXT
);
CREATE INDEX operations_pending ON operations(state, next_attempt_at);
CREATE INDEX operations_resource ON operations(resource_type, resource_id);
