-- Every place a piece of cover art was found, not only the last one scanned: the same image in
-- two folders (a copied album, CD1/CD2 with one cover.jpg) keeps serving from the other when
-- one copy is removed. `art.kind`/`art.path` stay as the latest source. Sources are pruned with
-- the orphans: an embedded one when its track is gone, a folder one when no track of its
-- folder uses that image. Independent of schema v4/v5.
CREATE TABLE art_sources (
    hash TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'embedded')),
    path TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (hash, kind, path)
) STRICT, WITHOUT ROWID;
INSERT INTO art_sources (hash, kind, path, seen_at) SELECT hash, kind, path, 0 FROM art;
-- The pruning above looks up the tracks that use an image.
CREATE INDEX tracks_by_cover_art ON tracks (cover_art);
