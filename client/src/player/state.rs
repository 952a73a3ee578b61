//! The saved queue: a small JSON file written (atomically, through a temporary file) when the
//! queue, the track or the modes change, on pause and stop, and every few seconds of play.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{QueueItem, Repeat};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub version: u32,
    pub items: Vec<QueueItem>,
    pub order: Vec<usize>,
    pub current: Option<usize>,
    pub position_ms: u64,
    pub shuffle: bool,
    pub repeat: Repeat,
    pub volume: f32,
}

pub const VERSION: u32 = 1;

/// The saved state, or `None` when there is none or it cannot be read (logged: a broken
/// state file must not keep the player from starting).
pub fn load(path: &Path) -> Option<SavedState> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the player state");
            return None;
        }
    };
    match serde_json::from_slice::<SavedState>(&bytes) {
        Ok(s) if s.version == VERSION => Some(s),
        Ok(s) => {
            tracing::warn!(
                version = s.version,
                "ignoring a player state of another version"
            );
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring a corrupt player state");
            None
        }
    }
}

pub fn save(path: &Path, state: &SavedState) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec(state).map_err(io::Error::other)?;
    fs::write(&tmp, json)?;
    fs::rename(&tmp, path)
}
