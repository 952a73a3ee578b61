//! Leases: work that must run on exactly one node at a time (the scanner with its watcher, the
//! recommendation applier) runs only while that node holds the work's lease.
//!
//! A lease is only as good as its fencing: a node that lost its lease (a network cut, a stall)
//! must not be able to commit afterwards. So the lease does the work's writes itself
//! ([`FencedWriter`]): on PostgreSQL the lease is a session advisory lock and the writes run on
//! that same session, so losing the session loses the lock and fails the write together. The
//! embedded backend is owned by one process: its lease is always granted.
//!
//! Not part of [`Store`]: only the leader loop (`crate::leader`) and the scanner use it.

use super::{BatchOutcome, ScanWrite, StorageResult, Store};
use mixtape_shared::api::ScanStatus;
use std::sync::Arc;

/// Work that runs on one node at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// The scanner: the initial full scan, the watcher's scoped scans, requested scans.
    Scan,
    /// The recommendation applier (the event queue's one active consumer).
    Recs,
}

impl Work {
    pub const ALL: [Work; 2] = [Work::Scan, Work::Recs];

    /// The name stored with the lease (`leases.work`).
    pub fn name(self) -> &'static str {
        match self {
            Work::Scan => "scan",
            Work::Recs => "recs",
        }
    }
}

/// A full scan asked of the scan leader by another node (`POST /api/v1/scan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// Increasing; 0 until stored.
    pub id: i64,
    /// Carry out removals that look like a missing disk (the admin confirmed them).
    pub confirm_removals: bool,
    /// The node that took the request.
    pub node: String,
    /// Unix milliseconds.
    pub requested_at: i64,
}

/// The scan status the scan leader last published.
#[derive(Debug, Clone)]
pub struct PublishedStatus {
    /// The node that published it.
    pub node: String,
    pub status: ScanStatus,
    /// The newest request the leader has started a scan for (or covered by one).
    pub served_request: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// The writes of leased work. Each runs in its own transaction, like the [`Store`] method of the
/// same name (same contract), but only while the lease is held: through a lost lease it fails
/// and commits nothing.
pub trait FencedWriter: Send + Sync {
    /// See [`super::CatalogStore::apply_scan_batch`].
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome>;
    /// See [`super::CatalogStore::prune_orphans`].
    fn prune_orphans(&self) -> StorageResult<()>;
    /// See [`super::RecsStore::recs_apply`].
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64>;
    /// See [`super::RecsStore::recs_apply_acking`].
    fn recs_apply_acking(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
        queued: &[i64],
    ) -> StorageResult<u64> {
        let _ = (batch, params, now_ms, queued);
        Err(super::StorageError::Config(
            "this lease acknowledges queue messages apart from their work".into(),
        ))
    }
    /// See [`super::RecsStore::recs_model_put`]: one trainer, the recs lease's holder.
    fn recs_model_put(&self, info: &super::ModelInfo, data: &[u8]) -> StorageResult<i64>;
}

/// A held lease. Dropping it gives the lease up.
pub trait Lease: FencedWriter {
    fn work(&self) -> Work;
    /// Whether the lease is still held; once false it stays false (take a new lease).
    /// Checks the connection, so it may take a round trip.
    fn is_held(&self) -> bool;
    /// Publishes the scan status for the other nodes (through the lease, so a node that lost
    /// the lease cannot overwrite its successor's status).
    /// `served_request`: the newest request a scan was started for (see [`PublishedStatus`]).
    fn publish_scan_status(&self, status: &ScanStatus, served_request: i64) -> StorageResult<()>;
    /// Takes the pending scan requests, oldest first; they are gone once this returns.
    fn take_scan_requests(&self) -> StorageResult<Vec<ScanRequest>>;
}

/// Where leases are taken and the scan leader is reached.
pub trait LeaseStore: Send + Sync + 'static {
    /// Whether other nodes may share the database (then a node leads only with the lease).
    fn is_shared(&self) -> bool;
    /// Takes `work`'s lease for `node`, or None while another node holds it. Never blocks on
    /// the holder. (Takes the `Arc` so the lease can keep its store alive.)
    fn try_lease(self: Arc<Self>, work: Work, node: &str) -> StorageResult<Option<Arc<dyn Lease>>>;
    /// The node holding `work`'s lease now, None when no node does (or the backend keeps no
    /// shared record: the embedded backend's one process is the leader).
    fn lease_holder(&self, work: Work) -> StorageResult<Option<String>>;
    /// The scan status the scan leader last published, if any.
    fn published_scan_status(&self) -> StorageResult<Option<PublishedStatus>>;
    /// Queues a full scan for the scan leader, which takes requests between scans; returns the
    /// request's id.
    fn request_scan(&self, request: &ScanRequest) -> StorageResult<i64>;
}

/// A store's own writes, with no fencing: the embedded backend (one process owns the file),
/// benchmarks and tests. `S` is anything that derefs to a store (`&dyn Store`, `Arc<..>`).
pub struct Unfenced<S>(pub S);

impl<S, D> FencedWriter for Unfenced<S>
where
    S: std::ops::Deref<Target = D> + Send + Sync,
    D: Store + ?Sized,
{
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        self.0.apply_scan_batch(writes)
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        self.0.prune_orphans()
    }
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        self.0.recs_apply(batch, params, now_ms)
    }
    fn recs_apply_acking(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
        queued: &[i64],
    ) -> StorageResult<u64> {
        self.0.recs_apply_acking(batch, params, now_ms, queued)
    }
    fn recs_model_put(&self, info: &super::ModelInfo, data: &[u8]) -> StorageResult<i64> {
        self.0.recs_model_put(info, data)
    }
}

/// Unix milliseconds now.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
