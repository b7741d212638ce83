-- The password a guest posts to the metadata service (openstack/<version>/password,
-- Nova's password_0..3 system metadata): set once, read back by the guest.
CREATE TABLE instance_passwords (
  instance_id TEXT PRIMARY KEY,
  password    TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
