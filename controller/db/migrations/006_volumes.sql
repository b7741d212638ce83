-- Block storage (Cinder v3): volume types, volumes, snapshots, attachments, quotas.

CREATE TABLE volume_types (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  description   TEXT,
  is_public     INTEGER NOT NULL DEFAULT 1,
  extra_specs   TEXT NOT NULL DEFAULT '{}',   -- JSON; volume_backend_name picks the back end
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
INSERT INTO volume_types (id, name, description, is_public, extra_specs, created_at, updated_at)
  VALUES ('6f4c5b2e-0d43-4b4e-9a8e-5d1f0c3a9b01', '__DEFAULT__', 'Default Volume Type', 1, '{}', '2026-11-22T00:00:00.000Z', '2026-11-22T00:00:00.000Z');

CREATE TABLE volumes (
  id            TEXT PRIMARY KEY,
  project_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  name          TEXT,
  description   TEXT,
  size          INTEGER NOT NULL,              -- GiB
  status        TEXT NOT NULL,                 -- creating downloading available attaching in-use detaching extending deleting error error_deleting error_extending ...
  reason        TEXT,                          -- why the last operation failed (admins)
  volume_type_id TEXT REFERENCES volume_types(id),
  availability_zone TEXT NOT NULL,
  host_id       TEXT,                          -- hosts.id of the volume host
  backend       TEXT,                          -- back end name on that host (file, lvm...)
  bootable      INTEGER NOT NULL DEFAULT 0,
  metadata      TEXT NOT NULL DEFAULT '{}',
  snapshot_id   TEXT,
  source_volid  TEXT,
  image_id      TEXT,
  image_name    TEXT,
  multiattach   INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX volumes_project ON volumes(project_id);

CREATE TABLE volume_snapshots (
  id            TEXT PRIMARY KEY,
  project_id    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  volume_id     TEXT NOT NULL REFERENCES volumes(id),
  name          TEXT,
  description   TEXT,
  size          INTEGER NOT NULL,
  status        TEXT NOT NULL,                 -- creating available deleting error error_deleting
  reason        TEXT,
  metadata      TEXT NOT NULL DEFAULT '{}',
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX volume_snapshots_volume ON volume_snapshots(volume_id);

CREATE TABLE volume_attachments (
  id            TEXT PRIMARY KEY,
  volume_id     TEXT NOT NULL REFERENCES volumes(id),
  instance_uuid TEXT,
  attached_host TEXT,                          -- compute host name
  connector     TEXT,                          -- JSON {initiator, address}
  chap_username TEXT NOT NULL,
  chap_password TEXT NOT NULL,
  mountpoint    TEXT,
  attach_mode   TEXT NOT NULL DEFAULT 'rw',
  attach_status TEXT NOT NULL,                 -- reserved attaching attached detaching error_attaching error_detaching
  attached_at   TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments(volume_id);

CREATE TABLE volume_quotas (
  project_id    TEXT NOT NULL,
  resource      TEXT NOT NULL,
  hard_limit    INTEGER NOT NULL,
  PRIMARY KEY (project_id, resource)
);
