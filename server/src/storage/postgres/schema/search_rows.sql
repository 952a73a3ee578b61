-- Search runs on the in-memory index (shared::search), built from the folded rows of
-- track_search, album_search and artist_search. Their trigram GIN indexes (and the generated
-- `doc` columns they index) and the typo vocabulary were kept up to date by every scan and read
-- by nothing.
DROP INDEX IF EXISTS track_search_doc;
DROP INDEX IF EXISTS album_search_doc;
DROP INDEX IF EXISTS artist_search_doc;
ALTER TABLE track_search DROP COLUMN IF EXISTS doc;
ALTER TABLE album_search DROP COLUMN IF EXISTS doc;
ALTER TABLE artist_search DROP COLUMN IF EXISTS doc;
DROP TABLE IF EXISTS search_words;
