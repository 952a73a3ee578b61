-- Mixtape on PostgreSQL: what every domain shares. `meta` holds the counters: `change_seq`
-- (the change feed's sequence, allocated as the last statement of a transaction) and
-- `catalog_gen` (bumped by every catalog write; nodes key their page caches by it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('catalog_gen', 0);

-- One row per item (compacted): its latest change.
CREATE TABLE changes (
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    user_id BIGINT,
    seq BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    PRIMARY KEY (kind, item)
);
CREATE INDEX changes_by_seq ON changes (seq);
CREATE INDEX changes_by_user_seq ON changes (user_id, seq);
