-- Bookmarks (Subsonic createBookmark): a position a user keeps in a track, one per user and
-- track; gone with the user. Track ids are not foreign keys, as in the play queue: a rescan
-- that drops a track leaves the bookmark, which reads skip.
CREATE TABLE subsonic_bookmarks (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    track_id INTEGER NOT NULL,
    position_ms INTEGER NOT NULL,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, track_id)
) STRICT, WITHOUT ROWID;

-- "Now playing" reads each user's latest play among those received in the last hours.
CREATE INDEX play_events_by_received ON play_events (received_at);
