-- An admin's limit on a user's streams, in kb/s (NULL: none). Streams above it are sent as a
-- rendition within it (Subsonic `stream`, `getTranscodeDecision`).
ALTER TABLE users ADD COLUMN max_bitrate_kbps INTEGER CHECK (max_bitrate_kbps > 0);
