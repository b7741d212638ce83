-- Backup schedules (issue 18, item 3; a Homestack extension: OpenStack has none built in).
-- The controller runs each with node-cron; a run is an ordinary backup (POST /backups's
-- path) tagged with its schedule, so retention only ever deletes what a schedule made.

CREATE TABLE backup_schedules (
  id              TEXT PRIMARY KEY,
  project_id      TEXT NOT NULL,               -- the volume's project: its backups are that project's
  resource_type   TEXT NOT NULL CHECK (resource_type IN ('volume')),
  resource_id     TEXT NOT NULL,               -- no foreign key: a run on a deleted volume is a failure, shown
  name            TEXT,
  cron            TEXT NOT NULL,               -- node-cron expression (5 fields, or 6 with seconds)
  keep            INTEGER NOT NULL CHECK (keep >= 1),
  incremental     INTEGER NOT NULL DEFAULT 0,
  runs            INTEGER NOT NULL DEFAULT 0,
  failures        INTEGER NOT NULL DEFAULT 0,
  last_run_at     TEXT,
  last_status     TEXT,                        -- running | ok | error
  last_backup_id  TEXT,
  last_error      TEXT,                        -- why the last run failed (the backup's fail_reason, or the refusal)
  last_success_at TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX backup_schedules_resource ON backup_schedules(resource_type, resource_id);

-- The schedule that made a backup (null: made by hand).
ALTER TABLE volume_backups ADD COLUMN schedule_id TEXT;
CREATE INDEX volume_backups_schedule ON volume_backups(schedule_id);
