-- Mixtape embedded schema, version 1.
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT INTO meta (key, value) VALUES ('change_seq', 0);

CREATE TABLE artists (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL UNIQUE,
    album_count INTEGER NOT NULL DEFAULT 0,
    track_count INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE albums (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    sort_title TEXT NOT NULL,
    album_artist_id INTEGER NOT NULL REFERENCES artists(id),
    sort_artist TEXT NOT NULL,
    year INTEGER,
    cover_art TEXT,
    -- Kept up to date by each scan batch so list pages read one row per album.
    track_count INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    genre_names TEXT NOT NULL DEFAULT '',
    added_at INTEGER NOT NULL,
    UNIQUE (album_artist_id, sort_title)
) STRICT;
CREATE INDEX albums_by_title ON albums (sort_title, id);
CREATE INDEX albums_by_year ON albums (year, id);
CREATE INDEX albums_by_artist ON albums (sort_artist, id);

CREATE TABLE genres (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
) STRICT;

CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
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
    -- Display names in tag order, joined with U+001F, so list pages need no join.
    artist_names TEXT NOT NULL,
    artist_ids TEXT NOT NULL,
    genre_names TEXT NOT NULL,
    sort_artist TEXT NOT NULL,
    added_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tracks_by_hash ON tracks (content_hash);
CREATE INDEX tracks_by_album ON tracks (album_id, disc_number, track_number);
CREATE INDEX tracks_by_title ON tracks (sort_title, id);
CREATE INDEX tracks_by_artist ON tracks (sort_artist, id);
CREATE INDEX tracks_by_year ON tracks (year, id);

CREATE TABLE track_artists (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    artist_id INTEGER NOT NULL REFERENCES artists(id),
    PRIMARY KEY (track_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX track_artists_by_artist ON track_artists (artist_id);

CREATE TABLE track_genres (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    genre_id INTEGER NOT NULL REFERENCES genres(id),
    PRIMARY KEY (track_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX track_genres_by_genre ON track_genres (genre_id);

CREATE TABLE art (
    hash TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'embedded')),
    path TEXT NOT NULL
) STRICT;

-- Full-text search over folded text (catalog::fold): trigram tokens give substring and prefix
-- matches; typos are corrected against the vocabulary below (see sqlite/catalog.rs).
CREATE VIRTUAL TABLE track_search USING fts5 (title, artists, album, tokenize = 'trigram remove_diacritics 1');
CREATE VIRTUAL TABLE album_search USING fts5 (title, artist, tokenize = 'trigram remove_diacritics 1');
CREATE VIRTUAL TABLE artist_search USING fts5 (name, tokenize = 'trigram remove_diacritics 1');
-- The vocabulary: every folded word of titles, artists and albums, once. Typos are corrected
-- against it (small) before the catalog tables are searched.
CREATE TABLE search_words (id INTEGER PRIMARY KEY, word TEXT NOT NULL UNIQUE) STRICT;
CREATE VIRTUAL TABLE word_search USING fts5 (word, tokenize = 'trigram');

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;

CREATE TABLE playlists (
    id TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    public INTEGER NOT NULL,
    -- The largest logical clock among the playlist's ops (see mixtape_shared::sync).
    clock INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX playlists_by_owner ON playlists (owner_id);

-- Every playlist op ever accepted, once per op id: a playlist (and its entries) is what
-- mixtape_shared::sync::materialize makes of its ops. Ops of deleted playlists stay, so a late
-- replay is still recognised and still changes nothing.
CREATE TABLE playlist_ops (
    id TEXT PRIMARY KEY,
    playlist_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    clock INTEGER NOT NULL,
    body TEXT NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX playlist_ops_by_playlist ON playlist_ops (playlist_id);

CREATE TABLE playlist_entries (
    id TEXT PRIMARY KEY,
    playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    track_id INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    added_at INTEGER NOT NULL
) STRICT;
CREATE INDEX entries_in_order ON playlist_entries (playlist_id, order_key, id);
CREATE INDEX entries_by_track ON playlist_entries (track_id);

-- The change feed, compacted: one row per item holding the sequence number of its last change.
-- user_id NULL means visible to everyone (catalog); otherwise only to that user.
CREATE TABLE changes (
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    user_id INTEGER,
    seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (kind, item)
) STRICT, WITHOUT ROWID;
CREATE INDEX changes_by_seq ON changes (seq);

-- Play events as clients recorded them, once per client-made id. Recommendations read them.
CREATE TABLE play_events (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    position_ms INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    device TEXT,
    received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX play_events_by_user ON play_events (user_id, at_ms);
