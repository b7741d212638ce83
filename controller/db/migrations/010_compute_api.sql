-- Compute API microversions 2.7–2.30: server tags (2.26) and forced-down services (2.11).
CREATE TABLE server_tags (
  instance_id   TEXT NOT NULL,
  tag           TEXT NOT NULL,
  PRIMARY KEY (instance_id, tag)
);
CREATE INDEX server_tags_tag ON server_tags(tag);
-- os-services force-down (compute microversion 2.11): an operator marks a host's
-- compute service down at once (before its heartbeats run out), e.g. to evacuate.
ALTER TABLE hosts ADD COLUMN forced_down INTEGER NOT NULL DEFAULT 0;
