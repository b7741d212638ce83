-- Interoperable image import (Glance v2.6+) and more than one image store (v2.8+).
-- The stores that hold each image's bytes, all under the same key (store_key):
-- a JSON array of store ids, e.g. ["fs"]; empty while the image has no data.
ALTER TABLE images ADD COLUMN stores TEXT NOT NULL DEFAULT '[]';
UPDATE images SET stores = '["fs"]' WHERE store_key IS NOT NULL;
-- The import in progress and its outcome per store (Glance's os_glance_import_task,
-- os_glance_importing_to_stores and os_glance_failed_import, comma-separated store
-- ids): columns of their own, so that only the import changes them (users may not set
-- os_glance_* properties) and an edit of the image's properties cannot race them.
-- NULL until the image's first import.
ALTER TABLE images ADD COLUMN import_task TEXT;
ALTER TABLE images ADD COLUMN importing_stores TEXT;
ALTER TABLE images ADD COLUMN failed_stores TEXT;

-- Glance's tasks, as GET /v2/images/{id}/tasks shows them (one per import request).
CREATE TABLE image_tasks (
  id         TEXT PRIMARY KEY,                 -- uuid
  type       TEXT NOT NULL,                    -- api_image_import
  status     TEXT NOT NULL,                    -- pending | processing | success | failure
  owner      TEXT,                             -- project of the caller
  image_id   TEXT NOT NULL,                    -- no foreign key: the task outlives a deleted image until it expires
  user_id    TEXT,
  request_id TEXT,
  input      TEXT NOT NULL DEFAULT '{}',       -- JSON: image_id, import_req, backend
  result     TEXT,                             -- JSON or NULL
  message    TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expires_at TEXT                              -- set when the task ends
);
CREATE INDEX image_tasks_image ON image_tasks(image_id);
