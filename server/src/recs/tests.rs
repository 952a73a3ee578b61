//! The queue and the worker over a real SQLite store: exactly once in effect, poison messages,
//! and incremental state against a full rebuild.

use super::model::{Params, top_of};
use super::queue::{EventQueue, Message};
use super::worker::{WorkerConfig, WorkerStats, run_once};
use crate::storage::sqlite::SqliteStore;
use crate::storage::{AccountStore, ActivityStore, PlaylistStore, RecsStore};
use mixtape_shared::api::{PlayEvent, PlayEventKind, User};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{DeviceId, EntryId, EventId, OpId, PlaylistId, TrackId};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

fn store() -> (tempfile::TempDir, SqliteStore, User) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite"), 2).unwrap();
    let user = store.create_user("listener", "x", false).unwrap();
    (dir, store, user)
}

fn cfg() -> WorkerConfig {
    WorkerConfig {
        base_backoff_ms: 1,
        max_backoff_ms: 5,
        max_attempts: 3,
        abort_before_ack: false,
        ..WorkerConfig::default()
    }
}

fn play(track: i64, at_ms: i64, kind: PlayEventKind) -> PlayEvent {
    PlayEvent {
        id: EventId::new_v7(),
        track_id: TrackId(track),
        kind,
        position_ms: 0,
        at_ms,
        device: None,
    }
}

/// Runs the worker until the queue is empty (waiting out retry delays).
fn drain(store: &SqliteStore, stats: &WorkerStats, cfg: &WorkerConfig) {
    for _ in 0..10_000 {
        run_once(store, store, &Params::default(), cfg, stats).unwrap();
        if store.stats().unwrap().depth == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the queue did not drain: {:?}", store.stats().unwrap());
}

#[test]
fn an_accepted_event_and_its_queue_message_commit_together_and_duplicates_enqueue_nothing() {
    let (_d, store, user) = store();
    let events: Vec<PlayEvent> = (0..5)
        .map(|i| play(i + 1, i * 1000, PlayEventKind::Finish))
        .collect();
    assert_eq!(store.insert_play_events(user.id, &events, 0).unwrap(), 5);
    assert_eq!(store.stats().unwrap().depth, 5);
    assert_eq!(store.insert_play_events(user.id, &events, 0).unwrap(), 0);
    assert_eq!(
        store.stats().unwrap().depth,
        5,
        "a resubmitted event is not queued again"
    );
    let stats = WorkerStats::default();
    drain(&store, &stats, &cfg());
    let summary = store.recs_summary().unwrap();
    assert_eq!((summary.items, summary.pairs, summary.applied), (5, 10, 5));
    store.insert_play_events(user.id, &events, 0).unwrap();
    assert_eq!(store.stats().unwrap().depth, 0);
    assert_eq!(store.recs_summary().unwrap(), summary);
}

#[test]
fn a_redelivery_after_the_work_committed_changes_nothing() {
    let (_d, store, user) = store();
    let events: Vec<PlayEvent> = (0..4)
        .map(|i| play(i + 1, i * 1000, PlayEventKind::Finish))
        .collect();
    store.insert_play_events(user.id, &events, 0).unwrap();
    // The worker "crashes" between its commit and its acknowledgement.
    let batch: Vec<_> = store
        .fetch(100, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|d| {
            (
                d.message.key,
                d.enqueued_at_ms,
                serde_json::from_str(&d.message.payload).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        store
            .recs_apply(&batch[..2], &Params::default(), 0)
            .unwrap(),
        2
    );
    let stats = WorkerStats::default();
    drain(&store, &stats, &cfg());
    assert_eq!(stats.processed.load(Ordering::Relaxed), 4);
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 2);
    let incremental = store.recs_summary().unwrap();
    store.recs_rebuild(&Params::default(), 0).unwrap();
    assert_eq!(store.recs_summary().unwrap(), incremental);
}

#[test]
fn a_poison_message_is_dead_lettered_after_its_retries_and_does_not_block_the_others() {
    let (_d, store, user) = store();
    store
        .insert_play_events(user.id, &[play(1, 0, PlayEventKind::Finish)], 0)
        .unwrap();
    store
        .publish(
            &Message {
                kind: "play".into(),
                key: "poison".into(),
                payload: "{not json".into(),
            },
            0,
        )
        .unwrap();
    store
        .insert_play_events(user.id, &[play(2, 1000, PlayEventKind::Finish)], 0)
        .unwrap();
    let stats = WorkerStats::default();
    // The first round takes in both good events although the poison sits between them.
    run_once(&store, &store, &Params::default(), &cfg(), &stats).unwrap();
    assert_eq!(store.recs_summary().unwrap().applied, 2);
    assert_eq!(store.stats().unwrap().retrying, 1);
    drain(&store, &stats, &cfg());
    let dead = store.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].key.as_str(), dead[0].attempts), ("poison", 3));
    assert!(
        dead[0].last_error.contains("undecodable"),
        "{}",
        dead[0].last_error
    );
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 1);
    assert_eq!(store.stats().unwrap().dead_letters, 1);
    // Requeued, it fails again and goes back to the dead letters.
    assert_eq!(store.requeue_dead_letters(0).unwrap(), 1);
    drain(&store, &stats, &cfg());
    assert_eq!(store.stats().unwrap().dead_letters, 1);
}

#[derive(Debug, Clone)]
enum Input {
    Plays(Vec<(u8, i64, i64, bool)>),
    Add(u8, Vec<i64>),
}

fn inputs() -> impl Strategy<Value = Vec<Input>> {
    let input = prop_oneof![
        3 => prop::collection::vec((0u8..2, 1i64..10, 0i64..5_000_000, any::<bool>()), 1..6).prop_map(Input::Plays),
        1 => (0u8..2, prop::collection::vec(1i64..10, 1..4)).prop_map(|(p, t)| Input::Add(p, t)),
    ];
    prop::collection::vec(input, 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Events accepted in batches, resubmitted, taken in by the worker between batches: the
    /// state equals a full rebuild from the event history.
    #[test]
    fn incremental_state_equals_a_full_rebuild_from_history(inputs in inputs(), drain_every in 1usize..4) {
        let (_d, store, _) = store();
        let users = [store.create_user("a", "x", false).unwrap(), store.create_user("b", "x", false).unwrap()];
        let playlists = [PlaylistId::new_v7(), PlaylistId::new_v7()];
        let device = DeviceId::new_v7();
        for (p, pl) in playlists.iter().enumerate() {
            let create = PlaylistOp { id: OpId::new_v7(), playlist_id: *pl, clock: 1, device, kind: OpKind::Create { name: format!("p{p}"), public: false } };
            store.apply_playlist_ops(users[0].id, &[create], 0).unwrap();
        }
        let stats = WorkerStats::default();
        let mut clock = 2;
        for (k, input) in inputs.iter().enumerate() {
            match input {
                Input::Plays(plays) => {
                    for &(u, t, at, finished) in plays {
                        let kind = if finished { PlayEventKind::Finish } else { PlayEventKind::Skip };
                        let e = play(t, at, kind);
                        store.insert_play_events(users[u as usize].id, std::slice::from_ref(&e), 0).unwrap();
                        store.insert_play_events(users[u as usize].id, &[e], 0).unwrap();
                    }
                }
                Input::Add(p, tracks) => {
                    clock += 1;
                    let entries = tracks.iter().map(|&t| NewEntry { id: EntryId::new_v7(), track_id: TrackId(t) }).collect();
                    let op = PlaylistOp { id: OpId::new_v7(), playlist_id: playlists[*p as usize], clock, device, kind: OpKind::Add { entries, at: Anchor::End } };
                    store.apply_playlist_ops(users[0].id, std::slice::from_ref(&op), 0).unwrap();
                    store.apply_playlist_ops(users[0].id, &[op], 0).unwrap();
                }
            }
            if k % drain_every == 0 {
                drain(&store, &stats, &cfg());
            }
        }
        drain(&store, &stats, &cfg());
        let incremental = store.recs_summary().unwrap();
        store.recs_rebuild(&Params::default(), 0).unwrap();
        let rebuilt = store.recs_summary().unwrap();
        prop_assert_eq!(incremental, rebuilt);
        let (kept, reference) = candidate_lists(&_d);
        prop_assert_eq!(kept, reference);
    }
}

/// The stored candidate lists (`recs_top`) and the best `Params::candidates` of `recs_pairs` for
/// every item.
#[allow(clippy::type_complexity)]
fn candidate_lists(
    dir: &tempfile::TempDir,
) -> (
    BTreeMap<i64, Vec<(i64, i64)>>,
    BTreeMap<i64, Vec<(i64, i64)>>,
) {
    let db = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    let read = |sql: &str| -> BTreeMap<i64, Vec<(i64, i64)>> {
        let mut out: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        let mut stmt = db.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        for row in rows {
            let (a, b, co) = row.unwrap();
            out.entry(a).or_default().push((b, co));
        }
        out
    };
    let kept = read("SELECT a, b, co FROM recs_top ORDER BY a, co DESC, b");
    let reference = read("SELECT a, b, weight FROM recs_pairs")
        .into_iter()
        .map(|(a, v)| (a, top_of(v, Params::default().candidates)))
        .collect();
    (kept, reference)
}

#[test]
fn stored_candidate_lists_keep_the_heaviest_pairs_of_a_popular_track() {
    let (d, store, user) = store();
    let p = Params::default();
    // Track 1 is co-listened with more tracks than a list holds, some more often than others.
    let mut events = Vec::new();
    let mut day = 0;
    for round in 0..3 {
        for k in 0..(p.candidates as i64 + 20) {
            if round > 0 && k % 7 != 0 {
                continue;
            }
            let at = day * 86_400_000;
            day += 1;
            events.push(play(1, at, PlayEventKind::Finish));
            events.push(play(k + 2, at + 1000, PlayEventKind::Finish));
        }
    }
    for chunk in events.chunks(37) {
        store.insert_play_events(user.id, chunk, 0).unwrap();
        drain(&store, &WorkerStats::default(), &cfg());
    }
    let (kept, reference) = candidate_lists(&d);
    assert_eq!(kept[&1].len(), p.candidates);
    assert_eq!(kept, reference);
    let incremental = store.recs_summary().unwrap();
    store.recs_rebuild(&p, 0).unwrap();
    assert_eq!(store.recs_summary().unwrap(), incremental);
    assert_eq!(candidate_lists(&d).0, kept);
}

/// The queue of `store` whose separate acknowledgement never arrives (a process that dies right
/// after its work committed): what the worker leaves is what one transaction did.
struct AckNeverArrives(std::sync::Arc<crate::storage::postgres::PgStore>);

impl EventQueue for AckNeverArrives {
    fn publish(&self, m: &Message, now_ms: i64) -> crate::storage::StorageResult<i64> {
        self.0.publish(m, now_ms)
    }
    fn fetch(
        &self,
        max: usize,
        now_ms: i64,
    ) -> crate::storage::StorageResult<Vec<super::queue::Delivery>> {
        self.0.fetch(max, now_ms)
    }
    fn ack(&self, _tags: &[i64]) -> crate::storage::StorageResult<()> {
        Err(crate::storage::StorageError::Config(
            "the process died".into(),
        ))
    }
    fn retry(
        &self,
        tag: i64,
        error: &str,
        not_before_ms: i64,
    ) -> crate::storage::StorageResult<()> {
        self.0.retry(tag, error, not_before_ms)
    }
    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> crate::storage::StorageResult<()> {
        self.0.dead_letter(tag, error, now_ms)
    }
    fn stats(&self) -> crate::storage::StorageResult<super::queue::QueueStats> {
        self.0.stats()
    }
    fn dead_letters(
        &self,
        limit: u32,
    ) -> crate::storage::StorageResult<Vec<super::queue::DeadLetter>> {
        self.0.dead_letters(limit)
    }
    fn requeue_dead_letters(&self, now_ms: i64) -> crate::storage::StorageResult<u64> {
        self.0.requeue_dead_letters(now_ms)
    }
    fn acks_with_apply(&self) -> bool {
        self.0.acks_with_apply()
    }
}

/// Without a broker, PostgreSQL's outbox table is the queue: claimed with `FOR UPDATE SKIP
/// LOCKED`, and a batch's work and the deletion of its rows commit in one transaction, so no
/// crash can leave work done with its messages still queued (nor messages gone without work).
#[test]
fn on_postgres_the_outbox_rows_leave_in_the_transaction_of_their_work() {
    use crate::storage::postgres::scratch::ScratchDatabase;
    use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
    let db = ScratchDatabase::for_test("outbox_apply_and_delete");
    let store = std::sync::Arc::new(
        PgStore::open(
            &PgOptions::new(db.url()),
            std::sync::Arc::new(LocalWriteMarks::single_node()),
        )
        .unwrap(),
    );
    let user = store.create_user("listener", "x", false).unwrap();
    let events: Vec<PlayEvent> = (0..6)
        .map(|i| play(i + 1, i * 1000, PlayEventKind::Finish))
        .collect();
    assert_eq!(store.insert_play_events(user.id, &events, 0).unwrap(), 6);
    assert_eq!(store.stats().unwrap().depth, 6, "the outbox rows");
    let queue = AckNeverArrives(store.clone());
    let stats = WorkerStats::default();
    let handled = run_once(store.as_ref(), &queue, &Params::default(), &cfg(), &stats).unwrap();
    assert_eq!(handled, 6);
    assert_eq!(
        store.stats().unwrap().depth,
        0,
        "the rows left with the work, not in a later acknowledgement"
    );
    assert_eq!(store.recs_summary().unwrap().applied, 6);
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 0);
    // A second worker run finds nothing to redo.
    assert_eq!(
        run_once(store.as_ref(), &queue, &Params::default(), &cfg(), &stats).unwrap(),
        0
    );
    // The store goes first: its pools hold connections the drop of the database ends.
    drop(queue);
    drop(store);
    drop(db);
}

/// The trainer stores one version; another node (or this one after a restart) serves it from
/// the store, and it is not due again until enough new events arrive.
#[test]
fn a_trained_model_is_stored_served_by_every_node_and_not_retrained_after_a_restart() {
    use super::als::AlsParams;
    use super::trainer::{TrainedModel, TrainerConfig, due, train_once};
    use crate::storage::leases::Unfenced;
    let (_d, store, user) = store();
    let other = store.create_user("other", "x", false).unwrap();
    let mine: Vec<PlayEvent> = (0..6)
        .map(|i| play(1 + i % 3, i * 1000, PlayEventKind::Finish))
        .collect();
    let theirs: Vec<PlayEvent> = (0..6)
        .map(|i| play(2 + i % 3, i * 1000, PlayEventKind::Finish))
        .collect();
    store.insert_play_events(user.id, &mine, 0).unwrap();
    store.insert_play_events(other.id, &theirs, 0).unwrap();
    drain(&store, &WorkerStats::default(), &cfg());
    let cfg = TrainerConfig {
        als: AlsParams {
            factors: 4,
            iterations: 3,
            ..AlsParams::default()
        },
        min_events: 1,
        ..TrainerConfig::default()
    };
    let events = store.recs_events_taken_in().unwrap();
    assert_eq!(events, 12);
    assert!(due(None, events, 0, &cfg));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (info, factors) = train_once(&store, &Unfenced(&store), &cfg, &stop).unwrap();
    assert_eq!(
        (info.version, info.events, info.items, info.rows, info.cells),
        (1, 12, 4, 2, 6)
    );
    let node = TrainedModel::default();
    assert!(node.current().is_none());
    assert!(node.refresh(&store).unwrap());
    let served = node.current().unwrap();
    assert_eq!(served.info, info);
    assert_eq!(served.factors, factors);
    assert!(
        !node.refresh(&store).unwrap(),
        "the same version is not loaded again"
    );
    let stored = store.recs_model_info().unwrap();
    assert!(
        !due(
            stored.as_ref(),
            store.recs_events_taken_in().unwrap(),
            info.trained_at_ms + 1,
            &cfg
        ),
        "a restart finds the stored model current"
    );
    assert!(
        !node.request_training(),
        "no trainer runs here: a training request is refused"
    );
}
