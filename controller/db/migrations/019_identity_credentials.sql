-- Keystone's credentials API (/v3/credentials, and OS-EC2 user credentials, which are
-- credentials of type 'ec2' whose id is sha256(access)), and its policies API
-- (/v3/policies: opaque blobs stored for other services, as Keystone keeps them).
CREATE TABLE credentials (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  blob       TEXT NOT NULL,              -- as sent (a JSON text for 'ec2': access, secret, trust_id)
  extra      TEXT NOT NULL DEFAULT '{}', -- JSON object: other attributes, echoed
  created_at TEXT NOT NULL
);
CREATE INDEX credentials_user ON credentials(user_id);

CREATE TABLE policies (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  blob       TEXT NOT NULL,
  extra      TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);

-- Application credential expiry in microseconds (was milliseconds): Keystone keeps
-- microseconds and echoes expires_at as sent ("2026-12-07T10:48:35.042057").
UPDATE app_credentials SET expires_at = expires_at * 1000 WHERE expires_at IS NOT NULL;

-- OS-EP-FILTER endpoint groups: a name and filters (interface, service_id, region_id)
-- selecting endpoints. Associations with projects (catalog filtering) are not built yet.
CREATE TABLE endpoint_groups (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT,
  filters     TEXT NOT NULL DEFAULT '{}',   -- JSON object
  extra       TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL
);
