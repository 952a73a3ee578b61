//! The playlist sync model: every playlist edit is an operation, and a playlist's state is what
//! its operations give when applied in one total order. Server and client use these same
//! functions, so they cannot disagree about what a set of operations means.
//!
//! # Why this converges
//! The server keeps every op it has accepted (deduplicated by [`OpId`]). A playlist's canonical
//! state is [`materialize`] over that set, which sorts by [`OpStamp`] (Lamport clock, then device,
//! then op id) before applying. A set does not care about the order or the number of times its
//! members arrived, so every device that has pulled after the last push sees the same playlist.
//!
//! # The rules (what "no edit is lost" means here)
//! - **Inserts** are placed relative to an anchor (start, end, or after an entry), never by index,
//!   so concurrent inserts are all kept; a batch of tracks added by one op stays together.
//! - **Removes** leave a tombstone, so an anchor on a removed entry still has a place. A remove
//!   beats any concurrent move: a removed entry never comes back.
//! - **Moves and renames** are last-writer-wins by (logical clock, device id): replaying in stamp
//!   order makes the later one stick.
//! - **Deleting a playlist** wins against concurrent edits made elsewhere: once a delete is in the
//!   log, the playlist is gone on every device, and ops that arrive for it later are kept (so
//!   their replays stay no-ops) but change nothing.
//!
//! The client shows its pending (not yet pushed) ops by applying them with [`PlaylistState::apply`]
//! on top of the canonical state it last pulled ([`PlaylistState::from_entries`]); after the next
//! sync the canonical state replaces that local view. The snapshot carries no tombstones, so a
//! pending insert anchored on an entry another device removed shows at the end until that sync
//! puts it after the removed entry's old place; likewise a pending move or rename stamped below
//! ops already pulled shows locally but loses on sync (last writer wins).

use crate::ids::{DeviceId, EntryId, OpId, PlaylistId, TrackId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One playlist edit, as a device made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlaylistOp {
    /// Client-made (UUIDv7); the server applies each id once.
    pub id: OpId,
    pub playlist_id: PlaylistId,
    /// Lamport clock: greater than the clock of every op the device had seen when it made this.
    pub clock: u64,
    pub device: DeviceId,
    pub kind: OpKind,
}

/// What an op does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpKind {
    Create {
        name: String,
        #[serde(default)]
        public: bool,
    },
    Rename {
        name: String,
    },
    SetPublic {
        public: bool,
    },
    Delete,
    /// Inserts the entries, in this order, together at `at`.
    Add {
        entries: Vec<NewEntry>,
        at: Anchor,
    },
    Remove {
        entry: EntryId,
    },
    /// Puts an existing entry at `to`.
    Move {
        entry: EntryId,
        to: Anchor,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewEntry {
    pub id: EntryId,
    pub track_id: TrackId,
}

/// Where an insert or move lands, relative to what is there when the op is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "entry", rename_all = "snake_case")]
pub enum Anchor {
    Start,
    End,
    /// Right after this entry (removed or not). An entry the state does not know counts as `End`.
    After(EntryId),
}

/// The total order ops are applied in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpStamp {
    pub clock: u64,
    pub device: DeviceId,
    pub id: OpId,
}

impl PlaylistOp {
    pub fn stamp(&self) -> OpStamp {
        OpStamp {
            clock: self.clock,
            device: self.device,
            id: self.id,
        }
    }
}

/// One slot of a playlist; removed slots stay as tombstones so anchors keep their place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub entry: EntryId,
    pub track_id: TrackId,
    pub removed: bool,
}

/// A playlist as a set of ops makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaylistState {
    pub id: PlaylistId,
    pub name: String,
    pub public: bool,
    pub deleted: bool,
    /// The largest clock applied: a device's next op must carry a larger one.
    pub clock: u64,
    pub slots: Vec<Slot>,
}

impl PlaylistState {
    /// The state a `Create` op starts.
    pub fn new(id: PlaylistId, name: String, public: bool, clock: u64) -> Self {
        Self {
            id,
            name,
            public,
            deleted: false,
            clock,
            slots: Vec::new(),
        }
    }

    /// A state rebuilt from a canonical snapshot (entries in order, no tombstones), for applying
    /// pending local ops on top of it.
    pub fn from_entries(
        id: PlaylistId,
        name: String,
        public: bool,
        clock: u64,
        entries: impl IntoIterator<Item = (EntryId, TrackId)>,
    ) -> Self {
        let mut state = Self::new(id, name, public, clock);
        state.slots = entries
            .into_iter()
            .map(|(entry, track_id)| Slot {
                entry,
                track_id,
                removed: false,
            })
            .collect();
        state
    }

    /// The live entries, in playlist order.
    pub fn entries(&self) -> impl Iterator<Item = (EntryId, TrackId)> + '_ {
        self.slots
            .iter()
            .filter(|s| !s.removed)
            .map(|s| (s.entry, s.track_id))
    }

    /// Applies one op (of this playlist). Ops must come in stamp order for states to agree.
    pub fn apply(&mut self, op: &PlaylistOp) {
        if op.playlist_id != self.id {
            return;
        }
        self.clock = self.clock.max(op.clock);
        if self.deleted {
            return;
        }
        match &op.kind {
            // A second create of the same id (a replay under a new op id) changes nothing.
            OpKind::Create { .. } => {}
            OpKind::Rename { name } => self.name.clone_from(name),
            OpKind::SetPublic { public } => self.public = *public,
            OpKind::Delete => {
                self.deleted = true;
                self.slots.clear();
            }
            OpKind::Add { entries, at } => {
                // An id already present, or repeated within the batch, is added once.
                let mut seen = std::collections::HashSet::new();
                let fresh: Vec<Slot> = entries
                    .iter()
                    .filter(|e| seen.insert(e.id) && self.position_of(e.id).is_none())
                    .map(|e| Slot {
                        entry: e.id,
                        track_id: e.track_id,
                        removed: false,
                    })
                    .collect();
                let index = self.index_for(*at);
                self.slots.splice(index..index, fresh);
            }
            OpKind::Remove { entry } => {
                if let Some(i) = self.position_of(*entry) {
                    self.slots[i].removed = true;
                }
            }
            OpKind::Move { entry, to } => {
                let Some(from) = self.position_of(*entry) else {
                    return;
                };
                if self.slots[from].removed || *to == Anchor::After(*entry) {
                    return;
                }
                let slot = self.slots.remove(from);
                let index = self.index_for(*to);
                self.slots.insert(index, slot);
            }
        }
    }

    fn position_of(&self, entry: EntryId) -> Option<usize> {
        self.slots.iter().position(|s| s.entry == entry)
    }

    fn index_for(&self, anchor: Anchor) -> usize {
        match anchor {
            Anchor::Start => 0,
            Anchor::End => self.slots.len(),
            Anchor::After(entry) => self.position_of(entry).map_or(self.slots.len(), |i| i + 1),
        }
    }

    /// The anchor that puts an insert at `position` among the live entries (0 = first), as a
    /// device turns a user's "at position N" into an op. `skip` leaves one entry out of the
    /// count (the entry being moved).
    pub fn anchor_at(&self, position: usize, skip: Option<EntryId>) -> Anchor {
        if position == 0 {
            return Anchor::Start;
        }
        let live: Vec<EntryId> = self
            .entries()
            .map(|(e, _)| e)
            .filter(|e| Some(*e) != skip)
            .collect();
        match live.get(position - 1) {
            Some(before) if position < live.len() => Anchor::After(*before),
            _ => Anchor::End,
        }
    }
}

/// The state of one playlist from all of its ops, in any order and with duplicates: sorted by
/// stamp, deduplicated by id, applied from its `Create`. None when no `Create` is among them.
pub fn materialize<'a>(ops: impl IntoIterator<Item = &'a PlaylistOp>) -> Option<PlaylistState> {
    materialize_onto(None, ops)
}

/// [`materialize`] continued from `state`: the ops, sorted by stamp and deduplicated by id, are
/// applied on top of it. When every op sorts after all the ops that made `state`, this equals
/// `materialize` of all of them together.
pub fn materialize_onto<'a>(
    mut state: Option<PlaylistState>,
    ops: impl IntoIterator<Item = &'a PlaylistOp>,
) -> Option<PlaylistState> {
    let mut ops: Vec<&PlaylistOp> = ops.into_iter().collect();
    ops.sort_by_key(|op| op.stamp());
    // One op per id, however often (or under whatever stamp) it arrived.
    let mut seen = std::collections::HashSet::new();
    ops.retain(|op| seen.insert(op.id));
    for op in ops {
        match (&mut state, &op.kind) {
            (Some(state), _) => state.apply(op),
            (None, OpKind::Create { name, public }) => {
                state = Some(PlaylistState::new(
                    op.playlist_id,
                    name.clone(),
                    *public,
                    op.clock,
                ));
            }
            // Causality puts a playlist's create before every other op on it; anything sorted
            // earlier was made without seeing the playlist and has nothing to act on.
            (None, _) => {}
        }
    }
    state
}

/// A materialized playlist and the stamp of the last op it includes, so that ops sorting after
/// that stamp can be applied to it without replaying the ops before (the server keeps one per
/// playlist instead of replaying the whole log on every edit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub state: PlaylistState,
    pub last: OpStamp,
}

impl Snapshot {
    /// The snapshot of `materialize(ops)`; None when the ops hold no `Create`.
    pub fn of<'a>(ops: impl IntoIterator<Item = &'a PlaylistOp>) -> Option<Self> {
        let ops: Vec<&PlaylistOp> = ops.into_iter().collect();
        let state = materialize(ops.iter().copied())?;
        let last = ops.iter().map(|op| op.stamp()).max()?;
        Some(Self { state, last })
    }

    /// Applies ops not seen before when every one of them sorts after `last`, which gives what
    /// `materialize` of all ops would. Returns false, changing nothing, when one sorts at or
    /// before `last` (a late op from a device that was offline): the caller must rebuild.
    pub fn advance(&mut self, new: &[&PlaylistOp]) -> bool {
        if new.iter().any(|op| op.stamp() <= self.last) {
            return false;
        }
        let mut new = new.to_vec();
        new.sort_by_key(|op| op.stamp());
        let mut seen = std::collections::HashSet::new();
        new.retain(|op| seen.insert(op.id));
        for op in &new {
            self.state.apply(op);
        }
        if let Some(op) = new.last() {
            self.last = op.stamp();
        }
        true
    }

    /// Rebuilds from a compacted `base` and the ops logged after it. Ops that sort after the
    /// base apply in stamp order, exactly as `materialize` would; ops that sort before it
    /// arrived after their history was folded away, so they apply first, in stamp order, as if
    /// made right after the base (a device offline across a compaction sees its moves and
    /// inserts land relative to the playlist as it was when compacted).
    pub fn rebuild<'a>(
        base: Option<Snapshot>,
        ops: impl IntoIterator<Item = &'a PlaylistOp>,
    ) -> Option<Self> {
        let ops: Vec<&PlaylistOp> = ops.into_iter().collect();
        let Some(base) = base else {
            return Self::of(ops);
        };
        let (late, after): (Vec<&PlaylistOp>, Vec<&PlaylistOp>) =
            ops.iter().partition(|op| op.stamp() <= base.last);
        let last = ops
            .iter()
            .map(|op| op.stamp())
            .max()
            .unwrap_or(base.last)
            .max(base.last);
        let state = materialize_onto(Some(base.state), late);
        let state = materialize_onto(state, after)?;
        Some(Self { state, last })
    }
}

#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;
