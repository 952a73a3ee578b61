//! The play queue as pure data: the tracks, the play order (shuffled or not), the current
//! position in that order, and the repeat mode. No IO, no clock: next/prev/shuffle/repeat are
//! decided here and unit-tested as tables.

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::QueueItem;

/// What happens at the end of a track and at the end of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    /// Stop after the last track of the play order.
    #[default]
    Off,
    /// Play the current track again when it ends (a manual next still moves on).
    One,
    /// Go back to the first track of the play order after the last.
    All,
}

/// Why the queue moves on: a track that ended by itself honours `Repeat::One`, a user's next
/// does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    Ended,
    User,
}

/// The tracks and the order they play in. `order` is a permutation of `0..items.len()`;
/// `pos` indexes `order`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queue {
    items: Vec<QueueItem>,
    order: Vec<usize>,
    pos: Option<usize>,
    shuffle: bool,
    repeat: Repeat,
}

impl Queue {
    /// A queue in list order, nothing current.
    pub fn new(items: Vec<QueueItem>) -> Self {
        let order = (0..items.len()).collect();
        Self {
            items,
            order,
            pos: None,
            shuffle: false,
            repeat: Repeat::Off,
        }
    }

    /// Rebuilds a saved queue; an `order` that is not a permutation of the items is replaced
    /// by list order, and a current index out of range is dropped.
    pub fn restore(
        items: Vec<QueueItem>,
        order: Vec<usize>,
        current: Option<usize>,
        shuffle: bool,
        repeat: Repeat,
    ) -> Self {
        let mut q = Self::new(items);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if sorted == q.order {
            q.order = order;
        }
        q.shuffle = shuffle;
        q.repeat = repeat;
        if let Some(i) = current.filter(|&i| i < q.items.len()) {
            q.pos = q.order.iter().position(|&o| o == i);
        }
        q
    }

    pub fn items(&self) -> &[QueueItem] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The play order, as indexes into [`items`](Self::items).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    pub fn repeat(&self) -> Repeat {
        self.repeat
    }

    pub fn set_repeat(&mut self, repeat: Repeat) {
        self.repeat = repeat;
    }

    /// The index (into `items`) of the current track.
    pub fn current(&self) -> Option<usize> {
        self.pos.map(|p| self.order[p])
    }

    pub fn current_item(&self) -> Option<&QueueItem> {
        self.current().map(|i| &self.items[i])
    }

    pub fn item(&self, index: usize) -> Option<&QueueItem> {
        self.items.get(index)
    }

    /// Makes `index` (into `items`) current; false if out of range.
    pub fn jump(&mut self, index: usize) -> bool {
        match self.order.iter().position(|&o| o == index) {
            Some(p) => {
                self.pos = Some(p);
                true
            }
            None => false,
        }
    }

    pub fn clear_current(&mut self) {
        self.pos = None;
    }

    /// The track that would follow the current one, without moving.
    pub fn peek_next(&self, why: Advance) -> Option<usize> {
        self.next_pos(why).map(|p| self.order[p])
    }

    /// Moves to the following track and returns it; `None` at the end of the queue (the
    /// current track is then unchanged).
    pub fn advance(&mut self, why: Advance) -> Option<usize> {
        let p = self.next_pos(why)?;
        self.pos = Some(p);
        Some(self.order[p])
    }

    fn next_pos(&self, why: Advance) -> Option<usize> {
        let n = self.order.len();
        if n == 0 {
            return None;
        }
        let Some(p) = self.pos else {
            return Some(0);
        };
        if why == Advance::Ended && self.repeat == Repeat::One {
            return Some(p);
        }
        if p + 1 < n {
            Some(p + 1)
        } else if self.repeat == Repeat::All {
            Some(0)
        } else {
            None
        }
    }

    /// Moves to the previous track of the play order and returns it (wrapping with
    /// `Repeat::All`); `None` at the start (unchanged).
    pub fn back(&mut self) -> Option<usize> {
        let n = self.order.len();
        let p = self.pos?;
        let q = if p > 0 {
            p - 1
        } else if self.repeat == Repeat::All && n > 0 {
            n - 1
        } else {
            return None;
        };
        self.pos = Some(q);
        Some(self.order[q])
    }

    /// Adds items at the end of the list and of the play order (shuffled or not: what was asked
    /// for last plays last).
    pub fn append(&mut self, items: Vec<QueueItem>) {
        let first = self.items.len();
        self.items.extend(items);
        self.order.extend(first..self.items.len());
    }

    /// Removes the item at `index` (into the list) unless it is the current one; the indexes
    /// after it move down by one. Returns whether it was removed.
    pub fn remove(&mut self, index: usize) -> bool {
        let current = self.current();
        if index >= self.items.len() || current == Some(index) {
            return false;
        }
        self.items.remove(index);
        self.order.retain(|&o| o != index);
        for o in &mut self.order {
            if *o > index {
                *o -= 1;
            }
        }
        let current = current.map(|c| if c > index { c - 1 } else { c });
        self.pos = current.and_then(|c| self.order.iter().position(|&o| o == c));
        true
    }

    /// Turns shuffle on (a new random order with the current track first, so what plays now
    /// goes on and everything else follows at random) or off (list order, same current track).
    pub fn set_shuffle(&mut self, on: bool, rng: &mut impl Rng) {
        let current = self.current();
        self.shuffle = on;
        self.order = (0..self.items.len()).collect();
        if on {
            self.order.shuffle(rng);
            if let Some(c) = current {
                let at = self.order.iter().position(|&o| o == c).unwrap_or(0);
                self.order.swap(0, at);
            }
        }
        self.pos = current.and_then(|c| self.order.iter().position(|&o| o == c));
    }
}
