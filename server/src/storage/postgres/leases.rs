//! Leases on PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection taken
//! out of the primary pool and kept while the lease is held. The leased work's writes run on
//! that connection ([`PgLease::write`]): if the session dies, the lock is gone and so is the
//! transaction in flight, so a node that lost its lease cannot commit (fencing by the session,
//! research note §1.1 "Scanner").

use super::{ChangeSet, PgStore};
use crate::storage::leases::*;
use crate::storage::{BatchOutcome, ScanWrite, StorageError, StorageResult};
use mixtape_shared::api::ScanStatus;
use postgres::NoTls;
use postgres::Transaction;
use r2d2_postgres::PostgresConnectionManager;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Connection = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// Advisory lock keys, next to [`super::MIGRATION_LOCK`] and clear of the transaction-scoped
/// keys the domains take.
pub const SCAN_LEASE: i64 = 0x6d69_7874_0102;
pub const RECS_LEASE: i64 = 0x6d69_7874_0103;

fn key(work: Work) -> i64 {
    match work {
        Work::Scan => SCAN_LEASE,
        Work::Recs => RECS_LEASE,
    }
}

/// How long a liveness check waits before calling the lease lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct PgLease {
    work: Work,
    store: Arc<PgStore>,
    /// The session holding the lock; None once lost (a broken connection is not returned to
    /// the pool: r2d2 drops closed clients).
    conn: Mutex<Option<Connection>>,
    node: String,
    /// The session's backend pid (`leases.pid`).
    pid: i32,
}

impl PgLease {
    /// The backend pid of the lease's session.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    fn lost_error(&self) -> StorageError {
        StorageError::LeaseLost(self.work.name())
    }

    /// Runs `f` as one write transaction on the lease's session (see [`super::write_on`]).
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>, &mut ChangeSet) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let Some(conn) = guard.as_mut() else {
            return Err(self.lost_error());
        };
        let out = super::write_on(conn, self.store.commit_delay, f);
        // A failed write may be the session's end (the error can come before the client
        // notices the connection closed: ask it).
        if out.is_err() && (conn.is_closed() || conn.is_valid(CHECK_TIMEOUT).is_err()) {
            self.give_up(&mut guard);
            tracing::warn!(work = self.work.name(), "lease lost: its connection closed");
            return Err(self.lost_error());
        }
        out
    }

    /// Drops the session. One that is not closed (it stopped answering) may still hold the
    /// lock, and the pool would hand it out again: end it from another connection first.
    fn give_up(&self, guard: &mut Option<Connection>) {
        let Some(conn) = guard.take() else {
            return;
        };
        if conn.is_closed() {
            return;
        }
        let ended = self.store.primary_connection().and_then(|mut other| {
            other.execute("SELECT pg_terminate_backend($1)", &[&self.pid])?;
            Ok(())
        });
        if let Err(e) = ended {
            // Then the primary is unreachable; the session ends with its TCP connection.
            tracing::warn!(error = %e, pid = self.pid, "cannot end a lost lease's session");
        }
    }
}

/// The leased work's writes run on the lease's own session: if it died, the lock is gone and
/// so is the transaction, so a node that lost its lease cannot commit a scan batch or a recs
/// batch, even one started before the loss.
impl FencedWriter for PgLease {
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        let ((outcome, touched), generation) = self.write(|tx, changes| {
            let (outcome, touched) = super::scan::apply_batch(tx, changes, writes)?;
            Ok(((outcome, touched), super::bump_generation(tx)?))
        })?;
        self.store.saw_generation(generation);
        self.store.touch_shard_playlists(&touched)?;
        Ok(outcome)
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        let generation = self.write(|tx, _| {
            super::scan::prune_orphans(tx)?;
            super::bump_generation(tx)
        })?;
        self.store.saw_generation(generation);
        Ok(())
    }
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        self.write(|tx, _| super::recs::apply(tx, batch, params, now_ms))
    }
    fn recs_apply_acking(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
        queued: &[i64],
    ) -> StorageResult<u64> {
        self.write(|tx, _| super::recs::apply_acking(tx, batch, params, now_ms, queued))
    }
    fn recs_model_put(&self, info: &crate::storage::ModelInfo, data: &[u8]) -> StorageResult<i64> {
        self.write(|tx, _| super::recs::models::put(tx, info, data))
    }
}

impl Lease for PgLease {
    fn work(&self) -> Work {
        self.work
    }

    fn is_held(&self) -> bool {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let Some(conn) = guard.as_mut() else {
            return false;
        };
        if conn.is_valid(CHECK_TIMEOUT).is_ok() {
            return true;
        }
        tracing::warn!(
            work = self.work.name(),
            "lease lost: its connection does not answer"
        );
        self.give_up(&mut guard);
        false
    }

    fn publish_scan_status(&self, status: &ScanStatus, served_request: i64) -> StorageResult<()> {
        let json = serde_json::to_string(status)
            .map_err(|e| StorageError::Corrupt(format!("scan status: {e}")))?;
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO scan_status (id, node, status_json, served_request, updated_at)
                 VALUES (1, $1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET node = excluded.node, status_json = excluded.status_json,
                    served_request = excluded.served_request, updated_at = excluded.updated_at",
                &[&self.node, &json, &served_request, &unix_ms()],
            )?;
            Ok(())
        })
    }

    fn take_scan_requests(&self) -> StorageResult<Vec<ScanRequest>> {
        let mut requests = self.write(|tx, _| {
            let rows = tx.query(
                "DELETE FROM scan_requests RETURNING id, confirm_removals, node, requested_at",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0),
                        ScanRequest {
                            id: r.get(0),
                            confirm_removals: r.get(1),
                            node: r.get(2),
                            requested_at: r.get(3),
                        },
                    )
                })
                .collect::<Vec<_>>())
        })?;
        requests.sort_by_key(|(id, _)| *id);
        Ok(requests.into_iter().map(|(_, r)| r).collect())
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        let guard = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = guard.as_mut() {
            // The connection goes back to the pool: it must not keep the lock. If the unlock
            // fails the connection is broken, and the pool drops it (and so the lock).
            if let Err(e) = conn.execute("SELECT pg_advisory_unlock($1)", &[&key(self.work)]) {
                tracing::debug!(error = %e, work = self.work.name(), "lease unlock failed");
            }
        }
    }
}

impl PgStore {
    /// Takes `work`'s lease for `node` (see [`LeaseStore::try_lease`]).
    pub(crate) fn take_lease(
        self: Arc<Self>,
        work: Work,
        node: &str,
    ) -> StorageResult<Option<PgLease>> {
        let mut conn = self.primary_connection()?;
        let row = conn.query_one(
            "SELECT pg_try_advisory_lock($1), pg_backend_pid()",
            &[&key(work)],
        )?;
        if !row.get::<_, bool>(0) {
            return Ok(None);
        }
        let pid: i32 = row.get(1);
        // From here the lease owns the connection: its drop unlocks, also if recording fails.
        let lease = PgLease {
            work,
            store: self,
            conn: Mutex::new(Some(conn)),
            node: node.to_string(),
            pid,
        };
        lease.write(|tx, _| {
            tx.execute(
                "INSERT INTO leases (work, node, pid, since) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (work) DO UPDATE
                    SET node = excluded.node, pid = excluded.pid, since = excluded.since",
                &[&work.name(), &node, &pid, &unix_ms()],
            )?;
            Ok(())
        })?;
        tracing::info!(work = work.name(), node, "took the lease");
        Ok(Some(lease))
    }
}

impl LeaseStore for PgStore {
    fn is_shared(&self) -> bool {
        true
    }
    fn try_lease(self: Arc<Self>, work: Work, node: &str) -> StorageResult<Option<Arc<dyn Lease>>> {
        Ok(self
            .take_lease(work, node)?
            .map(|l| Arc::new(l) as Arc<dyn Lease>))
    }

    fn lease_holder(&self, work: Work) -> StorageResult<Option<String>> {
        let k = key(work);
        self.read_primary(|c| {
            let row = c.query_opt(
                "SELECT l.node FROM leases l WHERE l.work = $1 AND EXISTS (
                    SELECT 1 FROM pg_locks k
                    WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.pid
                      AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND k.classid::bigint = $2 AND k.objid::bigint = $3 AND k.objsubid = 1)",
                &[&work.name(), &(k >> 32), &(k & 0xffff_ffff)],
            )?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn published_scan_status(&self) -> StorageResult<Option<PublishedStatus>> {
        let row = self.read_primary(|c| {
            Ok(c.query_opt(
                "SELECT node, status_json, served_request, updated_at FROM scan_status WHERE id = 1",
                &[],
            )?)
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let json: String = row.get(1);
        let status = serde_json::from_str(&json)
            .map_err(|e| StorageError::Corrupt(format!("scan status: {e}")))?;
        Ok(Some(PublishedStatus {
            node: row.get(0),
            status,
            served_request: row.get(2),
            updated_at: row.get(3),
        }))
    }

    fn request_scan(&self, request: &ScanRequest) -> StorageResult<i64> {
        self.write(None, |tx, _| {
            let row = tx.query_one(
                "INSERT INTO scan_requests (confirm_removals, node, requested_at) VALUES ($1, $2, $3)
                 RETURNING id",
                &[&request.confirm_removals, &request.node, &request.requested_at],
            )?;
            Ok(row.get(0))
        })
    }
}
