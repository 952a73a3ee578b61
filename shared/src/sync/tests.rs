//! Tests of the playlist sync model: the rules at the top of `sync.rs` one by one, a simulation of
//! several offline devices and a server that must converge, and the pinned wire format of an op.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Helpers: small numbers stand for ids so the expected orders read like the playlists they are.

fn playlist() -> PlaylistId {
    PlaylistId(Uuid::from_u128(0x9000))
}

fn device(n: u128) -> DeviceId {
    DeviceId(Uuid::from_u128(0xD000 + n))
}

fn e(n: u128) -> EntryId {
    EntryId(Uuid::from_u128(0xE000 + n))
}

fn es(ns: &[u128]) -> Vec<EntryId> {
    ns.iter().copied().map(e).collect()
}

fn track_of(n: u128) -> TrackId {
    TrackId(1000 + n as i64)
}

/// A `(clock, device)` pair, as the stamp tables below write it.
type Stamp = (u64, u128);

fn op_id(n: u128) -> OpId {
    OpId(Uuid::from_u128(0x0A00_0000 + n))
}

/// Ops of the test playlist from `(clock, device, kind)`; op ids are 1, 2, ... in list order.
fn ops(spec: Vec<(u64, u128, OpKind)>) -> Vec<PlaylistOp> {
    spec.into_iter()
        .enumerate()
        .map(|(i, (clock, dev, kind))| PlaylistOp {
            id: op_id(i as u128 + 1),
            playlist_id: playlist(),
            clock,
            device: device(dev),
            kind,
        })
        .collect()
}

fn create(name: &str) -> OpKind {
    OpKind::Create {
        name: name.to_owned(),
        public: false,
    }
}

fn add(ns: &[u128], at: Anchor) -> OpKind {
    OpKind::Add {
        entries: ns
            .iter()
            .map(|&n| NewEntry {
                id: e(n),
                track_id: track_of(n),
            })
            .collect(),
        at,
    }
}

fn after(n: u128) -> Anchor {
    Anchor::After(e(n))
}

fn remove(n: u128) -> OpKind {
    OpKind::Remove { entry: e(n) }
}

fn mv(n: u128, to: Anchor) -> OpKind {
    OpKind::Move { entry: e(n), to }
}

fn rename(name: &str) -> OpKind {
    OpKind::Rename {
        name: name.to_owned(),
    }
}

fn set_public(public: bool) -> OpKind {
    OpKind::SetPublic { public }
}

/// A playlist "Mix" made by device 0 at clock 1 and filled with `ns` at clock 2.
fn base(ns: &[u128]) -> Vec<(u64, u128, OpKind)> {
    vec![(1, 0, create("Mix")), (2, 0, add(ns, Anchor::End))]
}

fn with(mut spec: Vec<(u64, u128, OpKind)>, more: Vec<(u64, u128, OpKind)>) -> Vec<PlaylistOp> {
    spec.extend(more);
    ops(spec)
}

fn state(ops: &[PlaylistOp]) -> PlaylistState {
    materialize(ops).expect("the ops include a create")
}

fn live(state: &PlaylistState) -> Vec<EntryId> {
    state.entries().map(|(entry, _)| entry).collect()
}

fn reversed(ops: &[PlaylistOp]) -> Vec<PlaylistOp> {
    ops.iter().rev().cloned().collect()
}

/// Materializes in the given order and reversed, asserts both agree, and returns the state.
fn state_both_orders(ops: &[PlaylistOp]) -> PlaylistState {
    let forward = state(ops);
    assert_eq!(
        forward,
        state(&reversed(ops)),
        "materialize depends on op order"
    );
    forward
}

// ---------------------------------------------------------------------------------------------
// Create, rename, set_public

#[test]
fn create_starts_an_empty_private_playlist_with_its_name_and_clock() {
    let ops = ops(vec![(4, 0, create("Mix"))]);
    let s = state(&ops);
    assert_eq!(s.id, playlist());
    assert_eq!(s.name, "Mix");
    assert!(!s.public);
    assert!(!s.deleted);
    assert_eq!(s.clock, 4);
    assert!(s.slots.is_empty());

    let public = ops_with_public_create();
    assert!(state(&public).public);
}

fn ops_with_public_create() -> Vec<PlaylistOp> {
    ops(vec![(
        1,
        0,
        OpKind::Create {
            name: "Mix".into(),
            public: true,
        },
    )])
}

#[test]
fn rename_and_set_public_change_name_and_visibility_in_stamp_order() {
    let ops = with(
        base(&[]),
        vec![
            (3, 0, rename("Road trip")),
            (4, 0, set_public(true)),
            (5, 0, rename("Road trip 2")),
            (6, 0, set_public(false)),
            (7, 0, set_public(true)),
        ],
    );
    let s = state_both_orders(&ops);
    assert_eq!(s.name, "Road trip 2");
    assert!(s.public);
    assert_eq!(s.clock, 7);
}

#[test]
fn a_second_create_of_the_same_playlist_changes_nothing() {
    let ops = with(
        base(&[1, 2]),
        vec![(3, 1, create("Other")), (4, 0, remove(1))],
    );
    let s = state_both_orders(&ops);
    assert_eq!(s.name, "Mix");
    assert_eq!(live(&s), es(&[2]));
}

// ---------------------------------------------------------------------------------------------
// Add

#[test]
fn add_lands_at_start_end_or_right_after_its_anchor_entry() {
    let cases: Vec<(&str, Anchor, Vec<EntryId>)> = vec![
        ("start", Anchor::Start, es(&[9, 1, 2, 3])),
        ("end", Anchor::End, es(&[1, 2, 3, 9])),
        ("after first", after(1), es(&[1, 9, 2, 3])),
        ("after middle", after(2), es(&[1, 2, 9, 3])),
        ("after last", after(3), es(&[1, 2, 3, 9])),
        ("after unknown = end", after(42), es(&[1, 2, 3, 9])),
    ];
    for (name, at, expected) in cases {
        let ops = with(base(&[1, 2, 3]), vec![(3, 0, add(&[9], at))]);
        assert_eq!(live(&state(&ops)), expected, "case {name}");
    }
}

#[test]
fn add_to_an_empty_playlist_works_for_every_anchor() {
    for at in [Anchor::Start, Anchor::End, after(42)] {
        let ops = with(base(&[]), vec![(3, 0, add(&[1, 2], at))]);
        assert_eq!(live(&state(&ops)), es(&[1, 2]), "anchor {at:?}");
    }
}

#[test]
fn add_keeps_each_entrys_track() {
    let ops = with(base(&[1, 2]), vec![]);
    let entries: Vec<(EntryId, TrackId)> = state(&ops).entries().collect();
    assert_eq!(entries, vec![(e(1), track_of(1)), (e(2), track_of(2))]);
}

#[test]
fn a_batch_add_stays_contiguous_and_in_its_order_at_every_anchor() {
    let cases: Vec<(Anchor, Vec<EntryId>)> = vec![
        (Anchor::Start, es(&[7, 8, 9, 1, 2, 3])),
        (Anchor::End, es(&[1, 2, 3, 7, 8, 9])),
        (after(1), es(&[1, 7, 8, 9, 2, 3])),
        (after(2), es(&[1, 2, 7, 8, 9, 3])),
    ];
    for (at, expected) in cases {
        let ops = with(base(&[1, 2, 3]), vec![(3, 0, add(&[7, 8, 9], at))]);
        assert_eq!(live(&state(&ops)), expected, "anchor {at:?}");
    }
}

#[test]
fn concurrent_appends_are_both_kept_and_batches_stay_together() {
    // Two devices append a batch each without having seen the other's; the lower (clock, device)
    // is applied first, so it lands first.
    let cases: Vec<(Stamp, Stamp, Vec<EntryId>)> = vec![
        ((3, 1), (3, 2), es(&[1, 2, 4, 5, 6, 7])),
        ((3, 2), (3, 1), es(&[1, 2, 6, 7, 4, 5])),
        ((5, 1), (3, 2), es(&[1, 2, 6, 7, 4, 5])),
        ((3, 2), (5, 1), es(&[1, 2, 4, 5, 6, 7])),
    ];
    for ((ca, da), (cb, db), expected) in cases {
        let ops = with(
            base(&[1, 2]),
            vec![
                (ca, da, add(&[4, 5], Anchor::End)),
                (cb, db, add(&[6, 7], Anchor::End)),
            ],
        );
        assert_eq!(
            live(&state_both_orders(&ops)),
            expected,
            "a at ({ca}, {da}), b at ({cb}, {db})"
        );
    }
}

#[test]
fn concurrent_inserts_after_the_same_entry_are_both_kept_and_batches_stay_together() {
    for (first, second) in [(1, 2), (2, 1)] {
        let ops = with(
            base(&[1, 2, 3]),
            vec![
                (3, first, add(&[4, 5], after(1))),
                (3, second, add(&[6, 7], after(1))),
            ],
        );
        // The later stamp is applied last, so it lands right after the anchor.
        let expected = if first < second {
            es(&[1, 6, 7, 4, 5, 2, 3])
        } else {
            es(&[1, 4, 5, 6, 7, 2, 3])
        };
        assert_eq!(live(&state_both_orders(&ops)), expected);
    }
}

#[test]
fn duplicate_entry_ids_in_a_later_add_are_ignored() {
    let ops = with(
        base(&[1, 2, 3]),
        vec![
            (3, 0, remove(3)),
            // 2 is live, 3 is a tombstone: neither comes back nor moves; 9 is new.
            (4, 1, add(&[2, 9, 3], Anchor::Start)),
        ],
    );
    let s = state_both_orders(&ops);
    assert_eq!(live(&s), es(&[9, 1, 2]));
    assert_eq!(s.slots.len(), 4, "no second slot for a known entry");
    assert_eq!(
        s.entries().find(|(id, _)| *id == e(2)),
        Some((e(2), track_of(2)))
    );
}

#[test]
fn an_add_whose_entries_are_all_known_changes_nothing() {
    let before = state(&with(base(&[1, 2]), vec![]));
    let ops = with(base(&[1, 2]), vec![(3, 0, add(&[2, 1], Anchor::Start))]);
    let after_add = state(&ops);
    assert_eq!(after_add.slots, before.slots);
}

// ---------------------------------------------------------------------------------------------
// Remove

#[test]
fn remove_hides_the_entry_but_leaves_a_tombstone() {
    let ops = with(base(&[1, 2, 3]), vec![(3, 0, remove(2))]);
    let s = state(&ops);
    assert_eq!(live(&s), es(&[1, 3]));
    assert_eq!(
        s.slots,
        vec![
            Slot {
                entry: e(1),
                track_id: track_of(1),
                removed: false
            },
            Slot {
                entry: e(2),
                track_id: track_of(2),
                removed: true
            },
            Slot {
                entry: e(3),
                track_id: track_of(3),
                removed: false
            },
        ]
    );
}

#[test]
fn a_tombstone_still_anchors_later_and_concurrent_inserts_and_moves() {
    // Later insert (clock 4 after the remove at 3).
    let later = with(
        base(&[1, 2, 3]),
        vec![(3, 0, remove(2)), (4, 0, add(&[9], after(2)))],
    );
    assert_eq!(live(&state(&later)), es(&[1, 9, 3]));

    // Concurrent insert, in both stamp orders: the insert lands where 2 was, not at the end.
    for (remover, inserter) in [(1, 2), (2, 1)] {
        let ops = with(
            base(&[1, 2, 3]),
            vec![(3, remover, remove(2)), (3, inserter, add(&[9], after(2)))],
        );
        assert_eq!(live(&state_both_orders(&ops)), es(&[1, 9, 3]));
    }

    // A concurrent move anchored on the removed entry also keeps its place.
    for (remover, mover) in [(1, 2), (2, 1)] {
        let ops = with(
            base(&[1, 2, 3, 4]),
            vec![(3, remover, remove(2)), (3, mover, mv(4, after(2)))],
        );
        assert_eq!(live(&state_both_orders(&ops)), es(&[1, 4, 3]));
    }
}

#[test]
fn removing_an_unknown_or_already_removed_entry_changes_nothing() {
    let once = state(&with(base(&[1, 2]), vec![(3, 0, remove(1))]));
    let again = state(&with(
        base(&[1, 2]),
        vec![(3, 0, remove(1)), (4, 1, remove(1)), (5, 0, remove(42))],
    ));
    assert_eq!(again.slots, once.slots);
    assert_eq!(live(&again), es(&[2]));
}

#[test]
fn a_remove_beats_a_concurrent_move_in_either_stamp_order() {
    // (remove stamp, move stamp): the move sorted first or last, by clock or by device.
    let cases: Vec<(Stamp, Stamp)> = vec![
        ((3, 1), (3, 2)),
        ((3, 2), (3, 1)),
        ((3, 1), (4, 2)),
        ((4, 1), (3, 2)),
    ];
    for (rm, mov) in cases {
        let ops = with(
            base(&[1, 2, 3]),
            vec![
                (rm.0, rm.1, remove(3)),
                (mov.0, mov.1, mv(3, Anchor::Start)),
            ],
        );
        let s = state_both_orders(&ops);
        assert_eq!(live(&s), es(&[1, 2]), "remove at {rm:?}, move at {mov:?}");
        // And a later move of the removed entry does not bring it back either.
        let mut later = ops.clone();
        later.push(PlaylistOp {
            id: op_id(99),
            playlist_id: playlist(),
            clock: 9,
            device: device(0),
            kind: mv(3, after(1)),
        });
        assert_eq!(live(&state(&later)), es(&[1, 2]));
    }
}

#[test]
fn a_move_sorted_after_a_remove_leaves_the_tombstone_where_it_was() {
    // Device 2 moved 2 to the end without having seen device 1 remove it: the tombstone keeps
    // its place, so an insert anchored on 2 still lands between 1 and 3.
    let ops = with(
        base(&[1, 2, 3, 4]),
        vec![
            (3, 1, remove(2)),
            (4, 2, mv(2, Anchor::End)),
            (5, 0, add(&[9], after(2))),
        ],
    );
    let s = state_both_orders(&ops);
    assert_eq!(live(&s), es(&[1, 9, 3, 4]));
    let order: Vec<EntryId> = s.slots.iter().map(|slot| slot.entry).collect();
    assert_eq!(order, es(&[1, 2, 9, 3, 4]));
}

// ---------------------------------------------------------------------------------------------
// Move

#[test]
fn move_puts_the_entry_at_start_end_or_after_its_anchor() {
    let cases: Vec<(&str, OpKind, Vec<EntryId>)> = vec![
        ("to start", mv(3, Anchor::Start), es(&[3, 1, 2, 4])),
        ("to end", mv(1, Anchor::End), es(&[2, 3, 4, 1])),
        ("forward", mv(1, after(3)), es(&[2, 3, 1, 4])),
        ("backward", mv(4, after(1)), es(&[1, 4, 2, 3])),
        ("to where it is", mv(2, after(1)), es(&[1, 2, 3, 4])),
        ("after itself", mv(2, after(2)), es(&[1, 2, 3, 4])),
        ("after unknown = end", mv(2, after(42)), es(&[1, 3, 4, 2])),
        ("unknown entry", mv(42, Anchor::Start), es(&[1, 2, 3, 4])),
    ];
    for (name, kind, expected) in cases {
        let ops = with(base(&[1, 2, 3, 4]), vec![(3, 0, kind)]);
        let s = state(&ops);
        assert_eq!(live(&s), expected, "case {name}");
        assert_eq!(
            s.slots.len(),
            4,
            "case {name}: a move neither adds nor drops slots"
        );
    }
}

#[test]
fn concurrent_moves_of_one_entry_last_clock_then_device_wins() {
    // Device 1 moves entry 1 after 3, device 2 moves it to the end.
    let after_3 = es(&[2, 3, 1, 4]);
    let to_end = es(&[2, 3, 4, 1]);
    let cases: Vec<(Stamp, Stamp, &Vec<EntryId>)> = vec![
        ((3, 1), (3, 2), &to_end),  // same clock: device 2 is later
        ((3, 2), (3, 1), &after_3), // same clock, devices swapped
        ((4, 1), (3, 2), &after_3), // higher clock wins over higher device
        ((3, 1), (4, 2), &to_end),
        ((9, 2), (4, 1), &after_3),
    ];
    for (a, b, expected) in cases {
        let ops = with(
            base(&[1, 2, 3, 4]),
            vec![(a.0, a.1, mv(1, after(3))), (b.0, b.1, mv(1, Anchor::End))],
        );
        assert_eq!(
            &live(&state_both_orders(&ops)),
            expected,
            "move after 3 at {a:?}, move to end at {b:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rename / set_public: last writer wins

#[test]
fn concurrent_renames_last_writer_wins_by_clock_then_device() {
    let cases: Vec<(Stamp, Stamp, &str)> = vec![
        ((3, 1), (3, 2), "B"),
        ((3, 2), (3, 1), "A"),
        ((4, 1), (3, 2), "A"),
        ((3, 1), (4, 2), "B"),
        ((7, 0), (5, 3), "A"),
    ];
    for (a, b, expected) in cases {
        let ops = with(
            base(&[]),
            vec![(a.0, a.1, rename("A")), (b.0, b.1, rename("B"))],
        );
        assert_eq!(
            state_both_orders(&ops).name,
            expected,
            "A at {a:?}, B at {b:?}"
        );
    }
}

#[test]
fn concurrent_set_public_last_writer_wins_by_clock_then_device() {
    let cases: Vec<(Stamp, Stamp, bool)> = vec![
        ((3, 1), (3, 2), false),
        ((3, 2), (3, 1), true),
        ((4, 1), (3, 2), true),
        ((3, 1), (4, 2), false),
    ];
    for (yes, no, expected) in cases {
        let ops = with(
            base(&[]),
            vec![
                (yes.0, yes.1, set_public(true)),
                (no.0, no.1, set_public(false)),
            ],
        );
        assert_eq!(state_both_orders(&ops).public, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Delete

#[test]
fn a_delete_wins_over_concurrent_edits_and_later_ops_do_not_resurrect() {
    // Device 1 deletes at clock 3; devices 0 and 2 edit concurrently (sorted before and after the
    // delete), and some ops with higher clocks arrive later.
    let ops = with(
        base(&[1, 2, 3]),
        vec![
            (3, 1, OpKind::Delete),
            (3, 0, add(&[4], Anchor::End)),
            (3, 2, add(&[5], Anchor::Start)),
            (3, 2, mv(1, Anchor::End)),
            (3, 0, remove(2)),
            (4, 2, set_public(true)),
            (5, 0, add(&[6, 7], Anchor::Start)),
            (6, 2, rename("Still here?")),
            (7, 0, create("Mix again")),
        ],
    );
    let s = state_both_orders(&ops);
    assert!(s.deleted);
    assert!(s.slots.is_empty());
    assert_eq!(live(&s), Vec::<EntryId>::new());
    assert_eq!(s.name, "Mix");
    assert!(!s.public);
    assert_eq!(s.clock, 7, "the clock still counts ops after the delete");
}

#[test]
fn a_delete_keeps_edits_it_sorts_after_but_still_empties_the_playlist() {
    let ops = with(
        base(&[1]),
        vec![(3, 0, rename("Before")), (3, 1, OpKind::Delete)],
    );
    let s = state_both_orders(&ops);
    assert!(s.deleted && s.slots.is_empty());
    assert_eq!(s.name, "Before");
}

// ---------------------------------------------------------------------------------------------
// materialize

#[test]
fn a_replayed_op_is_a_no_op() {
    let ops = with(
        base(&[1, 2, 3]),
        vec![
            (3, 0, mv(1, Anchor::End)),
            (4, 1, add(&[9], Anchor::End)),
            (5, 0, remove(2)),
            (6, 1, rename("R")),
        ],
    );
    let once = state(&ops);
    assert_eq!(live(&once), es(&[3, 1, 9]));
    // Every op sent again (and the move three times), arriving in a different order.
    let mut replayed: Vec<PlaylistOp> = ops.iter().rev().cloned().collect();
    replayed.extend(ops.iter().cloned());
    replayed.push(ops[2].clone());
    replayed.insert(0, ops[2].clone());
    assert_eq!(state(&replayed), once);
}

#[test]
fn materialize_is_order_independent_for_fixed_permutations() {
    let ops = order_test_ops();
    let expected = state(&ops);
    let n = ops.len();
    for rotation in 0..n {
        let mut rotated = ops.clone();
        rotated.rotate_left(rotation);
        assert_eq!(state(&rotated), expected, "rotation {rotation}");
        rotated.reverse();
        assert_eq!(state(&rotated), expected, "reversed rotation {rotation}");
    }
}

/// A log with inserts, removes, moves and renames from three devices, several of them concurrent.
fn order_test_ops() -> Vec<PlaylistOp> {
    with(
        base(&[1, 2, 3, 4]),
        vec![
            (3, 1, add(&[5, 6], after(2))),
            (3, 2, add(&[7], after(2))),
            (3, 0, remove(3)),
            (4, 2, mv(1, after(3))),
            (4, 1, mv(1, Anchor::Start)),
            (4, 0, rename("zero")),
            (4, 1, rename("one")),
            (5, 2, add(&[8, 9], after(3))),
            (5, 1, remove(6)),
            (6, 0, mv(4, Anchor::Start)),
            (6, 2, set_public(true)),
            (7, 1, mv(8, after(42))),
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn materialize_is_order_independent_under_any_shuffle_with_duplicates(
        shuffled in Just(order_test_ops()).prop_shuffle(),
        duplicates in prop::collection::vec(0..14usize, 0..6),
    ) {
        let expected = state(&order_test_ops());
        let mut input = shuffled.clone();
        for i in duplicates {
            input.push(shuffled[i % shuffled.len()].clone());
        }
        prop_assert_eq!(state(&input), expected);
    }
}

#[test]
fn materialize_without_a_create_returns_none() {
    assert_eq!(materialize(&Vec::new()), None);
    let no_create: Vec<PlaylistOp> = ops(vec![
        (2, 0, add(&[1], Anchor::End)),
        (3, 0, rename("x")),
        (4, 0, OpKind::Delete),
    ]);
    assert_eq!(materialize(&no_create), None);
}

#[test]
fn ops_sorted_before_the_create_are_ignored() {
    // Causality makes this impossible for honest devices; materialize must still not crash.
    let ops = ops(vec![
        (1, 0, add(&[1], Anchor::End)),
        (2, 0, create("Mix")),
        (3, 0, add(&[2], Anchor::End)),
    ]);
    let s = state_both_orders(&ops);
    assert_eq!(live(&s), es(&[2]));
    assert_eq!(s.clock, 3);
}

#[test]
fn apply_ignores_ops_of_another_playlist_and_tracks_the_largest_clock() {
    let mut s = state(&with(base(&[1]), vec![]));
    let before = s.clone();
    let mut foreign = ops(vec![(50, 0, OpKind::Delete)]).remove(0);
    foreign.playlist_id = PlaylistId(Uuid::from_u128(0x9001));
    s.apply(&foreign);
    assert_eq!(
        s, before,
        "another playlist's op changes nothing, not even the clock"
    );

    let mine = ops(vec![(8, 1, rename("x"))]).remove(0);
    s.apply(&mine);
    assert_eq!(s.clock, 8);
    let older = ops(vec![(5, 1, rename("y"))]).remove(0);
    s.apply(&older);
    assert_eq!(s.clock, 8, "clock never goes back");
}

// ---------------------------------------------------------------------------------------------
// anchor_at

/// Live entries 1, 3, 4 with a tombstone for 2 between 1 and 3.
fn with_tombstone() -> PlaylistState {
    state(&with(base(&[1, 2, 3, 4]), vec![(3, 0, remove(2))]))
}

#[test]
fn anchor_at_maps_positions_to_anchors() {
    let s = with_tombstone();
    let cases: Vec<(&str, usize, Option<EntryId>, Anchor)> = vec![
        ("first", 0, None, Anchor::Start),
        ("after first (tombstone not counted)", 1, None, after(1)),
        ("middle", 2, None, after(3)),
        ("end", 3, None, Anchor::End),
        ("past end", 4, None, Anchor::End),
        ("far past end", 100, None, Anchor::End),
        ("skip: first", 0, Some(e(3)), Anchor::Start),
        ("skip the first entry", 1, Some(e(1)), after(3)),
        ("skip a middle entry", 1, Some(e(3)), after(1)),
        ("skip: end", 2, Some(e(3)), Anchor::End),
        ("skip the last entry: end", 2, Some(e(4)), Anchor::End),
        ("skip: past end", 3, Some(e(1)), Anchor::End),
        ("skip an unknown entry", 2, Some(e(42)), after(3)),
    ];
    for (name, position, skip, expected) in cases {
        assert_eq!(s.anchor_at(position, skip), expected, "case {name}");
    }
}

#[test]
fn anchor_at_on_an_empty_playlist_is_start_or_end() {
    let s = state(&with(base(&[]), vec![]));
    assert_eq!(s.anchor_at(0, None), Anchor::Start);
    assert_eq!(s.anchor_at(1, None), Anchor::End);
    assert_eq!(s.anchor_at(5, None), Anchor::End);
    let only_removed = state(&with(base(&[1]), vec![(3, 0, remove(1))]));
    assert_eq!(only_removed.anchor_at(1, None), Anchor::End);
}

/// Playlists of 0 to 5 live entries, with tombstones at various places.
fn anchor_fixtures() -> Vec<PlaylistState> {
    let mut out = Vec::new();
    for n in 0..=5u128 {
        let all: Vec<u128> = (1..=n).collect();
        out.push(state(&with(base(&all), vec![])));
        // Tombstones at the start, in the middle and at the end, plus extra ones around.
        let mut with_dead: Vec<u128> = vec![100];
        for &i in &all {
            with_dead.push(i);
            if i % 2 == 0 {
                with_dead.push(100 + i);
            }
        }
        with_dead.push(200);
        let removes: Vec<(u64, u128, OpKind)> = with_dead
            .iter()
            .filter(|&&i| i >= 100)
            .enumerate()
            .map(|(k, &i)| (3 + k as u64, 0, remove(i)))
            .collect();
        out.push(state(&with(base(&with_dead), removes)));
    }
    out
}

#[test]
fn inserting_at_anchor_at_puts_the_batch_at_that_position() {
    for s in anchor_fixtures() {
        let entries = live(&s);
        for position in 0..=entries.len() + 2 {
            let mut after_add = s.clone();
            after_add.apply(&PlaylistOp {
                id: op_id(500),
                playlist_id: playlist(),
                clock: 50,
                device: device(0),
                kind: add(&[900, 901], s.anchor_at(position, None)),
            });
            let landed = position.min(entries.len());
            let mut expected = entries.clone();
            expected.splice(landed..landed, es(&[900, 901]));
            assert_eq!(
                live(&after_add),
                expected,
                "position {position} in {entries:?}"
            );
        }
    }
}

#[test]
fn moving_to_anchor_at_with_skip_puts_the_entry_at_that_position() {
    for s in anchor_fixtures() {
        let entries = live(&s);
        for (from, &moved) in entries.iter().enumerate() {
            for position in 0..entries.len() + 2 {
                let mut after_move = s.clone();
                after_move.apply(&PlaylistOp {
                    id: op_id(500),
                    playlist_id: playlist(),
                    clock: 50,
                    device: device(0),
                    kind: OpKind::Move {
                        entry: moved,
                        to: s.anchor_at(position, Some(moved)),
                    },
                });
                let mut expected = entries.clone();
                expected.remove(from);
                let landed = position.min(expected.len());
                expected.insert(landed, moved);
                assert_eq!(
                    live(&after_move),
                    expected,
                    "move {from} to {position} in {entries:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// from_entries + pending ops (the client's local view)

#[test]
fn from_entries_holds_the_snapshot_in_order_without_tombstones() {
    let s = PlaylistState::from_entries(
        playlist(),
        "Mix".into(),
        true,
        5,
        [(e(2), track_of(2)), (e(1), track_of(1))],
    );
    assert_eq!(live(&s), es(&[2, 1]));
    assert!(s.slots.iter().all(|slot| !slot.removed));
    assert!(s.public && !s.deleted);
    assert_eq!((s.name.as_str(), s.clock), ("Mix", 5));
}

#[test]
fn from_entries_plus_pending_ops_gives_the_expected_local_view() {
    // What the device pulled last: "Mix" = 1, 2, 3 (a removed 4 is not in the snapshot).
    let pulled = with(base(&[1, 4, 2, 3]), vec![(3, 1, remove(4))]);
    let canonical = state(&pulled);
    let snapshot = PlaylistState::from_entries(
        canonical.id,
        canonical.name.clone(),
        canonical.public,
        canonical.clock,
        canonical.entries(),
    );
    assert_eq!(live(&snapshot), es(&[1, 2, 3]));

    // The device's pending ops, each made from the view before it.
    let mut view = snapshot.clone();
    let mut pending = Vec::new();
    let next = |view: &PlaylistState, kind: OpKind| PlaylistOp {
        id: op_id(100 + view.clock as u128),
        playlist_id: playlist(),
        clock: view.clock + 1,
        device: device(2),
        kind,
    };
    let steps = [
        add(&[9], view.anchor_at(1, None)),
        remove(3),
        mv(2, Anchor::Start),
        rename("Road"),
        set_public(true),
    ];
    for kind in steps {
        let op = next(&view, kind);
        view.apply(&op);
        pending.push(op);
    }
    assert_eq!(live(&view), es(&[2, 1, 9]));
    assert_eq!(view.name, "Road");
    assert!(view.public);
    assert_eq!(view.clock, 8);
    let tracks: Vec<TrackId> = view.entries().map(|(_, t)| t).collect();
    assert_eq!(tracks, vec![track_of(2), track_of(1), track_of(9)]);

    // With nothing concurrent, the server will compute the same playlist once they are pushed.
    let mut all = pulled.clone();
    all.extend(pending.iter().cloned());
    let after_sync = state(&all);
    assert_eq!(live(&after_sync), live(&view));
    assert_eq!(
        (
            after_sync.name.as_str(),
            after_sync.public,
            after_sync.clock
        ),
        ("Road", true, 8)
    );
}

#[test]
fn an_entry_id_repeated_within_one_add_is_inserted_once() {
    let ops = with(
        base(&[]),
        vec![(3, 0, add(&[1, 1, 2], Anchor::End)), (4, 0, remove(1))],
    );
    let s = state(&ops);
    assert_eq!(live(&s), es(&[2]), "a removed entry must not stay visible");
    assert_eq!(s.slots.len(), 2);
}

#[test]
fn local_view_of_a_pending_insert_after_a_removed_anchor_waits_for_the_next_sync() {
    // Device 2 pulled 1, 2, 3 and inserted 9 after 2 (pending, clock 3). Device 1 removed 2
    // concurrently (clock 3, sorted first); device 2 pulls that before pushing. The pulled
    // snapshot has no tombstones, so the local view shows 9 at the end (documented in sync.rs)
    // and the next sync puts it where every device agrees: after 2's old place.
    let pulled = with(base(&[1, 2, 3]), vec![(3, 1, remove(2))]);
    let pending = PlaylistOp {
        id: op_id(77),
        playlist_id: playlist(),
        clock: 3,
        device: device(2),
        kind: add(&[9], after(2)),
    };
    let canonical = state(&pulled);
    let mut local = PlaylistState::from_entries(
        canonical.id,
        canonical.name.clone(),
        canonical.public,
        canonical.clock,
        canonical.entries(),
    );
    local.apply(&pending);
    assert_eq!(live(&local), es(&[1, 3, 9]));

    let mut all = pulled.clone();
    all.push(pending);
    assert_eq!(live(&state(&all)), es(&[1, 9, 3]));
}

// ---------------------------------------------------------------------------------------------
// Serde: the wire format

fn every_kind() -> Vec<OpKind> {
    vec![
        OpKind::Create {
            name: "Mix ✓ \"quoted\"".into(),
            public: true,
        },
        rename(""),
        set_public(true),
        OpKind::Delete,
        add(&[1, 2], Anchor::Start),
        add(&[3], Anchor::End),
        add(&[], after(1)),
        remove(1),
        mv(2, after(1)),
    ]
}

#[test]
fn every_op_kind_round_trips_through_json() {
    for (i, kind) in every_kind().into_iter().enumerate() {
        let op = PlaylistOp {
            id: OpId::new_v7(),
            playlist_id: playlist(),
            clock: u64::MAX - i as u64,
            device: device(i as u128),
            kind,
        };
        let text = serde_json::to_string(&op).expect("serializes");
        let back: PlaylistOp = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, op, "{text}");
        assert_eq!(back.stamp(), op.stamp());
    }
}

#[test]
fn the_wire_format_of_an_op_is_pinned() {
    let op = PlaylistOp {
        id: OpId(Uuid::from_u128(1)),
        playlist_id: PlaylistId(Uuid::from_u128(2)),
        clock: 7,
        device: DeviceId(Uuid::from_u128(3)),
        kind: OpKind::Add {
            entries: vec![NewEntry {
                id: EntryId(Uuid::from_u128(4)),
                track_id: TrackId(42),
            }],
            at: Anchor::After(EntryId(Uuid::from_u128(5))),
        },
    };
    let expected = json!({
        "id": "00000000-0000-0000-0000-000000000001",
        "playlist_id": "00000000-0000-0000-0000-000000000002",
        "clock": 7,
        "device": "00000000-0000-0000-0000-000000000003",
        "kind": {
            "type": "add",
            "entries": [{ "id": "00000000-0000-0000-0000-000000000004", "track_id": 42 }],
            "at": { "type": "after", "entry": "00000000-0000-0000-0000-000000000005" }
        }
    });
    assert_eq!(serde_json::to_value(&op).expect("serializes"), expected);
    assert_eq!(
        serde_json::from_value::<PlaylistOp>(expected).expect("parses"),
        op
    );
}

#[test]
fn the_wire_format_of_every_kind_and_anchor_is_pinned() {
    let entry = |n: u128| format!("00000000-0000-0000-0000-{:012x}", 0xE000 + n);
    let cases: Vec<(OpKind, serde_json::Value)> = vec![
        (
            create("Mix"),
            json!({ "type": "create", "name": "Mix", "public": false }),
        ),
        (rename("R"), json!({ "type": "rename", "name": "R" })),
        (
            set_public(true),
            json!({ "type": "set_public", "public": true }),
        ),
        (OpKind::Delete, json!({ "type": "delete" })),
        (
            add(&[1], Anchor::Start),
            json!({
                "type": "add",
                "entries": [{ "id": entry(1), "track_id": 1001 }],
                "at": { "type": "start" }
            }),
        ),
        (remove(1), json!({ "type": "remove", "entry": entry(1) })),
        (
            mv(1, Anchor::End),
            json!({ "type": "move", "entry": entry(1), "to": { "type": "end" } }),
        ),
    ];
    for (kind, expected) in cases {
        assert_eq!(serde_json::to_value(&kind).expect("serializes"), expected);
        assert_eq!(
            serde_json::from_value::<OpKind>(expected).expect("parses"),
            kind
        );
    }
}

#[test]
fn a_create_without_public_defaults_to_private() {
    let kind: OpKind =
        serde_json::from_value(json!({ "type": "create", "name": "Mix" })).expect("parses");
    assert_eq!(kind, create("Mix"));
}

// ---------------------------------------------------------------------------------------------
// Convergence: devices edit offline, push (shuffled, duplicated, partial) and pull.

#[derive(Debug, Clone)]
pub(super) enum Edit {
    Add { count: usize, position: usize },
    Remove { pick: usize },
    Move { pick: usize, position: usize },
    Rename { name: u8 },
    SetPublic { public: bool },
    Delete,
}

#[derive(Debug, Clone)]
pub(super) enum Step {
    Edit {
        device: usize,
        edit: Edit,
    },
    /// Sends the outbox in a shuffled order; `twice` sends it again (duplicate delivery),
    /// `keep_back` ops stay in the outbox for a later push, `ack_lost` keeps all of them there
    /// (so they are sent again later).
    Push {
        device: usize,
        seed: u64,
        twice: bool,
        keep_back: usize,
        ack_lost: bool,
    },
    Pull {
        device: usize,
    },
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        60 => (1..=3usize, any::<usize>())
            .prop_map(|(count, position)| Edit::Add { count, position }),
        30 => any::<usize>().prop_map(|pick| Edit::Remove { pick }),
        40 => (any::<usize>(), any::<usize>())
            .prop_map(|(pick, position)| Edit::Move { pick, position }),
        20 => (0..3u8).prop_map(|name| Edit::Rename { name }),
        10 => any::<bool>().prop_map(|public| Edit::SetPublic { public }),
        1 => Just(Edit::Delete),
    ]
}

pub(super) fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..4usize, edit_strategy()).prop_map(|(device, edit)| Step::Edit { device, edit }),
        2 => (
            0..4usize,
            any::<u64>(),
            prop::bool::weighted(0.3),
            prop_oneof![3 => Just(0usize), 1 => 1..4usize],
            prop::bool::weighted(0.15),
        )
            .prop_map(|(device, seed, twice, keep_back, ack_lost)| Step::Push {
                device,
                seed,
                twice,
                keep_back,
                ack_lost,
            }),
        2 => (0..4usize).prop_map(|device| Step::Pull { device }),
    ]
}

/// A deterministic Fisher–Yates shuffle driven by splitmix64.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed;
    for i in (1..items.len()).rev() {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

struct Device {
    id: DeviceId,
    /// The largest clock this device has seen (or used).
    clock: u64,
    /// The ops it knows, once each, in the order it learned them.
    known: Vec<PlaylistOp>,
    seen: HashSet<OpId>,
    outbox: Vec<PlaylistOp>,
}

impl Device {
    fn learn(&mut self, op: &PlaylistOp) {
        self.clock = self.clock.max(op.clock);
        if self.seen.insert(op.id) {
            self.known.push(op.clone());
        }
    }

    fn view(&self) -> PlaylistState {
        materialize(&self.known).expect("every device has the create")
    }
}

pub(super) struct Sim {
    devices: Vec<Device>,
    /// Every delivery the server got, duplicates included, in arrival order. The server's
    /// playlist is `materialize` of it, so its dedup is tested too.
    pub(super) server: Vec<PlaylistOp>,
    /// The same ops, one push per element, for replaying them the way the server's store does.
    pub(super) pushes: Vec<Vec<PlaylistOp>>,
    next_op: u128,
    next_entry: u128,
    batches: Vec<Vec<EntryId>>,
}

impl Sim {
    pub(super) fn new(devices: usize) -> Self {
        let mut sim = Sim {
            devices: (0..devices)
                .map(|i| Device {
                    // Device ids deliberately not in index order.
                    id: DeviceId(Uuid::from_u128(0xD000 + ((i as u128 * 7 + 3) % 11))),
                    clock: 0,
                    known: Vec::new(),
                    seen: HashSet::new(),
                    outbox: Vec::new(),
                })
                .collect(),
            server: Vec::new(),
            pushes: Vec::new(),
            next_op: 1,
            next_entry: 1,
            batches: Vec::new(),
        };
        // Device 0 creates the playlist; everyone syncs before the random steps.
        sim.make(0, create("Mix"));
        sim.push_all(0);
        for d in 0..devices {
            sim.pull(d);
        }
        sim
    }

    /// Mints an op with the device's next clock and records it locally.
    fn make(&mut self, d: usize, kind: OpKind) {
        let device = &mut self.devices[d];
        let op = PlaylistOp {
            id: OpId(Uuid::from_u128((0xA_u128 << 64) | self.next_op)),
            playlist_id: playlist(),
            clock: device.clock + 1,
            device: device.id,
            kind,
        };
        self.next_op += 1;
        device.learn(&op);
        device.outbox.push(op);
    }

    fn edit(&mut self, d: usize, edit: &Edit) -> TestCaseResult {
        let view = self.devices[d].view();
        if view.deleted {
            return Ok(());
        }
        let entries = live(&view);
        match *edit {
            Edit::Add { count, position } => {
                let position = position % (entries.len() + 1);
                let batch: Vec<EntryId> = (0..count)
                    .map(|_| {
                        self.next_entry += 1;
                        EntryId(Uuid::from_u128((0xE_u128 << 64) | self.next_entry))
                    })
                    .collect();
                let kind = OpKind::Add {
                    entries: batch
                        .iter()
                        .map(|&id| NewEntry {
                            id,
                            track_id: TrackId(id.0.as_u128() as i64 % 7),
                        })
                        .collect(),
                    at: view.anchor_at(position, None),
                };
                self.make(d, kind);
                let now = live(&self.devices[d].view());
                prop_assert_eq!(&now[position..position + count], &batch[..]);
                self.batches.push(batch);
            }
            Edit::Remove { pick } => {
                if entries.is_empty() {
                    return Ok(());
                }
                let entry = entries[pick % entries.len()];
                self.make(d, OpKind::Remove { entry });
                prop_assert!(!live(&self.devices[d].view()).contains(&entry));
            }
            Edit::Move { pick, position } => {
                if entries.is_empty() {
                    return Ok(());
                }
                let entry = entries[pick % entries.len()];
                let position = position % entries.len();
                let to = view.anchor_at(position, Some(entry));
                self.make(d, OpKind::Move { entry, to });
                let now = live(&self.devices[d].view());
                prop_assert_eq!(now.len(), entries.len());
                prop_assert_eq!(now[position], entry);
            }
            Edit::Rename { name } => {
                let name = format!("name {name}");
                self.make(d, OpKind::Rename { name: name.clone() });
                prop_assert_eq!(self.devices[d].view().name, name);
            }
            Edit::SetPublic { public } => {
                self.make(d, OpKind::SetPublic { public });
                prop_assert_eq!(self.devices[d].view().public, public);
            }
            Edit::Delete => {
                self.make(d, OpKind::Delete);
                prop_assert!(self.devices[d].view().deleted);
            }
        }
        Ok(())
    }

    fn push(&mut self, d: usize, seed: u64, twice: bool, keep_back: usize, ack_lost: bool) {
        let device = &mut self.devices[d];
        let mut sent = std::mem::take(&mut device.outbox);
        shuffle(&mut sent, seed);
        let kept = sent.split_off(sent.len() - keep_back.min(sent.len()));
        self.server.extend(sent.iter().cloned());
        self.pushes.push(sent.clone());
        if twice {
            let mut again = sent.clone();
            shuffle(&mut again, seed.rotate_left(17) ^ 0x5555);
            self.server.extend(again.iter().cloned());
            self.pushes.push(again);
        }
        device.outbox = if ack_lost {
            sent.into_iter().chain(kept).collect()
        } else {
            kept
        };
    }

    fn push_all(&mut self, d: usize) {
        let sent = std::mem::take(&mut self.devices[d].outbox);
        self.server.extend(sent.iter().cloned());
        self.pushes.push(sent);
    }

    fn pull(&mut self, d: usize) {
        let device = &mut self.devices[d];
        for op in &self.server {
            device.learn(op);
        }
    }

    pub(super) fn run(&mut self, steps: &[Step]) -> TestCaseResult {
        let n = self.devices.len();
        for step in steps {
            match step {
                Step::Edit { device, edit } => self.edit(device % n, edit)?,
                &Step::Push {
                    device,
                    seed,
                    twice,
                    keep_back,
                    ack_lost,
                } => self.push(device % n, seed, twice, keep_back, ack_lost),
                Step::Pull { device } => self.pull(device % n),
            }
        }
        // Everyone pushes everything, then everyone pulls.
        for d in 0..n {
            self.push_all(d);
        }
        for d in 0..n {
            self.pull(d);
        }
        Ok(())
    }

    /// Checks that all devices agree with the server and that no edit was lost.
    fn check(&self) -> TestCaseResult {
        let server = materialize(&self.server).expect("the server has the create");
        for device in &self.devices {
            prop_assert!(device.outbox.is_empty());
            let view = device.view();
            prop_assert_eq!(&view.name, &server.name);
            prop_assert_eq!(view.public, server.public);
            prop_assert_eq!(view.deleted, server.deleted);
            prop_assert_eq!(live(&view), live(&server));
            // Tombstones and the clock agree too: the whole state is the same.
            prop_assert_eq!(&view, &server);
        }

        let mut ops: HashMap<OpId, &PlaylistOp> = HashMap::new();
        for op in &self.server {
            prop_assert_eq!(*ops.entry(op.id).or_insert(op), op, "one op per id");
        }
        let max_clock = ops.values().map(|op| op.clock).max().unwrap_or(0);
        prop_assert_eq!(server.clock, max_clock);

        let has_delete = ops.values().any(|op| op.kind == OpKind::Delete);
        prop_assert_eq!(server.deleted, has_delete, "a delete always wins");
        if server.deleted {
            prop_assert!(server.slots.is_empty());
            return Ok(());
        }

        // Last writer wins for name and visibility.
        let mut by_stamp: Vec<&PlaylistOp> = ops.values().copied().collect();
        by_stamp.sort_by_key(|op| op.stamp());
        let name = by_stamp.iter().rev().find_map(|op| match &op.kind {
            OpKind::Rename { name } | OpKind::Create { name, .. } => Some(name.clone()),
            _ => None,
        });
        prop_assert_eq!(Some(server.name.clone()), name);
        let public = by_stamp.iter().rev().find_map(|op| match op.kind {
            OpKind::SetPublic { public } | OpKind::Create { public, .. } => Some(public),
            _ => None,
        });
        prop_assert_eq!(Some(server.public), public);

        // Every entry ever added is there iff nobody removed it, exactly once.
        let mut removed = HashSet::new();
        let mut moved = HashSet::new();
        let mut anchors = HashSet::new();
        for op in ops.values() {
            match &op.kind {
                OpKind::Remove { entry } => {
                    removed.insert(*entry);
                }
                OpKind::Move { entry, to } => {
                    moved.insert(*entry);
                    if let Anchor::After(a) = to {
                        anchors.insert(*a);
                    }
                }
                OpKind::Add {
                    at: Anchor::After(a),
                    ..
                } => {
                    anchors.insert(*a);
                }
                _ => {}
            }
        }
        let entries = live(&server);
        let position: HashMap<EntryId, usize> =
            entries.iter().enumerate().map(|(i, &e)| (e, i)).collect();
        prop_assert_eq!(position.len(), entries.len(), "an entry shows up twice");
        let added: HashSet<EntryId> = self.batches.iter().flatten().copied().collect();
        for entry in &added {
            prop_assert_eq!(
                position.contains_key(entry),
                !removed.contains(entry),
                "entry {} present iff not removed",
                entry
            );
        }
        prop_assert!(entries.iter().all(|e| added.contains(e)));

        // A batch stays together unless one of its entries was moved or removed, or something
        // was later put right after one of its entries but the last (a deliberate insert into
        // the middle of it).
        for batch in &self.batches {
            let untouched = batch
                .iter()
                .all(|e| !moved.contains(e) && !removed.contains(e))
                && batch[..batch.len() - 1]
                    .iter()
                    .all(|e| !anchors.contains(e));
            if untouched {
                let start = position[&batch[0]];
                prop_assert_eq!(
                    &entries[start..start + batch.len()],
                    &batch[..],
                    "batch split up"
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn offline_devices_and_the_server_converge_without_losing_edits(
        devices in 2..=4usize,
        steps in prop::collection::vec(step_strategy(), 0..120),
    ) {
        let mut sim = Sim::new(devices);
        sim.run(&steps)?;
        sim.check()?;
    }
}
