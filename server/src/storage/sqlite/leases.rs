//! Leases on the embedded backend: one process owns the database file, so it holds every lease
//! and nothing is shared (scan status and requests stay in-process, in the scanner).

use super::SqliteStore;
use crate::storage::leases::*;
use crate::storage::{BatchOutcome, ScanWrite, StorageError, StorageResult};
use mixtape_shared::api::ScanStatus;
use std::sync::Arc;

/// Always held: the store's own writes.
struct SqliteLease {
    work: Work,
    writer: Unfenced<Arc<SqliteStore>>,
}

impl FencedWriter for SqliteLease {
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        self.writer.apply_scan_batch(writes)
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        self.writer.prune_orphans()
    }
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        self.writer.recs_apply(batch, params, now_ms)
    }
    fn recs_model_put(&self, info: &crate::storage::ModelInfo, data: &[u8]) -> StorageResult<i64> {
        self.writer.recs_model_put(info, data)
    }
}

impl Lease for SqliteLease {
    fn work(&self) -> Work {
        self.work
    }
    fn is_held(&self) -> bool {
        true
    }
    fn publish_scan_status(&self, _status: &ScanStatus, _served: i64) -> StorageResult<()> {
        Ok(())
    }
    fn take_scan_requests(&self) -> StorageResult<Vec<ScanRequest>> {
        Ok(Vec::new())
    }
}

impl LeaseStore for SqliteStore {
    fn is_shared(&self) -> bool {
        false
    }
    fn try_lease(
        self: Arc<Self>,
        work: Work,
        _node: &str,
    ) -> StorageResult<Option<Arc<dyn Lease>>> {
        Ok(Some(Arc::new(SqliteLease {
            work,
            writer: Unfenced(self),
        })))
    }
    fn lease_holder(&self, _work: Work) -> StorageResult<Option<String>> {
        Ok(None)
    }
    fn published_scan_status(&self) -> StorageResult<Option<PublishedStatus>> {
        Ok(None)
    }
    fn request_scan(&self, _request: &ScanRequest) -> StorageResult<i64> {
        // The scanner of the one process always leads; nothing reaches here.
        Err(StorageError::Config(
            "the embedded database has no other node to ask for a scan".into(),
        ))
    }
}
