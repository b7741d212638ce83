-- Cinder's snapshots.progress (a string such as '80%'): what os-update_snapshot_status
-- reports and os-extended-snapshot-attributes:progress shows. NULL: none reported, shown
-- from the status ('100%' when available, '0%' otherwise), as before this column.
ALTER TABLE volume_snapshots ADD COLUMN progress TEXT;
