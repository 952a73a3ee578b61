-- The batch-trained recommender (crate::recs::als): one row per stored version, the factors as
-- one value (`Factors::encode`: header, items, vectors, checksum). Mirrors SQLite's schema_v9.
-- The trainer (the recs lease's holder) writes the next version through its lease and prunes
-- all but the two newest; every node serves the newest.
CREATE TABLE recs_models (
    version BIGINT PRIMARY KEY,
    trained_at_ms BIGINT NOT NULL,
    events BIGINT NOT NULL,
    items BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    cells BIGINT NOT NULL,
    train_ms BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    data BYTEA NOT NULL
);
