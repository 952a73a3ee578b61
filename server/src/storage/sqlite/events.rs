//! Play events, stored once per client-made id.

use super::*;
use mixtape_shared::api::{PlayEvent, PlayEventKind};
use mixtape_shared::{DeviceId, EventId};
use rusqlite::{Connection, params};

pub fn insert(tx: &Connection, user: UserId, events: &[PlayEvent], now: i64) -> StorageResult<u64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO play_events (id, user_id, track_id, kind, position_ms, at_ms, device, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
    )?;
    let mut inserted = 0;
    let now_ms = super::queue::now_ms();
    for e in events {
        let new = stmt.execute(params![
            e.id.to_string(),
            user.0,
            e.track_id.0,
            e.kind.as_str(),
            i64::try_from(e.position_ms).unwrap_or(i64::MAX),
            e.at_ms,
            e.device.map(|d| d.to_string()),
            now
        ])? as u64;
        // The outbox: a new event's queue message commits (or rolls back) with it.
        if new > 0 {
            super::recs::enqueue_play(tx, user, e, now_ms)?;
        }
        inserted += new;
    }
    Ok(inserted)
}

pub fn history(
    conn: &Connection,
    user: UserId,
    before_ms: Option<i64>,
    limit: u32,
) -> StorageResult<(u64, Vec<PlayEvent>)> {
    let total: i64 = conn
        .prepare_cached("SELECT count(*) FROM play_events WHERE user_id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    let rows: Vec<(String, i64, String, i64, i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, track_id, kind, position_ms, at_ms, device FROM play_events
             WHERE user_id = ?1 AND at_ms < ?2 ORDER BY at_ms DESC, id DESC LIMIT ?3",
        )?
        .query_map(
            params![user.0, before_ms.unwrap_or(i64::MAX), limit as i64],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )?
        .collect::<Result<_, _>>()?;
    let events = rows
        .into_iter()
        .map(|(id, track, kind, position, at, device)| {
            event_from_row(id, track, kind, position, at, device)
        })
        .collect::<StorageResult<_>>()?;
    Ok((total.max(0) as u64, events))
}

/// Each user's latest event received at or after `since`: the last played, and of events at
/// the same instant an end before a start (a play cannot start and end at once).
pub fn latest(conn: &Connection, since: i64) -> StorageResult<Vec<LatestPlay>> {
    type Row = (i64, String, i64, String, i64, i64, Option<String>, i64);
    let rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT user_id, id, track_id, kind, position_ms, at_ms, device, received_at FROM (
                 SELECT *, row_number() OVER (PARTITION BY user_id
                     ORDER BY at_ms DESC, kind = 'start', id DESC) AS nth
                 FROM play_events WHERE received_at >= ?1)
             WHERE nth = 1",
        )?
        .query_map([since], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(
            |(user, id, track, kind, position, at, device, received_at)| {
                Ok(LatestPlay {
                    user: UserId(user),
                    event: event_from_row(id, track, kind, position, at, device)?,
                    received_at,
                })
            },
        )
        .collect()
}

fn event_from_row(
    id: String,
    track: i64,
    kind: String,
    position_ms: i64,
    at_ms: i64,
    device: Option<String>,
) -> StorageResult<PlayEvent> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("play event {what}"));
    Ok(PlayEvent {
        id: id.parse::<EventId>().map_err(|_| corrupt(&id))?,
        track_id: TrackId(track),
        kind: PlayEventKind::parse(&kind).ok_or_else(|| corrupt(&kind))?,
        position_ms: position_ms.max(0) as u64,
        at_ms,
        device: device
            .map(|d| d.parse::<DeviceId>().map_err(|_| corrupt(&d)))
            .transpose()?,
    })
}
