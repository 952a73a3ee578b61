//! The recommender's state (item weights, pair weights, neighbour lists) and the catalog reads
//! it scores with. Its pure model is `crate::recommender`; the service is `crate::recs`.

use super::StorageResult;
use serde::{Deserialize, Serialize};

/// Counts and a digest of the recommender's state: equal digests, equal states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecsSummary {
    pub items: u64,
    pub pairs: u64,
    /// Events taken in.
    pub applied: u64,
    pub digest: String,
}

pub trait RecsStore: Send + Sync + 'static {
    // Play events and playlist additions put their queue message in the transaction that stores
    // them (the outbox, `super::queue`).
    /// Takes in a batch of queued events `(key, enqueued at ms, event)` in one transaction,
    /// skipping keys taken in before; returns how many were new.
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64>;
    /// [`Self::recs_apply`], and in the same transaction deletes the queue rows `queued` (the
    /// `recs_queue` seqs the batch was fetched from): for a backend whose event queue is that
    /// table (`EventQueue::acks_with_apply`). Other backends refuse.
    fn recs_apply_acking(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
        queued: &[i64],
    ) -> StorageResult<u64> {
        let _ = (batch, params, now_ms, queued);
        Err(super::StorageError::Config(
            "this backend acknowledges queue messages apart from their work".into(),
        ))
    }
    /// Forgets the recommender's state and takes in the whole event history again.
    fn recs_rebuild(&self, params: &crate::recommender::Params, now_ms: i64) -> StorageResult<u64>;
    /// Each item's weight and neighbours, for scoring.
    fn recs_rows(&self, items: &[i64]) -> StorageResult<crate::recommender::Rows>;
    /// The heaviest items and their weights.
    fn recs_popular(&self, limit: u32) -> StorageResult<Vec<(i64, i64)>>;
    fn recs_content_info(&self, ids: &[i64])
    -> StorageResult<Vec<crate::recommender::ContentInfo>>;
    /// Tracks sharing an artist, album artist or genre with `seed` (up to `per_kind` of each).
    fn recs_content_candidates(
        &self,
        seed: &crate::recommender::ContentInfo,
        per_kind: u32,
    ) -> StorageResult<Vec<crate::recommender::ContentInfo>>;
    fn recs_artist_tracks(&self, artist: i64, limit: u32) -> StorageResult<Vec<i64>>;
    /// Counts and a digest of the recommender's state.
    fn recs_summary(&self) -> StorageResult<RecsSummary>;
}
