-- Identity (Keystone v3): domains, projects, users, groups, roles, assignments, the
-- catalog, application credentials and token revocations. Ids are Keystone-style
-- 32-hex strings, except the Default domain ('default') and regions (their name).
CREATE TABLE domains (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  enabled     INTEGER NOT NULL DEFAULT 1,
  tags        TEXT NOT NULL DEFAULT '[]',   -- JSON array
  options     TEXT NOT NULL DEFAULT '{}',   -- JSON object
  extra       TEXT NOT NULL DEFAULT '{}',   -- JSON object: other attributes, echoed
  created_at  TEXT NOT NULL
);

CREATE TABLE projects (
  id          TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  parent_id   TEXT REFERENCES projects(id), -- NULL: top level (Keystone shows the domain id)
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  enabled     INTEGER NOT NULL DEFAULT 1,
  tags        TEXT NOT NULL DEFAULT '[]',
  options     TEXT NOT NULL DEFAULT '{}',
  extra       TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL,
  UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects(parent_id);

CREATE TABLE users (
  id                 TEXT PRIMARY KEY,
  domain_id          TEXT NOT NULL REFERENCES domains(id),
  name               TEXT NOT NULL,
  enabled            INTEGER NOT NULL DEFAULT 1,
  password_hash      TEXT,                -- scrypt$N$r$p$salt$hash; NULL: no password login
  default_project_id TEXT,
  options            TEXT NOT NULL DEFAULT '{}',
  extra              TEXT NOT NULL DEFAULT '{}', -- email, description...
  failed_auth_count  INTEGER NOT NULL DEFAULT 0,
  failed_auth_at     INTEGER,             -- epoch ms of the last failure (lockout)
  created_at         TEXT NOT NULL,
  UNIQUE (domain_id, name)
);

CREATE TABLE groups (
  id          TEXT PRIMARY KEY,
  domain_id   TEXT NOT NULL REFERENCES domains(id),
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  extra       TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL,
  UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE roles (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  domain_id   TEXT,                         -- NULL: global role
  description TEXT,
  options     TEXT NOT NULL DEFAULT '{}',   -- {"immutable": true} for the bootstrap roles
  extra       TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles(IFNULL(domain_id, ''), name);

CREATE TABLE implied_roles (
  prior_role_id   TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  implied_role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (prior_role_id, implied_role_id)
);

-- actor: a user or a group; target: a project or a domain (no FK: polymorphic;
-- deletes cascade in code inside the same transaction).
CREATE TABLE role_assignments (
  actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
  actor_id    TEXT NOT NULL,
  target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain')),
  target_id   TEXT NOT NULL,
  role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id)
);
CREATE INDEX role_assignments_target ON role_assignments(target_type, target_id);
CREATE INDEX role_assignments_role ON role_assignments(role_id);

CREATE TABLE catalog_regions (
  id               TEXT PRIMARY KEY,
  description      TEXT NOT NULL DEFAULT '',
  parent_region_id TEXT REFERENCES catalog_regions(id),
  extra            TEXT NOT NULL DEFAULT '{}',
  created_at       TEXT NOT NULL
);

CREATE TABLE catalog_services (
  id          TEXT PRIMARY KEY,
  type        TEXT NOT NULL,
  name        TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  enabled     INTEGER NOT NULL DEFAULT 1,
  extra       TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL
);

CREATE TABLE catalog_endpoints (
  id         TEXT PRIMARY KEY,
  service_id TEXT NOT NULL REFERENCES catalog_services(id) ON DELETE CASCADE,
  interface  TEXT NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
  region_id  TEXT REFERENCES catalog_regions(id),
  url        TEXT NOT NULL,
  enabled    INTEGER NOT NULL DEFAULT 1,
  extra      TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE INDEX catalog_endpoints_service ON catalog_endpoints(service_id);

CREATE TABLE app_credentials (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  description  TEXT,
  secret_hash  TEXT NOT NULL,             -- scrypt, like passwords; the secret is shown once
  unrestricted INTEGER NOT NULL DEFAULT 0,
  expires_at   INTEGER,                   -- epoch ms; NULL: never
  roles        TEXT NOT NULL DEFAULT '[]', -- JSON array of role ids
  created_at   TEXT NOT NULL,
  UNIQUE (user_id, name)
);

-- Token revocations, the only table token validation reads (cached in memory).
-- kind 'audit': value = audit id; 'user'/'project': tokens of value issued at or
-- before revoked_at (epoch ms). Rows are pruned once no token they cover can be valid.
CREATE TABLE token_revocations (
  kind       TEXT NOT NULL CHECK (kind IN ('audit', 'user', 'project')),
  value      TEXT NOT NULL,
  revoked_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (kind, value)
);
CREATE INDEX token_revocations_expiry ON token_revocations(expires_at);
