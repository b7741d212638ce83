-- Identity backends per domain (Keystone's domain-specific drivers): a domain reads its
-- users and groups from SQL (no row here) or from an LDAP directory, read-only.
CREATE TABLE identity_domain_configs (
  domain_id  TEXT PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
  driver     TEXT NOT NULL CHECK (driver IN ('ldap')),
  config     TEXT NOT NULL,          -- JSON, shared/config/identity-ldap.ts (no secrets: files hold them)
  updated_at TEXT NOT NULL
);

-- Keystone's id_mapping: the public id of a directory entry is
-- sha256(domain_id || entity_type || local_id) in hex (Keystone's sha256 generator), so
-- it is stable across restarts, re-reads and even a dropped and re-added configuration.
-- The row is what turns a public id back into the domain and the directory's own id.
CREATE TABLE id_mapping (
  public_id   TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
  local_id    TEXT NOT NULL,
  entity_type TEXT NOT NULL CHECK (entity_type IN ('user', 'group')),
  UNIQUE (domain_id, local_id, entity_type)
);
-- Directory users and groups are also shadowed in `users` and `groups` (Keystone's
-- nonlocal users: application credentials reference users(id)), with the directory's
-- group membership of each user who signed in in `group_members`, as last read: what
-- token validation, which never waits on the network, resolves roles from.
