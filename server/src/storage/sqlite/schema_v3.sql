-- Recommendations: the durable event queue and the recommender's state.

-- The queue (an outbox): one row per message, inserted in the transaction that accepted the
-- event, deleted when the worker acknowledges it (after its work committed). `not_before_ms`
-- delays a retry; `attempts` counts failed deliveries.
CREATE TABLE recs_queue (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
) STRICT;

-- Messages that failed every retry: kept for the admin to inspect, never redelivered by itself.
CREATE TABLE recs_dead_letters (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    dead_at_ms INTEGER NOT NULL
) STRICT;

-- Every message the recommender took in, by its key (the event or op id): a redelivery of one of
-- these changes nothing. Written in the same transaction as the model's update.
CREATE TABLE recs_applied (
    key TEXT PRIMARY KEY,
    enqueued_at_ms INTEGER NOT NULL,
    applied_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Positive plays taken in, to pair a new play with the same user's plays in its time window.
CREATE TABLE recs_plays (
    user_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    key TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    weight INTEGER NOT NULL,
    PRIMARY KEY (user_id, at_ms, key)
) STRICT, WITHOUT ROWID;

-- Playlist memberships taken in (additions only), to pair a new entry with its playlist's tracks.
CREATE TABLE recs_playlist_items (
    playlist_id TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    PRIMARY KEY (playlist_id, track_id)
) STRICT, WITHOUT ROWID;

-- The model (server/src/recs/model.rs): each item's weight (sum of squared event weights) and
-- the co-occurrence weight of each pair, stored in both directions.
CREATE TABLE recs_items (
    item INTEGER PRIMARY KEY,
    weight INTEGER NOT NULL
) STRICT;
CREATE INDEX recs_items_by_weight ON recs_items (weight DESC, item);

CREATE TABLE recs_pairs (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    weight INTEGER NOT NULL,
    PRIMARY KEY (a, b)
) STRICT, WITHOUT ROWID;

-- Each item's candidate neighbours: its `Params::candidates` heaviest pairs (weight, then b),
-- kept by the worker as pairs grow (`recs::model::top_update`), so a read of an item's
-- neighbours is bounded. Always equal to the best of `recs_pairs` for `a`.
CREATE TABLE recs_top (
    a INTEGER NOT NULL,
    co INTEGER NOT NULL,
    b INTEGER NOT NULL,
    PRIMARY KEY (a, co DESC, b)
) STRICT, WITHOUT ROWID;

-- Content similarity's candidates by album artist (`recs::content_candidates`): without it that
-- query scans every track (about 20 ms at 100k tracks).
CREATE INDEX tracks_by_album_artist ON tracks (album_artist_id);
