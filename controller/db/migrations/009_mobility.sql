-- Workload mobility (issue 15): Nova's migration records, one row per live migration,
-- cold migration, resize or evacuation. During a move the source's allocation is held
-- by the migration (allocations.instance_id = migrations.uuid, Nova's migration
-- consumer) while the instance's own allocation is claimed on the destination.
CREATE TABLE migrations (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- Nova's integer migration id
  uuid            TEXT NOT NULL UNIQUE,
  instance_uuid   TEXT NOT NULL,
  migration_type  TEXT NOT NULL,                      -- live-migration | migration | resize | evacuation
  status          TEXT NOT NULL,
  source_compute  TEXT,
  source_node     TEXT,
  source_host_id  TEXT,
  dest_compute    TEXT,
  dest_node       TEXT,
  dest_host       TEXT,                               -- the destination's address
  dest_host_id    TEXT,
  old_flavor      TEXT,                               -- JSON flavor snapshot before the move
  new_flavor      TEXT,                               -- JSON flavor snapshot after it (resize)
  memory_total    INTEGER,
  memory_processed INTEGER,
  memory_remaining INTEGER,
  disk_total      INTEGER,
  disk_processed  INTEGER,
  disk_remaining  INTEGER,
  project_id      TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  error           TEXT,                               -- why it failed (the failed step and the tool's words)
  details         TEXT NOT NULL DEFAULT '{}',         -- JSON: what the move made on the destination (attachments), for recovery
  created_at      TEXT NOT NULL,
  updated_at      TEXT,
  deleted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX migrations_instance ON migrations(instance_uuid, status);
CREATE INDEX migrations_status ON migrations(status);
CREATE INDEX migrations_updated ON migrations(updated_at);
