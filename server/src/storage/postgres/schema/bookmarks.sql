-- A user's home: bookmarks (Subsonic createBookmark), one per user and track (as in SQLite).
CREATE TABLE subsonic_bookmarks (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id BIGINT NOT NULL,
    position_ms BIGINT NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, track_id)
);

-- Every home: "now playing" reads each user's latest play among those received lately.
CREATE INDEX play_events_by_received ON play_events (received_at);
