//! The recommender's state: taking events in (once per key), what the scorer reads back, the
//! summary digest, and a rebuild from the event history. The reference for the state is the
//! in-memory `recommender::Model`: a backend whose digest equals the model's digest equals every
//! other backend's.

use super::fixtures;
use crate::recommender::{Event, Model, Params, Play, Source};
use crate::storage::{ModelInfo, RecsSummary, Store, TrainingData};
use mixtape_shared::api::{PlayEvent, PlayEventKind};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp};
use mixtape_shared::{EntryId, EventId, OpId, TrackId};
use std::collections::{BTreeMap, BTreeSet};

/// Small lists, a short window: truncation and window edges happen in a few events.
fn params() -> Params {
    Params {
        window_ms: 10_000,
        max_window_plays: 3,
        candidates: 3,
        ..Params::default()
    }
}

fn play(user: i64, item: i64, at_ms: i64, weight: i64) -> Event {
    Event::Play(Play {
        user,
        item,
        at_ms,
        weight,
    })
}

/// A deterministic mix of plays (two users, some ignored, some at the window's edges) and
/// playlist additions (repeats included), keyed `e0`, `e1`, …
fn history() -> Vec<(String, i64, Event)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut out = Vec::new();
    for k in 0..120 {
        let event = if k % 9 == 8 {
            let items = (0..1 + next(3)).map(|_| 1 + next(12) as i64).collect();
            Event::PlaylistAdd {
                playlist: format!("p{}", next(2)),
                items,
            }
        } else {
            let weight = if next(5) == 0 { 0 } else { 1 + next(2) as i64 };
            play(
                1 + next(2) as i64,
                1 + next(12) as i64,
                next(60) as i64 * 2_500,
                weight,
            )
        };
        out.push((format!("e{k}"), 1_000 + k, event));
    }
    out
}

/// The digest `recs_summary` computes, from the model: items by id, pairs in both directions
/// by (a, b), candidate lists by a then heaviest first.
fn model_summary(m: &Model, applied: u64) -> RecsSummary {
    let (items, pairs) = m.snapshot();
    let mut h = blake3::Hasher::new();
    for (i, w) in &items {
        h.update(&i.to_le_bytes());
        h.update(&w.to_le_bytes());
    }
    let both: BTreeMap<(i64, i64), i64> = pairs
        .iter()
        .flat_map(|(&(a, b), &w)| [((a, b), w), ((b, a), w)])
        .collect();
    for ((a, b), w) in &both {
        for v in [a, b, w] {
            h.update(&v.to_le_bytes());
        }
    }
    let (kept, _) = m.tops();
    for (a, list) in &kept {
        for (b, co) in list {
            for v in [a, co, b] {
                h.update(&v.to_le_bytes());
            }
        }
    }
    RecsSummary {
        items: items.len() as u64,
        pairs: pairs.len() as u64,
        applied,
        digest: h.finalize().to_hex().to_string(),
    }
}

fn reference(events: &[(String, i64, Event)], p: Params) -> (Model, u64) {
    let mut m = Model::new(p);
    let mut applied = 0;
    for (key, _, e) in events {
        applied += m.apply(key, e) as u64;
    }
    (m, applied)
}

/// The state after a history equals the model's, in counts and digest; so do the rows.
fn applied_state_equals_the_reference_model(store: &dyn Store) {
    let events = history();
    let p = params();
    for chunk in events.chunks(17) {
        store.recs_apply(chunk, &p, 5).expect("apply");
    }
    let (m, applied) = reference(&events, p);
    let (kept, reference_tops) = m.tops();
    assert_eq!(
        kept, reference_tops,
        "the model's own lists are the best pairs"
    );
    assert!(
        kept.values().any(|l| l.len() == p.candidates),
        "the history fills some candidate list"
    );
    assert_eq!(
        store.recs_summary().expect("summary"),
        model_summary(&m, applied)
    );
    let items: Vec<i64> = (0..=14).collect();
    let rows = store.recs_rows(&items).expect("rows");
    for &i in &items {
        assert_eq!(rows.weight(i), m.weight(i), "weight of {i}");
        assert_eq!(rows.neighbours(i), m.neighbours(i), "neighbours of {i}");
    }
    assert!(!rows.0.contains_key(&0), "an unknown item has no row");
    assert!(!rows.0.contains_key(&13), "an unknown item has no row");
}

/// A key is taken in once: a whole batch again, or a batch overlapping the last one, adds
/// only what is new, and the state does not move.
fn apply_is_idempotent_by_key(store: &dyn Store) {
    let events = history();
    let p = params();
    assert_eq!(store.recs_apply(&events[..40], &p, 5).expect("apply"), 40);
    let once = store.recs_summary().expect("summary");
    assert_eq!(store.recs_apply(&events[..40], &p, 6).expect("again"), 0);
    assert_eq!(store.recs_summary().expect("summary"), once);
    assert_eq!(
        store.recs_apply(&events[30..60], &p, 7).expect("overlap"),
        20
    );
    // A key repeated inside one batch counts once, whatever the event says the second time.
    let dup = vec![
        ("d".to_string(), 0, play(1, 1, 0, 1)),
        ("d".to_string(), 0, play(1, 2, 0, 1)),
    ];
    assert_eq!(store.recs_apply(&dup, &p, 8).expect("dup"), 1);
    let mut all: Vec<_> = events[..60].to_vec();
    all.extend(dup);
    let (m, applied) = reference(&all, p);
    assert_eq!(applied, 61);
    assert_eq!(
        store.recs_summary().expect("summary"),
        model_summary(&m, applied)
    );
    assert_eq!(store.recs_apply(&[], &p, 9).expect("empty"), 0);
}

/// Ignored plays (weight 0) are taken in (their key is spent) but change no weight; a play
/// pairs only with the same user's plays inside the window.
fn ignored_plays_and_the_window(store: &dyn Store) {
    let p = params();
    let batch = vec![
        ("a".to_string(), 0, play(1, 1, 0, 1)),
        ("b".to_string(), 0, play(1, 2, 0, 0)),
        ("c".to_string(), 0, play(1, 3, p.window_ms, 1)),
        ("d".to_string(), 0, play(1, 4, p.window_ms * 3, 1)),
        ("e".to_string(), 0, play(2, 5, 0, 1)),
    ];
    assert_eq!(store.recs_apply(&batch, &p, 0).expect("apply"), 5);
    let s = store.recs_summary().expect("summary");
    assert_eq!((s.items, s.pairs, s.applied), (4, 1, 5));
    let rows = store.recs_rows(&[1, 2, 3, 4, 5]).expect("rows");
    assert_eq!(rows.weight(2), 0);
    assert_eq!(
        rows.neighbours(1)
            .iter()
            .map(|n| n.item)
            .collect::<Vec<_>>(),
        vec![3],
        "the window's edge is inside it; another user's play is not"
    );
    assert!(rows.neighbours(4).is_empty());
    assert!(rows.neighbours(5).is_empty());
}

/// A playlist addition pairs each new track with the playlist's earlier tracks, once.
fn playlist_additions_pair_with_earlier_members(store: &dyn Store) {
    let p = params();
    let add = |key: &str, list: &str, items: &[i64]| {
        (
            key.to_string(),
            0,
            Event::PlaylistAdd {
                playlist: list.into(),
                items: items.to_vec(),
            },
        )
    };
    let batch = vec![
        add("1", "x", &[10, 11]),
        add("2", "x", &[12]),
        add("3", "y", &[13]),
        add("4", "x", &[10]),
    ];
    store.recs_apply(&batch, &p, 0).expect("apply");
    let (m, applied) = reference(&batch, p);
    assert_eq!(
        store.recs_summary().expect("summary"),
        model_summary(&m, applied)
    );
    let rows = store.recs_rows(&[12, 13]).expect("rows");
    let mut near: Vec<i64> = rows.neighbours(12).iter().map(|n| n.item).collect();
    near.sort();
    assert_eq!(near, vec![10, 11]);
    assert!(rows.neighbours(13).is_empty(), "another playlist's tracks");
}

/// The heaviest items first, ties by id, up to the limit.
fn popular_is_heaviest_first(store: &dyn Store) {
    let p = params();
    let batch = vec![
        ("a".to_string(), 0, play(1, 7, 0, 1)),
        ("b".to_string(), 0, play(1, 5, 100_000, 2)),
        ("c".to_string(), 0, play(1, 3, 200_000, 1)),
        ("d".to_string(), 0, play(1, 9, 300_000, 2)),
    ];
    store.recs_apply(&batch, &p, 0).expect("apply");
    assert_eq!(
        store.recs_popular(3).expect("popular"),
        vec![(5, 4), (9, 4), (3, 1)]
    );
    assert_eq!(store.recs_popular(10).expect("popular").len(), 4);
    assert!(store.recs_popular(0).expect("popular").is_empty());
}

/// Events accepted through the outbox and taken in in batches give the state a rebuild from
/// the history gives; the rebuild forgets what the history does not hold.
fn rebuild_equals_the_incremental_state(store: &dyn Store) {
    let p = Params::default();
    let owner = fixtures::user(store, "listener");
    let other = fixtures::user(store, "other");
    let plays: Vec<PlayEvent> = (0..30)
        .map(|i| PlayEvent {
            id: EventId::new_v7(),
            track_id: TrackId(1 + i % 7),
            kind: if i % 5 == 4 {
                PlayEventKind::Skip
            } else {
                PlayEventKind::Finish
            },
            position_ms: 0,
            at_ms: i * 400_000,
            device: None,
        })
        .collect();
    store
        .insert_play_events(owner, &plays[..20], 0)
        .expect("plays");
    store
        .insert_play_events(other, &plays[20..], 0)
        .expect("plays");
    let create = fixtures::create_op("mix");
    let playlist = create.playlist_id;
    store
        .apply_playlist_ops(owner, std::slice::from_ref(&create), 0)
        .expect("create");
    let add = PlaylistOp {
        id: OpId::new_v7(),
        playlist_id: playlist,
        clock: 2,
        device: create.device,
        kind: OpKind::Add {
            entries: [3, 8, 9]
                .iter()
                .map(|&t| NewEntry {
                    id: EntryId::new_v7(),
                    track_id: TrackId(t),
                })
                .collect(),
            at: Anchor::End,
        },
    };
    store.apply_playlist_ops(owner, &[add], 0).expect("add");
    let queued = store.stats().expect("stats").depth;
    assert_eq!(queued, 31, "each play and the addition were queued with it");
    drain(store, &p);
    let incremental = store.recs_summary().expect("summary");
    assert_eq!(incremental.applied, 31);
    assert_eq!(store.recs_rebuild(&p, 0).expect("rebuild"), 31);
    assert_eq!(store.recs_summary().expect("summary"), incremental);
    // Something the history does not hold is forgotten.
    store
        .recs_apply(&[("stray".into(), 0, play(1, 99, 0, 1))], &p, 0)
        .expect("apply");
    assert_ne!(store.recs_summary().expect("summary"), incremental);
    store.recs_rebuild(&p, 0).expect("rebuild");
    assert_eq!(store.recs_summary().expect("summary"), incremental);
}

/// Takes the queue in as the worker does (fetch, apply, ack) until it is empty.
fn drain(store: &dyn Store, p: &Params) {
    for _ in 0..100 {
        let batch = store.fetch(7, i64::MAX / 2).expect("fetch");
        if batch.is_empty() {
            return;
        }
        let events: Vec<(String, i64, Event)> = batch
            .iter()
            .map(|d| {
                let e = serde_json::from_str(&d.message.payload).expect("payload");
                (d.message.key.clone(), d.enqueued_at_ms, e)
            })
            .collect();
        store.recs_apply(&events, p, 0).expect("apply");
        let tags: Vec<i64> = batch.iter().map(|d| d.tag).collect();
        store.ack(&tags).expect("ack");
    }
    panic!("the queue did not drain");
}

/// The scanned catalog as content similarity reads it: artists, album artist, genres, year.
fn content_reads_follow_the_catalog(store: &dyn Store) {
    let mut records = vec![
        fixtures::record("a/1.flac", "One", "Ann", "First", Some(1999)),
        fixtures::record("a/2.flac", "Two", "Ann", "First", None),
        fixtures::record("b/1.flac", "Three", "Bob", "Second", Some(2005)),
        fixtures::record("c/1.flac", "Four", "Cat", "Third", Some(2010)),
    ];
    records[2].genres = vec!["Jazz".into(), "Rock".into()];
    records[3].genres = vec!["Folk".into()];
    records[1].artists = vec!["Ann".into(), "Bob".into()];
    fixtures::scan(store, records);
    let paths: Vec<String> = ["a/1.flac", "a/2.flac", "b/1.flac", "c/1.flac"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ids = store.track_ids_by_paths(&paths).expect("ids");
    let id = |p: &str| ids[p].0;
    let (t1, t2, t3, t4) = (
        id("a/1.flac"),
        id("a/2.flac"),
        id("b/1.flac"),
        id("c/1.flac"),
    );
    let info = store
        .recs_content_info(&[t3, 424_242, t1, t2])
        .expect("content info");
    assert_eq!(
        info.iter().map(|i| i.item).collect::<Vec<_>>(),
        vec![t3, t1, t2],
        "in the order asked, unknown ids left out"
    );
    let track1 = store.track(TrackId(t1)).expect("track").expect("exists");
    let ann = track1.artists[0].id.0;
    assert_eq!(info[1].artists, vec![ann]);
    assert_eq!(
        info[1].album_artist,
        track1.album_artist.as_ref().map(|a| a.id.0)
    );
    assert_eq!(info[1].year, Some(1999));
    assert_eq!(info[2].year, None);
    assert_eq!(info[2].artists.len(), 2);
    assert_eq!(info[0].genres, vec!["Jazz".to_string(), "Rock".to_string()]);

    let mut seed = info[1].clone();
    let mut got: Vec<i64> = store
        .recs_content_candidates(&seed, 10)
        .expect("candidates")
        .iter()
        .map(|i| i.item)
        .collect();
    got.sort();
    let mut want = vec![t2, t3];
    want.sort();
    assert_eq!(got, want, "shared artist or genre, never the seed itself");
    // Genres match whatever their case.
    seed.item = 424_242;
    seed.artists.clear();
    seed.album_artist = None;
    seed.genres = vec!["folk".into()];
    let by_genre = store
        .recs_content_candidates(&seed, 10)
        .expect("candidates");
    assert_eq!(
        by_genre.iter().map(|i| i.item).collect::<Vec<_>>(),
        vec![t4]
    );
    seed.genres = vec!["rock".into()];
    assert_eq!(
        store
            .recs_content_candidates(&seed, 1)
            .expect("candidates")
            .len(),
        1,
        "at most per_kind of each kind"
    );

    let mut anns = vec![t1, t2];
    anns.sort();
    assert_eq!(store.recs_artist_tracks(ann, 10).expect("artist"), anns);
    assert_eq!(
        store.recs_artist_tracks(ann, 1).expect("artist"),
        vec![anns[0]]
    );
    assert!(
        store
            .recs_artist_tracks(424_242, 10)
            .expect("artist")
            .is_empty()
    );
}

/// The trainer's input is what was taken in: finished plays counted per (listener, track), each
/// playlist's members once, and the number of events taken in, all of one snapshot.
fn training_data_is_what_the_recommender_took_in(store: &dyn Store) {
    let events = history();
    let p = params();
    assert_eq!(
        store.recs_training_data().expect("empty"),
        TrainingData::default()
    );
    store.recs_apply(&events, &p, 5).expect("apply");
    store.recs_apply(&events[..10], &p, 6).expect("redelivery");
    let (_, applied) = reference(&events, p);
    let mut plays: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut members: BTreeSet<(String, i64)> = BTreeSet::new();
    for (_, _, e) in &events {
        match e {
            Event::Play(pl) if pl.weight > 0 => *plays.entry((pl.user, pl.item)).or_default() += 1,
            Event::Play(_) => {}
            Event::PlaylistAdd { playlist, items } => {
                members.extend(items.iter().map(|&i| (playlist.clone(), i)));
            }
        }
    }
    let mut data = store.recs_training_data().expect("training data");
    data.plays.sort_unstable();
    data.playlists.sort_unstable();
    assert_eq!(data.events, applied);
    assert_eq!(store.recs_events_taken_in().expect("count"), applied);
    assert_eq!(
        data.plays,
        plays
            .into_iter()
            .map(|((u, t), n)| (u, t, n))
            .collect::<Vec<_>>()
    );
    assert_eq!(data.playlists, members.into_iter().collect::<Vec<_>>());
}

/// Each stored model is the next version; the newest is what `recs_model_info` names, its bytes
/// come back as stored, and only the two newest are kept.
fn trained_models_are_versioned_and_the_old_ones_pruned(store: &dyn Store) {
    assert_eq!(store.recs_model_info().expect("none"), None);
    let info = |events: u64| ModelInfo {
        version: 0,
        trained_at_ms: 1_700_000_000_000 + events as i64,
        events,
        items: 3,
        rows: 2,
        cells: 4,
        train_ms: 12,
        bytes: 0,
    };
    let blob = |k: u8| {
        (0..100_000u32)
            .map(|i| (i % 251) as u8 ^ k)
            .collect::<Vec<u8>>()
    };
    for k in 1..=3u8 {
        let v = store
            .recs_model_put(&info(k as u64 * 10), &blob(k))
            .expect("put");
        assert_eq!(v, k as i64, "versions count up from 1");
    }
    assert_eq!(
        store.recs_model_info().expect("info"),
        Some(ModelInfo {
            version: 3,
            bytes: 100_000,
            ..info(30)
        })
    );
    assert_eq!(store.recs_model(3).expect("v3"), Some(blob(3)));
    assert_eq!(store.recs_model(2).expect("v2"), Some(blob(2)));
    assert_eq!(store.recs_model(1).expect("v1"), None, "pruned");
}

stories!(
    training_data_is_what_the_recommender_took_in,
    trained_models_are_versioned_and_the_old_ones_pruned,
    applied_state_equals_the_reference_model,
    apply_is_idempotent_by_key,
    ignored_plays_and_the_window,
    playlist_additions_pair_with_earlier_members,
    popular_is_heaviest_first,
    rebuild_equals_the_incremental_state,
    content_reads_follow_the_catalog,
);

/// PostgreSQL only: two nodes applying the same batches at once (the leader lease failed, or a
/// takeover overlapped) take each key in once and end in the single-applier state.
#[test]
fn concurrent_appliers_on_two_nodes_do_not_corrupt_the_state() {
    let db = crate::storage::postgres::scratch::ScratchDatabase::for_test("recs_two_nodes");
    let open = || {
        crate::storage::postgres::PgStore::open(
            &crate::storage::postgres::PgOptions::new(db.url()),
            std::sync::Arc::new(crate::storage::postgres::LocalWriteMarks::single_node()),
        )
        .expect("open postgres")
    };
    let nodes = [open(), open()];
    let events = history();
    let p = params();
    let taken: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(n, store)| {
                let events = &events;
                s.spawn(move || {
                    let mut taken = 0;
                    // Different batch sizes, so the two overlap in shifting ways.
                    for chunk in events.chunks(5 + n * 6) {
                        taken += store.recs_apply(chunk, &p, 0).expect("apply");
                    }
                    taken
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("applier"))
            .sum()
    });
    let (m, applied) = reference(&events, p);
    assert_eq!(taken, applied, "every key taken in by exactly one node");
    use crate::storage::RecsStore;
    assert_eq!(
        nodes[0].recs_summary().expect("summary"),
        model_summary(&m, applied)
    );
    drop(nodes);
}
