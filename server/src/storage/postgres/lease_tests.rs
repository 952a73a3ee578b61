//! Leases on PostgreSQL: two stores on one database stand for two nodes.

use super::scratch::ScratchDatabase;
use super::{LocalWriteMarks, PgOptions, PgStore};
use crate::storage::leases::{PublishedStatus, ScanRequest};
use crate::storage::{Lease, LeaseStore, StorageError, Work};
use mixtape_shared::api::ScanStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn node(db: &ScratchDatabase) -> Arc<PgStore> {
    Arc::new(
        PgStore::open(
            &PgOptions::new(db.url()),
            Arc::new(LocalWriteMarks::single_node()),
        )
        .expect("open postgres"),
    )
}

/// Ends a backend the way a dead node's connection ends, from outside.
fn terminate(store: &PgStore, pid: i32) {
    store
        .read_primary(|c| {
            let ended: bool = c
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])?
                .get(0);
            assert!(ended, "backend {pid} was running");
            Ok(())
        })
        .unwrap();
}

fn status(files_seen: u64) -> ScanStatus {
    serde_json::from_value(serde_json::json!({
        "state": "running", "phase": "reading", "started_at": 1, "finished_at": null,
        "files_seen": files_seen, "files_unchanged": 0, "files_read": 0, "files_hashed": 0,
        "files_pending_hash": 0, "tracks_added": 0, "tracks_updated": 0, "tracks_removed": 0,
        "tracks_moved": 0, "failures": []
    }))
    .unwrap()
}

fn published(store: &PgStore) -> Option<PublishedStatus> {
    store.published_scan_status().unwrap()
}

fn request(node: &str) -> ScanRequest {
    ScanRequest {
        id: 0,
        confirm_removals: false,
        node: node.into(),
        requested_at: 1,
    }
}

#[test]
fn one_node_holds_a_lease_at_a_time() {
    let db = ScratchDatabase::for_test("lease_one_holder");
    let (a, b) = (node(&db), node(&db));
    assert!(a.is_shared());
    assert_eq!(a.lease_holder(Work::Scan).unwrap(), None);
    let held = a.clone().try_lease(Work::Scan, "a").unwrap().expect("free");
    assert!(held.is_held());
    assert_eq!(held.work(), Work::Scan);
    assert!(b.clone().try_lease(Work::Scan, "b").unwrap().is_none());
    // Not even the holder's own store gets it twice: another session, another holder.
    assert!(a.clone().try_lease(Work::Scan, "a").unwrap().is_none());
    assert_eq!(b.lease_holder(Work::Scan).unwrap().as_deref(), Some("a"));
    // Each work has its own lease.
    let recs = b.clone().try_lease(Work::Recs, "b").unwrap().expect("free");
    assert_eq!(a.lease_holder(Work::Recs).unwrap().as_deref(), Some("b"));
    drop(recs);
    assert_eq!(a.lease_holder(Work::Recs).unwrap(), None);

    // Given up, it goes to the next taker, and the giver's pooled connection keeps no lock.
    drop(held);
    assert_eq!(b.lease_holder(Work::Scan).unwrap(), None);
    let taken = b
        .clone()
        .try_lease(Work::Scan, "b")
        .unwrap()
        .expect("given up");
    assert_eq!(a.lease_holder(Work::Scan).unwrap().as_deref(), Some("b"));
    drop(taken);
    for _ in 0..4 {
        let again = a.clone().try_lease(Work::Scan, "a").unwrap();
        assert!(again.is_some(), "a pooled connection kept the lock");
    }
}

#[test]
fn a_dead_holder_is_taken_over_within_seconds() {
    let db = ScratchDatabase::for_test("lease_takeover");
    let (a, b) = (node(&db), node(&db));
    let held = a
        .clone()
        .take_lease(Work::Scan, "a")
        .unwrap()
        .expect("free");
    assert!(b.clone().try_lease(Work::Scan, "b").unwrap().is_none());
    terminate(&b, held.pid());
    let started = Instant::now();
    let taken = loop {
        if let Some(lease) = b.clone().try_lease(Work::Scan, "b").unwrap() {
            break lease;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no takeover within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(taken.is_held());
    assert!(!held.is_held(), "the dead session still counts as held");
    assert_eq!(a.lease_holder(Work::Scan).unwrap().as_deref(), Some("b"));
    // A lost lease stays lost.
    assert!(!held.is_held());
}

#[test]
fn a_write_through_a_lost_lease_commits_nothing() {
    let db = ScratchDatabase::for_test("lease_fenced");
    let (a, b) = (node(&db), node(&db));
    let held = a
        .clone()
        .take_lease(Work::Scan, "a")
        .unwrap()
        .expect("free");
    let pid = held.pid();
    // The session dies between the write and its commit: the commit fails, nothing lands.
    let result = held.write(|tx, _| {
        tx.execute(
            "INSERT INTO scan_requests (confirm_removals, node, requested_at) VALUES (false, 'a', 1)",
            &[],
        )?;
        terminate(&b, pid);
        Ok(())
    });
    assert!(
        matches!(result, Err(StorageError::LeaseLost("scan"))),
        "{result:?}"
    );
    let rows: i64 = b
        .read_primary(|c| {
            Ok(c.query_one("SELECT count(*) FROM scan_requests", &[])?
                .get(0))
        })
        .unwrap();
    assert_eq!(rows, 0, "a write through a lost lease committed");
    // Every later write through it fails before touching the database.
    use crate::storage::FencedWriter;
    assert!(matches!(
        held.apply_scan_batch(Vec::new()),
        Err(StorageError::LeaseLost(_))
    ));
    assert!(matches!(
        held.prune_orphans(),
        Err(StorageError::LeaseLost(_))
    ));
    assert!(matches!(
        held.recs_apply(&[], &Default::default(), 0),
        Err(StorageError::LeaseLost(_))
    ));
    assert!(held.publish_scan_status(&status(1), 0).is_err());
    assert!(held.take_scan_requests().is_err());
    assert!(published(&b).is_none());
}

#[test]
fn a_lease_lost_while_idle_fails_its_next_write() {
    let db = ScratchDatabase::for_test("lease_idle_loss");
    let (a, b) = (node(&db), node(&db));
    let held = a
        .clone()
        .take_lease(Work::Recs, "a")
        .unwrap()
        .expect("free");
    held.publish_scan_status(&status(1), 0).unwrap();
    terminate(&b, held.pid());
    assert!(held.publish_scan_status(&status(2), 0).is_err());
    assert_eq!(published(&b).unwrap().status.files_seen, 1);
    assert!(!held.is_held());
}

#[test]
fn scan_requests_reach_the_leader_once_in_order() {
    let db = ScratchDatabase::for_test("lease_requests");
    let (a, b) = (node(&db), node(&db));
    let leader = a.clone().try_lease(Work::Scan, "a").unwrap().expect("free");
    assert!(leader.take_scan_requests().unwrap().is_empty());
    let first = b.request_scan(&request("b")).unwrap();
    let second = b
        .request_scan(&ScanRequest {
            confirm_removals: true,
            ..request("c")
        })
        .unwrap();
    assert!(second > first);
    let taken = leader.take_scan_requests().unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|r| (r.id, r.node.as_str(), r.confirm_removals))
            .collect::<Vec<_>>(),
        [(first, "b", false), (second, "c", true)]
    );
    assert!(leader.take_scan_requests().unwrap().is_empty());
}

#[test]
fn the_published_status_is_read_on_every_node() {
    let db = ScratchDatabase::for_test("lease_status");
    let (a, b) = (node(&db), node(&db));
    assert!(published(&b).is_none());
    let leader = a.clone().try_lease(Work::Scan, "a").unwrap().expect("free");
    leader.publish_scan_status(&status(7), 3).unwrap();
    let seen = published(&b).unwrap();
    assert_eq!(seen.node, "a");
    assert_eq!(seen.status.files_seen, 7);
    assert_eq!(seen.status.state, "running");
    assert_eq!(seen.served_request, 3);
    assert!(seen.updated_at > 0);
    leader.publish_scan_status(&status(9), 4).unwrap();
    let seen = published(&a).unwrap();
    assert_eq!((seen.status.files_seen, seen.served_request), (9, 4));
    // The next leader overwrites it, under its own name.
    drop(leader);
    let next = b.clone().try_lease(Work::Scan, "b").unwrap().expect("free");
    next.publish_scan_status(&status(1), 4).unwrap();
    assert_eq!(published(&a).unwrap().node, "b");
}
