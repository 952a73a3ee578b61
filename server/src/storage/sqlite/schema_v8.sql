-- Lyrics of a track (scanner/lyrics.rs), the wire form (`mixtape_shared::api::Lyrics`) as JSON:
-- one row per track that has any, rewritten with its track; gone with it.
CREATE TABLE track_lyrics (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    lyrics TEXT NOT NULL
) STRICT;
