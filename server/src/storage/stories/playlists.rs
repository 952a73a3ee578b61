//! Playlists: ops applied once, what they materialize, who sees what, tombstones, deletes, the
//! kept snapshot with late ops and compaction, concurrent pushes, and the change feed's paging.

use super::fixtures::{self, Device};
use crate::storage::{StorageError, Store};
use mixtape_shared::api::Change;
use mixtape_shared::sync::{Anchor, NewEntry, OpKind, PlaylistOp, Snapshot, materialize};
use mixtape_shared::{DeviceId, EntryId, OpId, PlaylistId, TrackId, UserId};

fn add(entries: &[(EntryId, i64)]) -> OpKind {
    OpKind::Add {
        entries: entries
            .iter()
            .map(|(id, t)| NewEntry {
                id: *id,
                track_id: TrackId(*t),
            })
            .collect(),
        at: Anchor::End,
    }
}

fn entry_ids(store: &dyn Store, id: PlaylistId) -> Vec<EntryId> {
    store
        .playlist(id)
        .unwrap()
        .expect("playlist")
        .detail
        .entries
        .iter()
        .map(|e| e.id)
        .collect()
}

fn live(state: &mixtape_shared::sync::PlaylistState) -> Vec<EntryId> {
    state.entries().map(|(e, _)| e).collect()
}

/// Owners see their own playlists and everyone's public ones, sorted by name in any case.
fn playlists_are_visible_to_their_owner_and_public_ones_to_all(store: &dyn Store) {
    let alice = fixtures::user(store, "alice");
    let bob = fixtures::user(store, "bob");
    let mut d = Device::new();
    let (a_pub, a_priv, b_priv) = (
        PlaylistId::new_v7(),
        PlaylistId::new_v7(),
        PlaylistId::new_v7(),
    );
    let ops = [
        d.create(a_pub, "Zed public", true),
        d.create(a_priv, "alpha private", false),
    ];
    assert_eq!(store.apply_playlist_ops(alice, &ops, 10).unwrap(), 2);
    store
        .apply_playlist_ops(bob, &[d.create(b_priv, "bee", false)], 10)
        .unwrap();

    let names = |u: UserId| -> Vec<String> {
        store
            .playlists_visible_to(u)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    // Case-insensitive: bytewise, "Zed" would sort before "alpha".
    assert_eq!(names(alice), ["alpha private", "Zed public"]);
    assert_eq!(names(bob), ["bee", "Zed public"]);

    let p = store.playlist(a_pub).unwrap().expect("exists");
    assert_eq!(p.owner_id, alice);
    assert_eq!(p.detail.playlist.owner, "alice");
    assert!(p.detail.playlist.public);
    assert_eq!(p.detail.playlist.updated_at, 10);
    assert_eq!(store.playlist_owner(b_priv).unwrap(), Some(bob));
    assert_eq!(store.playlist_owner(PlaylistId::new_v7()).unwrap(), None);
    assert!(store.playlist(PlaylistId::new_v7()).unwrap().is_none());

    // Making it private hides it from bob.
    store
        .apply_playlist_ops(
            alice,
            &[d.op(a_pub, OpKind::SetPublic { public: false })],
            20,
        )
        .unwrap();
    assert_eq!(names(bob), ["bee"]);
}

/// Each op id applies once, whether replayed in the same batch or later; known ops are reported.
fn ops_apply_once_and_are_known_by_id(store: &dyn Store) {
    let u = fixtures::user(store, "once");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    let (e1, e2) = (EntryId::new_v7(), EntryId::new_v7());
    let create = d.create(id, "mix", false);
    let adds = d.op(id, add(&[(e1, 101), (e2, 102)]));
    assert_eq!(
        store
            .apply_playlist_ops(u, &[create.clone(), adds.clone(), adds.clone()], 5)
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .apply_playlist_ops(u, &[create.clone(), adds.clone()], 6)
            .unwrap(),
        0
    );
    let p = store.playlist(id).unwrap().unwrap().detail;
    assert_eq!(p.playlist.entry_count, 2);
    assert_eq!(p.playlist.clock, 2);
    assert_eq!(p.playlist.updated_at, 5, "a replay rewrites nothing");
    assert_eq!(
        p.entries.iter().map(|e| e.track_id.0).collect::<Vec<_>>(),
        [101, 102]
    );
    assert!(
        p.entries
            .windows(2)
            .all(|w| w[0].order_key < w[1].order_key),
        "order keys sort in playlist order"
    );
    let unknown = OpId::new_v7();
    let known = store
        .known_playlist_ops(u, &[create.id, unknown, adds.id])
        .unwrap();
    assert_eq!(known, [create.id, adds.id].into_iter().collect());
    assert!(store.known_playlist_ops(u, &[]).unwrap().is_empty());
}

/// An op on a playlist another user owns refuses the whole batch.
fn ops_on_another_users_playlist_conflict_and_apply_nothing(store: &dyn Store) {
    let alice = fixtures::user(store, "alice");
    let mallory = fixtures::user(store, "mallory");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    store
        .apply_playlist_ops(alice, &[d.create(id, "mine", true)], 1)
        .unwrap();
    let own = PlaylistId::new_v7();
    let batch = [
        d.create(own, "mallory's", false),
        d.op(
            id,
            OpKind::Rename {
                name: "pwned".into(),
            },
        ),
    ];
    let result = store.apply_playlist_ops(mallory, &batch, 2);
    assert!(
        matches!(result, Err(StorageError::Conflict(_))),
        "{result:?}"
    );
    assert_eq!(
        store.playlist(id).unwrap().unwrap().detail.playlist.name,
        "mine"
    );
    assert!(
        store.playlist(own).unwrap().is_none(),
        "the batch is atomic"
    );
    assert!(
        store
            .known_playlist_ops(mallory, &[batch[0].id])
            .unwrap()
            .is_empty()
    );
}

/// Removed entries stay in the state as tombstones; the playlist shows the live ones, and keeps
/// entries whose track is not (or no longer) in the library, marked unavailable.
fn removed_entries_are_tombstones_and_missing_tracks_stay_unavailable(store: &dyn Store) {
    let u = fixtures::user(store, "tomb");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    let e: Vec<EntryId> = (0..3).map(|_| EntryId::new_v7()).collect();
    store
        .apply_playlist_ops(
            u,
            &[
                d.create(id, "t", false),
                d.op(
                    id,
                    add(&[(e[0], 900_001), (e[1], 900_002), (e[2], 900_003)]),
                ),
                d.op(id, OpKind::Remove { entry: e[1] }),
            ],
            1,
        )
        .unwrap();
    let state = store.playlist_state(id).unwrap().expect("state");
    assert_eq!(state.slots.len(), 3);
    assert!(state.slots.iter().any(|s| s.entry == e[1] && s.removed));
    assert_eq!(live(&state), [e[0], e[2]]);
    let p = store.playlist(id).unwrap().unwrap().detail;
    assert_eq!(
        p.entries.iter().map(|x| x.id).collect::<Vec<_>>(),
        [e[0], e[2]]
    );
    assert!(p.entries.iter().all(|x| !x.available), "no such tracks");
    assert_eq!((p.playlist.entry_count, p.playlist.duration_ms), (2, 0));
    assert!(
        store
            .playlist_state(PlaylistId::new_v7())
            .unwrap()
            .is_none()
    );
}

/// A deleted playlist is gone for everyone, keeps its owner and its ops (a late op is accepted
/// and changes nothing), and the feed says it was deleted.
fn deleted_playlists_stay_deleted(store: &dyn Store) {
    let u = fixtures::user(store, "del");
    let other = fixtures::user(store, "other");
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    store
        .apply_playlist_ops(u, &[d.create(id, "bye", true)], 1)
        .unwrap();
    let since = store.changes(u, "0", 100).unwrap().next_since;
    store
        .apply_playlist_ops(u, &[d.op(id, OpKind::Delete)], 2)
        .unwrap();
    assert!(store.playlist(id).unwrap().is_none());
    assert!(store.playlists_visible_to(u).unwrap().is_empty());
    assert!(store.playlists_visible_to(other).unwrap().is_empty());
    assert_eq!(store.playlist_owner(id).unwrap(), Some(u));
    assert!(store.playlist_state(id).unwrap().unwrap().deleted);

    let page = store.changes(u, &since, 100).unwrap();
    assert!(
        matches!(page.changes.as_slice(), [Change::PlaylistDeleted { id: x, .. }] if *x == id),
        "{:?}",
        page.changes
    );
    let late = d.op(
        id,
        OpKind::Rename {
            name: "back?".into(),
        },
    );
    assert_eq!(
        store
            .apply_playlist_ops(u, std::slice::from_ref(&late), 3)
            .unwrap(),
        1
    );
    assert!(store.playlist(id).unwrap().is_none(), "delete wins");
    assert_eq!(store.apply_playlist_ops(u, &[late], 4).unwrap(), 0);
    let other_op = d.op(
        id,
        OpKind::Rename {
            name: "mine".into(),
        },
    );
    assert!(matches!(
        store.apply_playlist_ops(other, &[other_op], 5),
        Err(StorageError::Conflict(_))
    ));
}

/// Pushes `n` moves of the entries, in batches of at most 1000.
fn push_moves(
    store: &dyn Store,
    user: UserId,
    device: &mut Device,
    id: PlaylistId,
    entries: &[EntryId],
    n: usize,
    log: &mut Vec<PlaylistOp>,
) {
    let mut left = n;
    while left > 0 {
        let batch: Vec<PlaylistOp> = (0..left.min(1000))
            .map(|i| {
                let k = log.len() + i;
                device.op(
                    id,
                    OpKind::Move {
                        entry: entries[k % entries.len()],
                        to: Anchor::After(entries[(k * 7 + 3) % entries.len()]),
                    },
                )
            })
            .collect();
        assert_eq!(
            store.apply_playlist_ops(user, &batch, 1).unwrap(),
            batch.len() as u64
        );
        left -= batch.len();
        log.extend(batch);
    }
}

/// Edits apply to the kept snapshot; a late op (from a device that was offline) rebuilds to what
/// materializing every op gives; after 5,000 ops the log is compacted, folded ops stay known,
/// and an op from before the compaction lands right after its base.
fn late_ops_and_compaction_keep_the_merge_rules(store: &dyn Store) {
    let u = fixtures::user(store, "snap");
    let id = PlaylistId::new_v7();
    let mut phone = Device::new();
    let mut laptop = Device::new();
    let entries: Vec<EntryId> = (0..8).map(|_| EntryId::new_v7()).collect();
    let adds: Vec<(EntryId, i64)> = entries.iter().zip(1..).map(|(e, t)| (*e, t)).collect();
    let mut log = vec![phone.create(id, "snap", false), phone.op(id, add(&adds))];
    store.apply_playlist_ops(u, &log, 1).unwrap();
    laptop.clock = phone.clock;

    let offline = vec![
        laptop.op(id, OpKind::Remove { entry: entries[2] }),
        laptop.op(
            id,
            OpKind::Move {
                entry: entries[5],
                to: Anchor::Start,
            },
        ),
    ];
    push_moves(store, u, &mut phone, id, &entries, 300, &mut log);
    store.apply_playlist_ops(u, &offline, 1).unwrap();
    log.extend(offline.iter().cloned());
    let expected = materialize(&log).unwrap();
    assert_eq!(entry_ids(store, id), live(&expected));
    assert!(
        !entry_ids(store, id).contains(&entries[2]),
        "remove beats move"
    );

    push_moves(store, u, &mut phone, id, &entries, 5_000, &mut log);
    let base = Snapshot::of(&log).unwrap();
    assert_eq!(entry_ids(store, id), live(&base.state));
    let replay = &log[2..1000];
    assert_eq!(
        store.apply_playlist_ops(u, replay, 1).unwrap(),
        0,
        "folded ops stay known"
    );
    let ids: Vec<OpId> = replay.iter().map(|op| op.id).collect();
    assert_eq!(store.known_playlist_ops(u, &ids).unwrap().len(), ids.len());
    assert_eq!(entry_ids(store, id), live(&base.state));

    let mut old = Device {
        id: DeviceId::new_v7(),
        clock: 3,
    };
    let late = old.op(
        id,
        OpKind::Move {
            entry: entries[7],
            to: Anchor::Start,
        },
    );
    let after = phone.op(
        id,
        OpKind::Rename {
            name: "after".into(),
        },
    );
    store
        .apply_playlist_ops(u, &[late.clone(), after.clone()], 1)
        .unwrap();
    let expected = Snapshot::rebuild(Some(base), [&late, &after]).unwrap();
    assert_eq!(entry_ids(store, id), live(&expected.state));
    assert_eq!(entry_ids(store, id)[0], entries[7]);
    assert_eq!(store.playlist_state(id).unwrap().unwrap(), expected.state);
    let p = store.playlist(id).unwrap().unwrap().detail.playlist;
    assert_eq!(p.name, "after");
}

/// Pushes to one playlist from several threads at once (as from several nodes) lose no op.
fn concurrent_pushes_to_one_playlist_lose_nothing(store: &dyn Store) {
    let u = fixtures::user(store, "busy");
    let id = PlaylistId::new_v7();
    let mut d = Device::new();
    store
        .apply_playlist_ops(u, &[d.create(id, "shared", false)], 1)
        .unwrap();
    let (threads, pushes) = (4, 10);
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut d = Device::new();
                d.clock = 1;
                for i in 0..pushes {
                    let op = d.op(id, add(&[(EntryId::new_v7(), t * 100 + i)]));
                    assert_eq!(store.apply_playlist_ops(u, &[op], 2).unwrap(), 1);
                }
            });
        }
    });
    let p = store.playlist(id).unwrap().unwrap().detail;
    assert_eq!(p.entries.len() as i64, threads * pushes, "every push kept");
    let state = store.playlist_state(id).unwrap().unwrap();
    assert_eq!(state.slots.len() as i64, threads * pushes);
}

/// The feed pages by sequence, one row per item (its last change), only the user's own and
/// catalog rows; `revision` is the newest visible sequence and `next_since` reaches it.
fn the_feed_pages_compacts_and_shows_only_the_users_changes(store: &dyn Store) {
    let u = fixtures::user(store, "feed");
    let other = fixtures::user(store, "noise");
    let mut d = Device::new();
    let ids: Vec<PlaylistId> = (0..5).map(|_| PlaylistId::new_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        store
            .apply_playlist_ops(u, &[d.create(*id, &format!("p{i}"), false)], 1)
            .unwrap();
    }
    // One batch creating and renaming: one change, the last state.
    let both = PlaylistId::new_v7();
    store
        .apply_playlist_ops(
            u,
            &[
                d.create(both, "draft", false),
                d.op(
                    both,
                    OpKind::Rename {
                        name: "final".into(),
                    },
                ),
            ],
            1,
        )
        .unwrap();
    store
        .apply_playlist_ops(other, &[fixtures::create_op("not yours")], 1)
        .unwrap();
    let other_rev = store.changes(other, "0", 100).unwrap().revision;
    let before_rename = store.changes(u, "0", 100).unwrap().revision;
    // Renaming p0 moves its row past the others.
    store
        .apply_playlist_ops(
            u,
            &[d.op(
                ids[0],
                OpKind::Rename {
                    name: "p0 again".into(),
                },
            )],
            2,
        )
        .unwrap();

    let full = store.changes(u, "0", 100).unwrap();
    assert!(!full.has_more);
    assert!(
        full.revision > before_rename,
        "the rename is the newest change"
    );
    let names: Vec<String> = full
        .changes
        .iter()
        .map(|c| match c {
            Change::Playlist { playlist, .. } => playlist.playlist.name.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(names, ["p1", "p2", "p3", "p4", "final", "p0 again"]);
    let revs: Vec<i64> = full
        .changes
        .iter()
        .map(|c| match c {
            Change::Playlist { rev, playlist } => {
                assert_eq!(
                    *rev, playlist.playlist.revision,
                    "a playlist's revision is its row's"
                );
                *rev
            }
            _ => unreachable!(),
        })
        .collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "ordered by sequence");
    assert_eq!(*revs.last().unwrap(), full.revision);

    // Paged by two: the same rows, has_more until the last page.
    let mut since = "0".to_string();
    let mut paged = Vec::new();
    loop {
        let page = store.changes(u, &since, 2).unwrap();
        assert_eq!(page.revision, full.revision);
        assert!(page.changes.len() <= 2);
        paged.extend(page.changes.clone());
        since = page.next_since;
        if !page.has_more {
            break;
        }
        assert_eq!(page.changes.len(), 2);
    }
    assert_eq!(since, full.next_since, "paging ends where one page ends");
    assert_eq!(paged, full.changes);

    let caught_up = store.changes(u, &full.next_since, 10).unwrap();
    assert!(caught_up.changes.is_empty() && !caught_up.has_more);
    assert_eq!(caught_up.next_since, full.next_since);
    // The other user's revision does not count their neighbour's changes.
    assert!(store.changes(other, "0", 100).unwrap().changes.len() == 1);
    assert_eq!(store.changes(other, "0", 100).unwrap().revision, other_rev);
}

/// Scanned tracks are in everyone's feed; a playlist entry of a library track is available and
/// counts in the playlist's duration.
fn the_feed_carries_library_tracks(store: &dyn Store) {
    let u = fixtures::user(store, "lib");
    fixtures::scan(
        store,
        vec![
            fixtures::record("A/a.flac", "Song A", "Band", "Record", Some(2001)),
            fixtures::record("A/b.flac", "Song B", "Band", "Record", Some(2001)),
        ],
    );
    let page = store.changes(u, "0", 100).unwrap();
    let mut titles: Vec<String> = page
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Track { track, .. } => Some(track.title.clone()),
            _ => None,
        })
        .collect();
    titles.sort();
    assert_eq!(titles, ["Song A", "Song B"]);
    let ids = store.track_ids_by_paths(&["A/a.flac".to_string()]).unwrap();
    let track = ids["A/a.flac"];
    let mut d = Device::new();
    let id = PlaylistId::new_v7();
    store
        .apply_playlist_ops(
            u,
            &[
                d.create(id, "lib", false),
                d.op(
                    id,
                    add(&[(EntryId::new_v7(), track.0), (EntryId::new_v7(), 999_999)]),
                ),
            ],
            1,
        )
        .unwrap();
    let p = store.playlist(id).unwrap().unwrap().detail;
    assert_eq!(
        p.entries.iter().map(|e| e.available).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(p.playlist.duration_ms, 180_000);
    let one = store.changes(u, "0", 1).unwrap();
    assert!(one.has_more);
    assert_eq!(one.changes.len(), 1);
}

stories!(
    playlists_are_visible_to_their_owner_and_public_ones_to_all,
    ops_apply_once_and_are_known_by_id,
    ops_on_another_users_playlist_conflict_and_apply_nothing,
    removed_entries_are_tombstones_and_missing_tracks_stay_unavailable,
    deleted_playlists_stay_deleted,
    late_ops_and_compaction_keep_the_merge_rules,
    concurrent_pushes_to_one_playlist_lose_nothing,
    the_feed_pages_compacts_and_shows_only_the_users_changes,
    the_feed_carries_library_tracks,
);
