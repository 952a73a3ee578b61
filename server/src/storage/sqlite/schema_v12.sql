-- Search runs on the in-memory index (shared::search), built from these folded rows. The FTS5
-- trigram indexes over them and the typo vocabulary (search_words, word_search) were kept up to
-- date by every scan (a tenth of the scanner's writer time) and read by nothing: the rows move
-- to plain tables under the same rowids, and the vocabulary goes.
CREATE TABLE track_search_rows (id INTEGER PRIMARY KEY, title TEXT, artists TEXT, album TEXT);
INSERT INTO track_search_rows (id, title, artists, album) SELECT rowid, title, artists, album FROM track_search;
DROP TABLE track_search;
ALTER TABLE track_search_rows RENAME TO track_search;

CREATE TABLE album_search_rows (id INTEGER PRIMARY KEY, title TEXT, artist TEXT);
INSERT INTO album_search_rows (id, title, artist) SELECT rowid, title, artist FROM album_search;
DROP TABLE album_search;
ALTER TABLE album_search_rows RENAME TO album_search;

CREATE TABLE artist_search_rows (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO artist_search_rows (id, name) SELECT rowid, name FROM artist_search;
DROP TABLE artist_search;
ALTER TABLE artist_search_rows RENAME TO artist_search;

DROP TABLE word_search;
DROP TABLE search_words;
