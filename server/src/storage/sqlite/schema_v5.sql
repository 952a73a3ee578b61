-- Playlist writes without replaying the whole op log (findings 7, 13 of the 2026-12 report).

-- Entry ids are scoped to their playlist: another user's playlist holding an id (by chance or
-- on purpose) must not block this one. The table is a cache of the op log, so it is copied.
CREATE TABLE playlist_entries_v5 (
    id TEXT NOT NULL,
    playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    track_id INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (playlist_id, id)
) STRICT;
INSERT INTO playlist_entries_v5 (id, playlist_id, track_id, order_key, added_at)
    SELECT id, playlist_id, track_id, order_key, added_at FROM playlist_entries;
DROP TABLE playlist_entries;
ALTER TABLE playlist_entries_v5 RENAME TO playlist_entries;
CREATE INDEX entries_in_order ON playlist_entries (playlist_id, order_key, id);
CREATE INDEX entries_by_track ON playlist_entries (track_id);

-- The materialized state of each playlist (mixtape_shared::sync::Snapshot as JSON: the state
-- with its tombstones, and the stamp of the last op in it), so an edit applies only its own
-- ops. `base` is the snapshot the log was last compacted into: ops with `folded = 1` are in
-- it, and a rebuild starts there. A playlist without a row is rebuilt from its whole log.
CREATE TABLE playlist_snapshots (
    playlist_id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    base TEXT,
    -- Ops logged since the last compaction, to know when the next one is due.
    unfolded INTEGER NOT NULL
) STRICT;

-- Ops folded into a base keep meaning what they meant through the base. Creates, adds and
-- deletes stay in the log (ownership, the recommender's rebuild and a deleted playlist's
-- history read them); the others leave it, and only their ids stay, so that a replay of one
-- is still recognised and applied at most once.
ALTER TABLE playlist_ops ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX playlist_ops_unfolded ON playlist_ops (playlist_id, folded);
CREATE TABLE playlist_folded_op_ids (
    id TEXT PRIMARY KEY,
    playlist_id TEXT NOT NULL
) STRICT;
