//! The durable event queue: publish, fetch in order, acknowledge, retry with a delay, dead
//! letters and their requeue, the counts. A fetched, unacknowledged message comes back (at the
//! latest once a PostgreSQL lease runs out, `LATER`), so no story relies on when exactly.

use crate::storage::Store;
use crate::storage::queue::{EventQueue, Message};
use std::collections::HashSet;

const NOW: i64 = 1_000_000;
/// Past any delivery lease (PostgreSQL's is 30 s).
const LATER: i64 = NOW + 3_600_000;

fn message(key: &str) -> Message {
    Message {
        kind: "play".into(),
        key: key.into(),
        payload: format!("{{\"key\":\"{key}\"}}"),
    }
}

fn publish(store: &dyn Store, keys: &[&str], at: i64) -> Vec<i64> {
    keys.iter()
        .map(|k| store.publish(&message(k), at).expect("publish"))
        .collect()
}

fn keys(d: &[crate::storage::queue::Delivery]) -> Vec<String> {
    d.iter().map(|d| d.message.key.clone()).collect()
}

/// Messages come oldest first, whole, up to `max`, and only once enqueued.
fn fetch_gives_the_oldest_first(store: &dyn Store) {
    assert!(store.fetch(10, LATER).expect("fetch").is_empty());
    let tags = publish(store, &["a", "b", "c"], NOW);
    assert!(tags.windows(2).all(|w| w[0] < w[1]), "tags grow: {tags:?}");
    assert!(
        store.fetch(10, NOW - 1).expect("fetch").is_empty(),
        "not due before it was enqueued"
    );
    assert!(store.fetch(0, NOW).expect("fetch").is_empty());
    let got = store.fetch(2, NOW).expect("fetch");
    assert_eq!(keys(&got), vec!["a", "b"]);
    assert_eq!(got[0].tag, tags[0]);
    assert_eq!(got[0].message, message("a"));
    assert_eq!((got[0].attempts, got[0].enqueued_at_ms), (0, NOW));
}

/// An acknowledged message is gone; an unacknowledged one is delivered again.
fn ack_removes_and_unacked_messages_come_back(store: &dyn Store) {
    let tags = publish(store, &["a", "b", "c"], NOW);
    let got = store.fetch(10, NOW).expect("fetch");
    assert_eq!(got.len(), 3);
    store.ack(&[tags[0], tags[2]]).expect("ack");
    store.ack(&[]).expect("ack nothing");
    store
        .ack(&[tags[0], 987_654])
        .expect("ack twice, or unknown");
    let again = store.fetch(10, LATER).expect("fetch");
    assert_eq!(keys(&again), vec!["b"], "the unacknowledged one comes back");
    assert_eq!(again[0].attempts, 0, "a redelivery is not a failure");
    let s = store.stats().expect("stats");
    assert_eq!((s.depth, s.retrying), (1, 0));
    store.ack(&[tags[1]]).expect("ack");
    assert!(store.fetch(10, LATER * 2).expect("fetch").is_empty());
    assert_eq!(store.stats().expect("stats").depth, 0);
}

/// A retried message waits until its time, counts its failure and keeps its place in the order.
fn retry_waits_and_counts(store: &dyn Store) {
    let tags = publish(store, &["a", "b"], NOW);
    store.fetch(10, NOW).expect("fetch");
    store.retry(tags[0], "boom", NOW + 500).expect("retry");
    store.ack(&[tags[1]]).expect("ack");
    let s = store.stats().expect("stats");
    assert_eq!((s.depth, s.retrying), (1, 1));
    assert_eq!(s.oldest_enqueued_at_ms, Some(NOW));
    assert!(
        store.fetch(10, NOW + 499).expect("fetch").is_empty(),
        "not before its time"
    );
    let got = store.fetch(10, NOW + 500).expect("fetch");
    assert_eq!(keys(&got), vec!["a"]);
    assert_eq!(got[0].attempts, 1);
    assert_eq!(got[0].enqueued_at_ms, NOW, "a retry keeps its enqueue time");
    store
        .retry(tags[0], "boom again", NOW + 1_000)
        .expect("retry");
    let got = store.fetch(10, NOW + 1_000).expect("fetch");
    assert_eq!(got[0].attempts, 2);
    // A newer message does not overtake an older one that is due.
    let late = publish(store, &["c"], NOW + 1_000);
    store.retry(tags[0], "again", NOW + 2_000).expect("retry");
    let got = store.fetch(10, NOW + 2_000).expect("fetch");
    assert_eq!(keys(&got), vec!["a", "c"]);
    assert_eq!(got[1].tag, late[0]);
}

/// A dead letter leaves the queue with its last error and count, newest first in the list.
fn dead_letters_keep_what_failed(store: &dyn Store) {
    let tags = publish(store, &["a", "b", "c"], NOW);
    store.fetch(10, NOW).expect("fetch");
    store.retry(tags[1], "first", NOW).expect("retry");
    store
        .dead_letter(tags[1], "undecodable b", NOW + 10)
        .expect("dead");
    store
        .dead_letter(tags[0], "undecodable a", NOW + 20)
        .expect("dead");
    store
        .dead_letter(tags[0], "again", NOW + 30)
        .expect("dead letter of a gone message changes nothing");
    let s = store.stats().expect("stats");
    assert_eq!((s.depth, s.retrying, s.dead_letters), (1, 0, 2));
    let dead = store.dead_letters(10).expect("dead letters");
    assert_eq!(
        dead.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"],
        "newest first"
    );
    assert_eq!(dead[1].tag, tags[1]);
    assert_eq!(
        (dead[1].attempts, dead[1].last_error.as_str()),
        (2, "undecodable b")
    );
    assert_eq!((dead[0].attempts, dead[0].dead_at_ms), (1, NOW + 20));
    assert_eq!(
        (dead[1].kind.as_str(), dead[1].enqueued_at_ms),
        ("play", NOW)
    );
    assert_eq!(dead[1].payload, message("b").payload);
    assert_eq!(store.dead_letters(1).expect("dead letters").len(), 1);
    assert_eq!(keys(&store.fetch(10, LATER).expect("fetch")), vec!["c"]);
}

/// Requeued dead letters are due at once, in their old order, with a clean count.
fn requeue_puts_dead_letters_back(store: &dyn Store) {
    assert_eq!(store.requeue_dead_letters(NOW).expect("requeue"), 0);
    let tags = publish(store, &["a", "b", "c"], NOW);
    store.fetch(10, NOW).expect("fetch");
    store.dead_letter(tags[2], "x", NOW).expect("dead");
    store.dead_letter(tags[0], "x", NOW + 1).expect("dead");
    store.ack(&[tags[1]]).expect("ack");
    assert_eq!(store.requeue_dead_letters(LATER).expect("requeue"), 2);
    let s = store.stats().expect("stats");
    assert_eq!((s.depth, s.retrying, s.dead_letters), (2, 0, 0));
    assert!(store.dead_letters(10).expect("dead letters").is_empty());
    assert!(
        store.fetch(10, LATER - 1).expect("fetch").is_empty(),
        "due from the requeue"
    );
    let got = store.fetch(10, LATER).expect("fetch");
    assert_eq!(keys(&got), vec!["a", "c"]);
    assert!(
        got.iter()
            .all(|d| d.attempts == 0 && d.enqueued_at_ms == NOW)
    );
}

/// The counts: depth, retries waiting, the oldest message's age, dead letters.
fn stats_count_the_backlog(store: &dyn Store) {
    assert_eq!(
        store.stats().expect("stats"),
        crate::storage::queue::QueueStats::default()
    );
    let tags = publish(store, &["a"], NOW);
    publish(store, &["b", "c"], NOW + 5);
    let s = store.stats().expect("stats");
    assert_eq!((s.depth, s.oldest_enqueued_at_ms), (3, Some(NOW)));
    store.ack(&tags).expect("ack");
    assert_eq!(
        store.stats().expect("stats").oldest_enqueued_at_ms,
        Some(NOW + 5)
    );
}

stories!(
    fetch_gives_the_oldest_first,
    ack_removes_and_unacked_messages_come_back,
    retry_waits_and_counts,
    dead_letters_keep_what_failed,
    requeue_puts_dead_letters_back,
    stats_count_the_backlog,
);

/// PostgreSQL only: two nodes on one database.
mod two_nodes {
    use super::*;
    use crate::storage::postgres::queue::LEASE_MS;
    use crate::storage::postgres::scratch::ScratchDatabase;
    use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
    use std::sync::Arc;

    fn open(db: &ScratchDatabase) -> PgStore {
        PgStore::open(
            &PgOptions::new(db.url()),
            Arc::new(LocalWriteMarks::single_node()),
        )
        .expect("open postgres")
    }

    /// Competing workers fetching at once never both hold a message; together they get all.
    #[test]
    fn concurrent_consumers_never_share_a_message() {
        let db = ScratchDatabase::for_test("queue_consumers");
        let nodes = [open(&db), open(&db)];
        let n = 400;
        for i in 0..n {
            nodes[0]
                .publish(&message(&format!("m{i}")), NOW)
                .expect("publish");
        }
        let got: Vec<Vec<i64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|w| {
                    let node = &nodes[w % 2];
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            // Never acknowledged: only the lease keeps others away.
                            let batch = node.fetch(7, NOW).expect("fetch");
                            if batch.is_empty() {
                                return mine;
                            }
                            mine.extend(batch.iter().map(|d| d.tag));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("consumer"))
                .collect()
        });
        let all: Vec<i64> = got.iter().flatten().copied().collect();
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), distinct.len(), "a message went to two consumers");
        assert_eq!(distinct.len(), n, "every message was delivered");
        assert!(
            got.iter().filter(|g| !g.is_empty()).count() > 1,
            "the consumers competed"
        );
        drop(nodes);
    }

    /// A message fetched by a worker that then dies comes back once its lease runs out, to the
    /// other node; before that, nobody else gets it.
    #[test]
    fn an_expired_lease_is_delivered_again() {
        let db = ScratchDatabase::for_test("queue_lease");
        let nodes = [open(&db), open(&db)];
        let tag = nodes[0].publish(&message("a"), NOW).expect("publish");
        assert_eq!(nodes[0].fetch(10, NOW).expect("fetch")[0].tag, tag);
        assert!(nodes[1].fetch(10, NOW).expect("fetch").is_empty());
        assert!(
            nodes[0]
                .fetch(10, NOW + LEASE_MS - 1)
                .expect("fetch")
                .is_empty(),
            "not even to the same node while the lease runs"
        );
        let again = nodes[1].fetch(10, NOW + LEASE_MS).expect("fetch");
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].tag, again[0].attempts), (tag, 0));
        // A retry ends the lease: due again at its time, on any node.
        nodes[1]
            .retry(tag, "boom", NOW + LEASE_MS + 5)
            .expect("retry");
        let third = nodes[0].fetch(10, NOW + LEASE_MS + 5).expect("fetch");
        assert_eq!((third[0].tag, third[0].attempts), (tag, 1));
        nodes[0].ack(&[tag]).expect("ack");
        assert_eq!(nodes[1].stats().expect("stats").depth, 0);
        drop(nodes);
    }
}
