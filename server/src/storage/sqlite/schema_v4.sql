-- Ids are never handed out twice (finding 2 and 20): tracks and users become AUTOINCREMENT,
-- tracks can be held back as unavailable, and a really removed track leaves its id behind under
-- its content hash so the same file gets it back.
--
-- A table rebuild (create, copy, drop, rename). The migration runner turns foreign keys off
-- around it and runs `PRAGMA foreign_key_check` before commit, so dropping `users` does not
-- cascade into tokens, playlists, ops and events.

CREATE TABLE tracks_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    format TEXT NOT NULL,
    content_type TEXT NOT NULL,
    title TEXT NOT NULL,
    sort_title TEXT NOT NULL,
    album_id INTEGER REFERENCES albums(id),
    album_artist_id INTEGER REFERENCES artists(id),
    track_number INTEGER,
    track_total INTEGER,
    disc_number INTEGER,
    year INTEGER,
    duration_ms INTEGER NOT NULL,
    bitrate_kbps INTEGER,
    sample_rate INTEGER,
    channels INTEGER,
    rg_track_gain REAL,
    rg_track_peak REAL,
    rg_album_gain REAL,
    rg_album_peak REAL,
    mb_track_id TEXT,
    mb_recording_id TEXT,
    mb_album_id TEXT,
    mb_artist_id TEXT,
    mb_album_artist_id TEXT,
    cover_art TEXT,
    artist_names TEXT NOT NULL,
    artist_ids TEXT NOT NULL,
    genre_names TEXT NOT NULL,
    sort_artist TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    -- 0 while a scan holds back the track's removal (its file is missing, see scanner).
    available INTEGER NOT NULL DEFAULT 1
) STRICT;
INSERT INTO tracks_v4 (id, path, size, mtime_ns, content_hash, format, content_type, title, sort_title,
    album_id, album_artist_id, track_number, track_total, disc_number, year, duration_ms, bitrate_kbps,
    sample_rate, channels, rg_track_gain, rg_track_peak, rg_album_gain, rg_album_peak, mb_track_id,
    mb_recording_id, mb_album_id, mb_artist_id, mb_album_artist_id, cover_art, artist_names, artist_ids,
    genre_names, sort_artist, added_at)
SELECT id, path, size, mtime_ns, content_hash, format, content_type, title, sort_title,
    album_id, album_artist_id, track_number, track_total, disc_number, year, duration_ms, bitrate_kbps,
    sample_rate, channels, rg_track_gain, rg_track_peak, rg_album_gain, rg_album_peak, mb_track_id,
    mb_recording_id, mb_album_id, mb_artist_id, mb_album_artist_id, cover_art, artist_names, artist_ids,
    genre_names, sort_artist, added_at
FROM tracks;
DROP TABLE tracks;
ALTER TABLE tracks_v4 RENAME TO tracks;
CREATE INDEX tracks_by_hash ON tracks (content_hash);
CREATE INDEX tracks_by_album ON tracks (album_id, disc_number, track_number);
CREATE INDEX tracks_by_title ON tracks (sort_title, id);
CREATE INDEX tracks_by_artist ON tracks (sort_artist, id);
CREATE INDEX tracks_by_year ON tracks (year, id);
CREATE INDEX tracks_by_album_artist ON tracks (album_artist_id);
CREATE INDEX tracks_unavailable ON tracks (id) WHERE available = 0;

-- Ids of tracks that were really removed, by content hash: a file with those bytes that comes
-- back later gets its old id, so playlist ops and play events naming it mean the same song.
CREATE TABLE retired_track_ids (
    content_hash TEXT PRIMARY KEY,
    track_id INTEGER NOT NULL UNIQUE
) STRICT;

CREATE TABLE users_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO users_v4 (id, username, password_hash, is_admin, created_at)
SELECT id, username, password_hash, is_admin, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_v4 RENAME TO users;

-- The v3 schema may already have handed out (and freed) ids above today's largest: the change
-- feed keeps a row for every track ever deleted, and other tables keep the ids of deleted users.
-- Start the sequences above all of them.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'tracks', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tracks');
UPDATE sqlite_sequence SET seq = max(seq,
    coalesce((SELECT max(id) FROM tracks), 0),
    coalesce((SELECT max(CAST(item AS INTEGER)) FROM changes WHERE kind = 'track'), 0),
    coalesce((SELECT max(track_id) FROM playlist_entries), 0),
    coalesce((SELECT max(track_id) FROM play_events), 0),
    coalesce((SELECT max(track_id) FROM recs_plays), 0))
WHERE name = 'tracks';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users');
UPDATE sqlite_sequence SET seq = max(seq,
    coalesce((SELECT max(id) FROM users), 0),
    coalesce((SELECT max(user_id) FROM changes), 0),
    coalesce((SELECT max(user_id) FROM recs_plays), 0))
WHERE name = 'users';

-- A deleted user's rows without a foreign key, left behind by the v3 schema.
DELETE FROM changes WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users);
DELETE FROM recs_plays WHERE user_id NOT IN (SELECT id FROM users);
