//! The saved play queue.

use super::*;

pub(super) fn get_play_queue(ctx: &Ctx) -> Answer {
    let queue = ctx.store.play_queue(ctx.user.id)?;
    let out = match queue {
        None => PlayQueueOut {
            current: None,
            position: 0,
            username: ctx.user.username.clone(),
            changed: iso8601(0),
            changed_by: String::new(),
            entry: Vec::new(),
        },
        Some(q) => {
            let found = tracks_by_id(ctx, &q.track_ids)?;
            let in_order: Vec<Track> = q
                .track_ids
                .iter()
                .filter_map(|id| found.get(id).cloned())
                .collect();
            PlayQueueOut {
                current: q.current.map(ids::track),
                position: q.position_ms,
                username: ctx.user.username.clone(),
                changed: iso8601(q.changed_at),
                changed_by: q.changed_by,
                entry: songs(ctx, &in_order)?,
            }
        }
    };
    Payload::one("playQueue", &out)
}

/// A saved queue holds at most this many tracks.
pub(super) const MAX_QUEUE: usize = 10_000;

pub(super) fn save_play_queue(ctx: &Ctx, p: &Params) -> Answer {
    let tracks = track_ids(p, "id")?;
    if tracks.len() > MAX_QUEUE {
        return Err(SubsonicError::new(
            Code::Generic,
            format!("a play queue holds at most {MAX_QUEUE} songs"),
        ));
    }
    let current = p
        .get("current")
        .map(|c| ids::parse_track(c).ok_or_else(|| SubsonicError::not_found("song")))
        .transpose()?;
    let record = PlayQueueRecord {
        current: current.or(tracks.first().copied()),
        track_ids: tracks,
        position_ms: p.number::<i64>("position")?.unwrap_or(0).max(0),
        changed_at: unix_now(),
        changed_by: ctx.client.to_string(),
    };
    ctx.store.save_play_queue(ctx.user.id, &record)?;
    Ok(Payload::empty())
}
