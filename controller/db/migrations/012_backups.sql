-- Data protection (issue 18): Cinder volume backups.

CREATE TABLE volume_backups (
  id                TEXT PRIMARY KEY,
  project_id        TEXT NOT NULL,
  user_id           TEXT NOT NULL,
  volume_id         TEXT NOT NULL,               -- no foreign key: a backup outlives its volume
  snapshot_id       TEXT,                        -- backed up from this snapshot (--snapshot)
  name              TEXT,
  description       TEXT,
  size              INTEGER NOT NULL,            -- GiB of the volume
  status            TEXT NOT NULL,               -- creating available deleting error error_deleting restoring
  fail_reason       TEXT,
  availability_zone TEXT,
  container         TEXT,                        -- posix: sub-directory; s3: bucket
  service           TEXT,                        -- homestack.backup.drivers.posix | .s3
  service_metadata  TEXT,                        -- the objects' name prefix
  target_id         TEXT,                        -- the store's id: hosts whose target has it can read the backup
  host_id           TEXT,                        -- the volume host that made (or last handled) it
  parent_id         TEXT,                        -- incremental: the backup it builds on
  object_count      INTEGER NOT NULL DEFAULT 0,
  stored_bytes      INTEGER,                     -- compressed bytes written to the store
  data_timestamp    TEXT NOT NULL,               -- when the data was taken (snapshot: its time)
  restore_volume_id TEXT,                        -- the volume a running restore writes
  temp_snapshot     INTEGER NOT NULL DEFAULT 0,  -- an in-use volume read from a temporary snapshot
  metadata          TEXT NOT NULL DEFAULT '{}',
  volume_meta       TEXT NOT NULL DEFAULT '{}',  -- bootable and image metadata, given back on restore (Cinder's volume_meta)
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL
);
CREATE INDEX volume_backups_project ON volume_backups(project_id);
CREATE INDEX volume_backups_volume ON volume_backups(volume_id);
CREATE INDEX volume_backups_parent ON volume_backups(parent_id);

-- Cinder's volumes.previous_status: the status a backup returns the volume to.
ALTER TABLE volumes ADD COLUMN previous_status TEXT;
