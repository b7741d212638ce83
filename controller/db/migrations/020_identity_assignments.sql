-- Role assignments on the system (Keystone's system scope: target 'system', id 'all')
-- and OS-INHERIT inherited assignments (inherited = 1: the role applies to the projects
-- below the target, a domain's projects or a project's subtree, not to the target).
CREATE TABLE role_assignments_020 (
  actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'group')),
  actor_id    TEXT NOT NULL,
  target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain', 'system')),
  target_id   TEXT NOT NULL,
  role_id     TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  inherited   INTEGER NOT NULL DEFAULT 0 CHECK (inherited IN (0, 1)),
  PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
INSERT INTO role_assignments_020 (actor_type, actor_id, target_type, target_id, role_id)
  SELECT actor_type, actor_id, target_type, target_id, role_id FROM role_assignments;
DROP TABLE role_assignments;
ALTER TABLE role_assignments_020 RENAME TO role_assignments;
CREATE INDEX role_assignments_target ON role_assignments(target_type, target_id);
CREATE INDEX role_assignments_role ON role_assignments(role_id);
