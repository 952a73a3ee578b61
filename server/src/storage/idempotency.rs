//! Remembered answers of requests sent with an `Idempotency-Key` (see `crate::idempotency`).
//!
//! The database is the shared truth: every node of a deployment reads and writes the same rows,
//! so a retry that lands on another node finds the first attempt. Rows hold only what a leak
//! cannot turn into access: the key's blake3 (the lookup), a fingerprint keyed with the key, and
//! the answer sealed with a key derived from it. The store compares and keeps bytes; what they
//! mean is the domain module's business.

use super::StorageResult;

/// What a key already has, as found when reserving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key was free (or its record had expired): it is now reserved for this request,
    /// which must end with [`IdempotencyStore::idempotency_complete`] or
    /// [`IdempotencyStore::idempotency_release`].
    Reserved,
    /// Another request holds the key and has not finished (or died without an answer).
    InFlight { fingerprint: Vec<u8> },
    /// A request with this key finished: its sealed answer.
    Done {
        fingerprint: Vec<u8>,
        sealed_answer: Vec<u8>,
    },
}

/// The rows of remembered answers, one per key.
pub trait IdempotencyStore {
    /// Reserves `lookup` for a request with `fingerprint` until `expires_ms`, atomically: of two
    /// nodes reserving the same key at once, exactly one gets [`Reservation::Reserved`]. An
    /// expired record counts as absent (it is replaced).
    fn idempotency_reserve(
        &self,
        lookup: &[u8],
        fingerprint: &[u8],
        now_ms: i64,
        expires_ms: i64,
    ) -> StorageResult<Reservation>;

    /// Stores the answer of the reserved key `lookup`. False when the reservation is gone (it
    /// expired and was purged).
    fn idempotency_complete(&self, lookup: &[u8], sealed_answer: &[u8]) -> StorageResult<bool>;

    /// Forgets a reservation that has no answer (the request failed in a way worth retrying).
    /// A record that has its answer is left alone.
    fn idempotency_release(&self, lookup: &[u8]) -> StorageResult<()>;

    /// Deletes every record that expired at or before `now_ms`; how many went.
    fn idempotency_purge(&self, now_ms: i64) -> StorageResult<u64>;
}
