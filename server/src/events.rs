//! Play events: what listeners did with tracks, uploaded by clients in batches and stored once
//! per client-made id, so a retried upload never counts a play twice. Recommendations read them.

use crate::storage::{StorageError, Store};
use mixtape_shared::api::{PlayEvent, PlayHistory, PostEventsResponse, User};

/// At most this many events in one upload.
pub const MAX_EVENTS_PER_POST: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub fn record(
    store: &dyn Store,
    user: &User,
    events: &[PlayEvent],
    now: i64,
) -> Result<PostEventsResponse, EventError> {
    if events.len() > MAX_EVENTS_PER_POST {
        return Err(EventError::Invalid(format!(
            "post at most {MAX_EVENTS_PER_POST} events at a time"
        )));
    }
    if let Some(e) = events.iter().find(|e| e.track_id.0 <= 0) {
        return Err(EventError::Invalid(format!(
            "event {} names no valid track id",
            e.id
        )));
    }
    let new = store.insert_play_events(user.id, events, now)?;
    Ok(PostEventsResponse {
        accepted: new as u32,
        duplicates: (events.len() as u64 - new) as u32,
    })
}

pub fn history(
    store: &dyn Store,
    user: &User,
    before_ms: Option<i64>,
    limit: Option<u32>,
) -> Result<PlayHistory, EventError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(EventError::Invalid("limit must be 1-1000".into()));
    }
    let (total, events) = store.play_history(user.id, before_ms, limit)?;
    Ok(PlayHistory { total, events })
}
