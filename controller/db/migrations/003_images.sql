-- Images (Glance v2): records, members and the bytes' location in the image store.
CREATE TABLE images (
  id               TEXT PRIMARY KEY,             -- uuid
  name             TEXT,
  status           TEXT NOT NULL DEFAULT 'queued', -- queued | saving | active | killed | deactivated
  visibility       TEXT NOT NULL DEFAULT 'shared', -- public | community | shared | private
  protected        INTEGER NOT NULL DEFAULT 0,
  os_hidden        INTEGER NOT NULL DEFAULT 0,
  disk_format      TEXT,
  container_format TEXT,
  size             INTEGER,
  virtual_size     INTEGER,
  checksum         TEXT,                         -- md5 hex
  os_hash_algo     TEXT,
  os_hash_value    TEXT,
  min_disk         INTEGER NOT NULL DEFAULT 0,
  min_ram          INTEGER NOT NULL DEFAULT 0,
  owner            TEXT,                         -- project id
  properties       TEXT NOT NULL DEFAULT '{}',   -- JSON object of string values
  tags             TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
  store_key        TEXT,                         -- where the image store keeps the bytes
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX images_owner ON images(owner);
CREATE INDEX images_visibility ON images(visibility);

CREATE TABLE image_members (
  image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  member_id  TEXT NOT NULL,                      -- project id
  status     TEXT NOT NULL DEFAULT 'pending',    -- pending | accepted | rejected
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members(member_id);
