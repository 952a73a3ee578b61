-- OpenSubsonic: per-user state that Subsonic clients keep on the server.

-- Stars (favourites): kind is 'track', 'album' or 'artist'; item is that catalog id. No foreign
-- key to the catalog: a track keeps its id across rescans, and a star on something that vanished
-- is simply not listed.
CREATE TABLE subsonic_stars (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
    item INTEGER NOT NULL,
    starred_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, item)
) STRICT, WITHOUT ROWID;

-- Ratings 1-5 (setRating with 0 deletes the row).
CREATE TABLE subsonic_ratings (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
    item INTEGER NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    rated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, item)
) STRICT, WITHOUT ROWID;

-- The play queue a client saved (savePlayQueue), one per user; track ids in queue order,
-- comma-separated.
CREATE TABLE subsonic_play_queues (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    track_ids TEXT NOT NULL,
    current_track INTEGER,
    position_ms INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT NOT NULL
) STRICT;

-- A user's Subsonic app password, for token auth (md5(password + salt) needs it in clear):
-- sealed with XChaCha20-Poly1305 under a key kept in the data folder (subsonic.key), never in
-- this database. Login passwords are never stored reversibly.
CREATE TABLE subsonic_app_passwords (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
