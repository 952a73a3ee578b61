-- What users do with the catalog: play events, stars, ratings, the saved play queue. Mirrors
-- the final SQLite tables (schema_v1, v2). No foreign keys to the catalog: ids outlive rescans.
CREATE TABLE play_events (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    position_ms BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    device TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX play_events_by_user ON play_events (user_id, at_ms);
-- Play counts per track and album (annotations, album lists).
CREATE INDEX play_events_by_user_track ON play_events (user_id, track_id);

CREATE TABLE subsonic_stars (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
    item BIGINT NOT NULL,
    starred_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, item)
);

CREATE TABLE subsonic_ratings (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
    item BIGINT NOT NULL,
    rating BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    rated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, item)
);

-- Track ids in queue order, comma-separated (as in SQLite).
CREATE TABLE subsonic_play_queues (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    track_ids TEXT NOT NULL,
    current_track BIGINT,
    position_ms BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    changed_by TEXT NOT NULL
);
