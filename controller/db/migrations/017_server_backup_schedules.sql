-- Backup schedules of servers (issue 18, item 3): a run is Nova's createBackup (a snapshot
-- image of backup_type = the schedule's name or 'scheduled', rotation = keep). SQLite
-- cannot widen a CHECK constraint, so the table is rebuilt (nothing references it by
-- foreign key; volume_backups.schedule_id is a plain column), keeping every row.
-- last_request_id: the request id of the last run's createBackup, to find its instance
-- action and so the reason a failed snapshot gives (Glance's killed image has none).

CREATE TABLE backup_schedules_new (
  id              TEXT PRIMARY KEY,
  project_id      TEXT NOT NULL,               -- the resource's project: its backups are that project's
  resource_type   TEXT NOT NULL CHECK (resource_type IN ('volume', 'server')),
  resource_id     TEXT NOT NULL,               -- no foreign key: a run on a deleted resource is a failure, shown
  name            TEXT,
  cron            TEXT NOT NULL,
  keep            INTEGER NOT NULL CHECK (keep >= 1),
  incremental     INTEGER NOT NULL DEFAULT 0,
  runs            INTEGER NOT NULL DEFAULT 0,
  failures        INTEGER NOT NULL DEFAULT 0,
  last_run_at     TEXT,
  last_status     TEXT,                        -- running | ok | error
  last_backup_id  TEXT,                        -- a volume backup id, or a server backup's image id
  last_request_id TEXT,
  last_error      TEXT,
  last_success_at TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
INSERT INTO backup_schedules_new (id, project_id, resource_type, resource_id, name, cron, keep, incremental, runs, failures,
  last_run_at, last_status, last_backup_id, last_error, last_success_at, created_at, updated_at)
SELECT id, project_id, resource_type, resource_id, name, cron, keep, incremental, runs, failures,
  last_run_at, last_status, last_backup_id, last_error, last_success_at, created_at, updated_at
FROM backup_schedules;
DROP TABLE backup_schedules;
ALTER TABLE backup_schedules_new RENAME TO backup_schedules;
CREATE INDEX backup_schedules_resource ON backup_schedules(resource_type, resource_id);
