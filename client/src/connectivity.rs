//! Online/offline detection with hysteresis: one failed check is a blip, two in a row mean the
//! server is gone; one success brings it back. The state is plain data so the CLI can keep it
//! in the mirror between runs and the TUI in memory.

use serde::{Deserialize, Serialize};

/// Failed checks in a row that flip the state to offline.
pub const FAILURES_TO_GO_OFFLINE: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    Online,
    Offline,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Online => "online",
            Link::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connectivity {
    pub link: Link,
    pub failures_in_a_row: u32,
}

impl Default for Connectivity {
    /// Optimistic until proven otherwise: the first call tells.
    fn default() -> Self {
        Self {
            link: Link::Online,
            failures_in_a_row: 0,
        }
    }
}

impl Connectivity {
    /// Records the outcome of a check or call; returns true when the state flipped.
    pub fn record(&mut self, reached: bool) -> bool {
        let before = self.link;
        if reached {
            self.failures_in_a_row = 0;
            self.link = Link::Online;
        } else {
            self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
            if self.failures_in_a_row >= FAILURES_TO_GO_OFFLINE {
                self.link = Link::Offline;
            }
        }
        before != self.link
    }

    pub fn is_online(&self) -> bool {
        self.link == Link::Online
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_is_a_blip_two_go_offline_one_success_comes_back() {
        let mut c = Connectivity::default();
        assert!(!c.record(false));
        assert!(c.is_online());
        assert!(c.record(false));
        assert_eq!(c.link, Link::Offline);
        assert!(!c.record(false));
        assert!(c.record(true));
        assert!(c.is_online());
        assert!(!c.record(false), "the count starts again after a success");
    }
}
