//! Tests of [`Snapshot`]: applying new ops to a kept snapshot (and rebuilding when one sorts
//! before it) gives what `materialize` of the whole log gives, as the server relies on.

use super::tests::{Sim, step_strategy};
use super::*;
use proptest::prelude::*;
use std::collections::HashSet;
use uuid::Uuid;

/// What the server's store does with each push: keep the ops not seen before, advance the
/// snapshot when they all sort after it, rebuild from the log otherwise. Compaction every
/// `compact_every` pushes folds the log into a base when no op is late.
struct Server {
    log: Vec<PlaylistOp>,
    ids: HashSet<OpId>,
    snapshot: Option<Snapshot>,
    rebuilds: usize,
}

impl Server {
    fn new() -> Self {
        Self {
            log: Vec::new(),
            ids: HashSet::new(),
            snapshot: None,
            rebuilds: 0,
        }
    }

    fn push(&mut self, ops: &[PlaylistOp]) {
        let new: Vec<&PlaylistOp> = ops.iter().filter(|op| self.ids.insert(op.id)).collect();
        if new.is_empty() {
            return;
        }
        self.log.extend(new.iter().map(|op| (*op).clone()));
        let advanced = match &mut self.snapshot {
            Some(snapshot) => snapshot.advance(&new),
            None => false,
        };
        if !advanced {
            self.rebuilds += 1;
            self.snapshot = Snapshot::rebuild(None, &self.log);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The convergence simulation's deliveries (shuffled, duplicated, late), replayed push by
    /// push through a snapshot: after every push it equals a full materialize of the log.
    #[test]
    fn incremental_apply_from_a_snapshot_equals_a_full_materialize(
        devices in 2..=4usize,
        steps in prop::collection::vec(step_strategy(), 0..120),
    ) {
        let mut sim = Sim::new(devices);
        sim.run(&steps)?;
        let mut server = Server::new();
        for push in &sim.pushes {
            server.push(push);
            let snapshot = server.snapshot.as_ref().expect("the create came first");
            let full = materialize(&server.log);
            prop_assert_eq!(Some(&snapshot.state), full.as_ref());
            prop_assert_eq!(Some(snapshot.last), server.log.iter().map(PlaylistOp::stamp).max());
        }
        prop_assert_eq!(
            server.snapshot.map(|s| s.state),
            materialize(&sim.server)
        );
    }

    /// Compacting (a base snapshot plus only the ops logged after it) changes nothing for ops
    /// that sort after the base.
    #[test]
    fn a_rebuild_from_a_compacted_base_equals_a_full_materialize(
        devices in 2..=4usize,
        steps in prop::collection::vec(step_strategy(), 0..120),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut sim = Sim::new(devices);
        sim.run(&steps)?;
        let mut log: Vec<PlaylistOp> = Vec::new();
        let mut ids = HashSet::new();
        for op in &sim.server {
            if ids.insert(op.id) {
                log.push(op.clone());
            }
        }
        log.sort_by_key(PlaylistOp::stamp);
        let cut = 1 + cut.index(log.len());
        let base = Snapshot::of(&log[..cut]);
        let rebuilt = Snapshot::rebuild(base, &log[cut..]).expect("the create is in the base");
        prop_assert_eq!(Some(rebuilt.state), materialize(&log));
        prop_assert_eq!(Some(rebuilt.last), log.last().map(PlaylistOp::stamp));
    }
}

fn op(n: u128, clock: u64, kind: OpKind) -> PlaylistOp {
    PlaylistOp {
        id: OpId(Uuid::from_u128(n)),
        playlist_id: PlaylistId(Uuid::from_u128(0xF00)),
        clock,
        device: DeviceId(Uuid::from_u128(0xD000 + n % 3)),
        kind,
    }
}

fn entry(n: u128) -> EntryId {
    EntryId(Uuid::from_u128(0xE000 + n))
}

fn add(n: u128, at: Anchor) -> OpKind {
    OpKind::Add {
        entries: vec![NewEntry {
            id: entry(n),
            track_id: TrackId(n as i64),
        }],
        at,
    }
}

fn live(state: &PlaylistState) -> Vec<EntryId> {
    state.entries().map(|(e, _)| e).collect()
}

#[test]
fn an_op_sorting_before_the_snapshot_is_refused_and_leaves_it_unchanged() {
    let create = op(
        1,
        1,
        OpKind::Create {
            name: "m".into(),
            public: false,
        },
    );
    let a = op(2, 5, add(1, Anchor::End));
    let mut snapshot = Snapshot::of([&create, &a]).unwrap();
    let before = snapshot.clone();
    let late = op(3, 3, add(2, Anchor::Start));
    assert!(!snapshot.advance(&[&late]));
    assert_eq!(snapshot, before);
    let next = op(4, 6, add(3, Anchor::Start));
    assert!(snapshot.advance(&[&next]));
    assert_eq!(live(&snapshot.state), vec![entry(3), entry(1)]);
    assert_eq!(snapshot.last, next.stamp());
}

#[test]
fn late_ops_after_a_compaction_apply_right_after_the_base_in_any_arrival_order() {
    let create = op(
        1,
        1,
        OpKind::Create {
            name: "m".into(),
            public: false,
        },
    );
    let a = op(2, 2, add(1, Anchor::End));
    let b = op(3, 9, add(2, Anchor::End));
    let base = Snapshot::of([&create, &a, &b]).unwrap();
    // Made offline before `b` was: their history is in the base, so they land as if made
    // right after it, in their own stamp order, before ops that sort after the base.
    let late_move = op(
        4,
        3,
        OpKind::Move {
            entry: entry(2),
            to: Anchor::Start,
        },
    );
    let late_add = op(5, 4, add(3, Anchor::After(entry(1))));
    let after = op(6, 10, OpKind::Rename { name: "n".into() });
    let one = Snapshot::rebuild(Some(base.clone()), [&after, &late_add, &late_move]).unwrap();
    let two = Snapshot::rebuild(Some(base), [&late_move, &after, &late_add]).unwrap();
    assert_eq!(one, two);
    assert_eq!(live(&one.state), vec![entry(2), entry(1), entry(3)]);
    assert_eq!(one.state.name, "n");
    assert_eq!(one.last, after.stamp());
}
