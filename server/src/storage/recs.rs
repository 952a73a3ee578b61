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

/// A stored trained model (`recs_models`): one row a version, the newest served by every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// Increasing; assigned when stored.
    pub version: i64,
    /// Unix milliseconds.
    pub trained_at_ms: i64,
    /// Events the recommender had taken in when the training data was read.
    pub events: u64,
    pub items: u64,
    /// Listeners and playlists.
    pub rows: u64,
    /// Distinct (row, track) cells.
    pub cells: u64,
    /// Reading the data and fitting, in milliseconds.
    pub train_ms: u64,
    /// Size of the stored factors.
    pub bytes: u64,
}

/// What the trainer fits, read in one snapshot from what the recommender took in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingData {
    /// Events taken in (`recs_applied`) at the snapshot.
    pub events: u64,
    /// `(user, track, finished plays)`, one row per pair.
    pub plays: Vec<(i64, i64, i64)>,
    /// `(playlist, track)` memberships.
    pub playlists: Vec<(String, i64)>,
}

/// Versions kept: the newest, and the one before it while nodes move over.
pub const MODELS_KEPT: i64 = 2;

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
    /// The trainer's input, in one snapshot.
    fn recs_training_data(&self) -> StorageResult<TrainingData>;
    /// Events taken in so far (what the trainer compares with its model's `events`).
    fn recs_events_taken_in(&self) -> StorageResult<u64>;
    /// The newest stored model's description.
    fn recs_model_info(&self) -> StorageResult<Option<ModelInfo>>;
    /// A stored model's bytes (None once it was replaced and pruned).
    fn recs_model(&self, version: i64) -> StorageResult<Option<Vec<u8>>>;
    /// Stores a model as the next version (`info.version` is ignored) and prunes all but the
    /// [`MODELS_KEPT`] newest; returns the version. The trainer writes through its lease
    /// (`FencedWriter::recs_model_put`).
    fn recs_model_put(&self, info: &ModelInfo, data: &[u8]) -> StorageResult<i64>;
}
