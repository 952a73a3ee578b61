-- Answers remembered for requests sent with an Idempotency-Key (server/src/idempotency.rs), so a
-- retry gets the first answer instead of repeating the edit. `lookup` is blake3 of the key,
-- `fingerprint` a hash of the request keyed with the key, `answer` the response sealed with a
-- key derived from the key (NULL while the first request runs): the client's key, never stored,
-- is needed to read any of it, so a leaked row gives out no login token.
CREATE TABLE idempotency_keys (
    lookup BLOB PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    answer BLOB,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_ms);
