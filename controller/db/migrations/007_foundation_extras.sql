-- Durable dispatch: what is needed to (re)send an operation after a controller
-- restart without knowing its route descriptor, and the API request it came from.
ALTER TABLE operations ADD COLUMN method TEXT NOT NULL DEFAULT 'POST';
ALTER TABLE operations ADD COLUMN path TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 30000;
ALTER TABLE operations ADD COLUMN request_id TEXT;
CREATE INDEX operations_host ON operations(host_id, state);
CREATE UNIQUE INDEX hosts_credential ON hosts(credential_hash);
