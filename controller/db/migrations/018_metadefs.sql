-- Glance's metadata definitions catalog (/v2/metadefs): namespaces and what they hold.
-- Children follow a namespace's rename (ON UPDATE CASCADE) and go with it (ON DELETE CASCADE).
CREATE TABLE metadef_namespaces (
  namespace    TEXT PRIMARY KEY,                -- the name users address it by (Glance's unique key)
  display_name TEXT,
  description  TEXT,
  visibility   TEXT NOT NULL DEFAULT 'private', -- public | private
  protected    INTEGER NOT NULL DEFAULT 0,
  owner        TEXT,                            -- project
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);

-- The kinds of resource a namespace applies to. Seeded with what Glance's own metadefs
-- files (loaded by glance-manage db_load_metadefs) associate and Homestack serves; an
-- association naming another resource type creates it, as Glance does.
CREATE TABLE metadef_resource_types (
  name       TEXT PRIMARY KEY,
  protected  INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES
  ('OS::Glance::Image', 1, '2026-12-07T00:00:00Z', '2026-12-07T00:00:00Z'),
  ('OS::Cinder::Volume', 1, '2026-12-07T00:00:00Z', '2026-12-07T00:00:00Z'),
  ('OS::Nova::Flavor', 1, '2026-12-07T00:00:00Z', '2026-12-07T00:00:00Z'),
  ('OS::Nova::Server', 1, '2026-12-07T00:00:00Z', '2026-12-07T00:00:00Z');

CREATE TABLE metadef_namespace_resource_types (
  namespace         TEXT NOT NULL REFERENCES metadef_namespaces (namespace) ON UPDATE CASCADE ON DELETE CASCADE,
  resource_type     TEXT NOT NULL REFERENCES metadef_resource_types (name),
  prefix            TEXT,
  properties_target TEXT,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL,
  PRIMARY KEY (namespace, resource_type)
);

CREATE TABLE metadef_objects (
  namespace   TEXT NOT NULL REFERENCES metadef_namespaces (namespace) ON UPDATE CASCADE ON DELETE CASCADE,
  name        TEXT NOT NULL,
  description TEXT,
  required    TEXT,                             -- JSON array of property names, or NULL
  properties  TEXT,                             -- JSON object: name → property definition, or NULL
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (namespace, name)
);

CREATE TABLE metadef_properties (
  namespace  TEXT NOT NULL REFERENCES metadef_namespaces (namespace) ON UPDATE CASCADE ON DELETE CASCADE,
  name       TEXT NOT NULL,
  definition TEXT NOT NULL,                     -- JSON: title, type, enum, ... (Glance's json_schema)
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (namespace, name)
);

CREATE TABLE metadef_tags (
  namespace  TEXT NOT NULL REFERENCES metadef_namespaces (namespace) ON UPDATE CASCADE ON DELETE CASCADE,
  name       TEXT NOT NULL COLLATE NOCASE,        -- Glance: tag names are case insensitive
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (namespace, name)
);
