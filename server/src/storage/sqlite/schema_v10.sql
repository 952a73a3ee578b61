-- The batch-trained recommender (crate::recs::als): one row per stored version, the factors as
-- one blob (`Factors::encode`: header, items, vectors, checksum). The trainer (on the recs
-- lease's holder) writes the next version and prunes all but the two newest; every node serves
-- the newest. Nothing references it: losing it only means training again.
CREATE TABLE recs_models (
    version INTEGER PRIMARY KEY,
    trained_at_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    items INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    cells INTEGER NOT NULL,
    train_ms INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    data BLOB NOT NULL
) STRICT;
