-- An admin's limit on a user's streams, in kb/s (NULL: none), read with the credentials from
-- the primary. On a shard's credential-less users rows it stays NULL.
ALTER TABLE users ADD COLUMN max_bitrate_kbps INTEGER CHECK (max_bitrate_kbps > 0);
