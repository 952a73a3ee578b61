-- Answers remembered for requests sent with an Idempotency-Key (server/src/idempotency.rs),
-- shared by every node: a retry on another node gets the first answer instead of repeating the
-- edit. `lookup` is blake3 of the key, `fingerprint` a hash of the request keyed with the key,
-- `answer` the response sealed with a key derived from the key (NULL while the first request
-- runs): the key itself is never stored, so a leaked row gives out no login token.
CREATE TABLE idempotency_keys (
    lookup BYTEA PRIMARY KEY,
    fingerprint BYTEA NOT NULL,
    answer BYTEA,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_ms);
