//! Playlists, their entries and the op log they are made from. Applying ops rewrites each touched
//! playlist as `mixtape_shared::sync::materialize` gives it and records it in the change feed.

use super::record_change;
use crate::storage::*;
use mixtape_shared::api::{Playlist, PlaylistEntry};
use mixtape_shared::sync::{PlaylistOp, PlaylistState, materialize};
use mixtape_shared::{EntryId, order_key};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

const PLAYLIST_SELECT: &str = "SELECT p.id, u.username, p.name, p.public,
    (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id),
    (SELECT coalesce(sum(t.duration_ms), 0) FROM playlist_entries e JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = p.id),
    coalesce((SELECT seq FROM changes WHERE kind = 'playlist' AND item = p.id), 0),
    p.updated_at, p.owner_id, p.clock
    FROM playlists p JOIN users u ON u.id = p.owner_id";

fn uuid_col(r: &rusqlite::Row, i: usize) -> rusqlite::Result<uuid::Uuid> {
    let s: String = r.get(i)?;
    uuid::Uuid::parse_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn playlist_from_row(r: &rusqlite::Row) -> rusqlite::Result<(Playlist, UserId)> {
    Ok((
        Playlist {
            id: PlaylistId(uuid_col(r, 0)?),
            owner: r.get(1)?,
            name: r.get(2)?,
            public: r.get(3)?,
            entry_count: r.get::<_, i64>(4)? as u32,
            duration_ms: r.get::<_, i64>(5)?.max(0) as u64,
            revision: r.get(6)?,
            updated_at: r.get(7)?,
            clock: r.get::<_, i64>(9)?.max(0) as u64,
        },
        UserId(r.get(8)?),
    ))
}

pub fn visible_to(conn: &Connection, user: UserId) -> StorageResult<Vec<Playlist>> {
    Ok(conn
        .prepare_cached(&format!("{PLAYLIST_SELECT} WHERE p.owner_id = ?1 OR p.public = 1 ORDER BY p.name COLLATE NOCASE, p.id"))?
        .query_map([user.0], |r| playlist_from_row(r).map(|(p, _)| p))?
        .collect::<Result<_, _>>()?)
}

pub fn playlist(conn: &Connection, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
    let Some((playlist, owner_id)) = conn
        .prepare_cached(&format!("{PLAYLIST_SELECT} WHERE p.id = ?1"))?
        .query_row([id.to_string()], playlist_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let entries = conn
        .prepare_cached(
            "SELECT e.id, e.track_id, e.order_key, coalesce(t.available, 0) FROM playlist_entries e
             LEFT JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = ?1 ORDER BY e.order_key, e.id",
        )?
        .query_map([id.to_string()], |r| {
            Ok(PlaylistEntry {
                id: EntryId(uuid_col(r, 0)?),
                track_id: TrackId(r.get(1)?),
                order_key: r.get(2)?,
                available: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(OwnedPlaylist {
        owner_id,
        detail: PlaylistDetail { playlist, entries },
    }))
}

/// Who owns a playlist id: the user whose ops named it first, deleted playlists included.
pub fn owner(conn: &Connection, id: PlaylistId) -> StorageResult<Option<UserId>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM playlist_ops WHERE playlist_id = ?1 LIMIT 1")?
        .query_row([id.to_string()], |r| r.get(0).map(UserId))
        .optional()?)
}

fn ops_of(conn: &Connection, id: PlaylistId) -> StorageResult<Vec<PlaylistOp>> {
    conn.prepare_cached("SELECT body FROM playlist_ops WHERE playlist_id = ?1")?
        .query_map([id.to_string()], |r| r.get::<_, String>(0))?
        .map(|body| {
            let body = body?;
            serde_json::from_str(&body)
                .map_err(|e| StorageError::Corrupt(format!("playlist op {body}: {e}")))
        })
        .collect()
}

/// Records each op not seen before and rewrites the playlists they touch. Returns how many ops
/// were new. Ops on a playlist another user owns are refused as a conflict (the domain checks
/// first; this keeps two racing requests from sharing an id).
pub fn apply_ops(
    tx: &Connection,
    user: UserId,
    ops: &[PlaylistOp],
    now: i64,
) -> StorageResult<u64> {
    let mut touched = BTreeSet::new();
    let mut inserted = 0;
    for op in ops {
        if let Some(owner) = owner(tx, op.playlist_id)?
            && owner != user
        {
            return Err(StorageError::Conflict(format!(
                "playlist {}",
                op.playlist_id
            )));
        }
        let body = serde_json::to_string(op)
            .map_err(|e| StorageError::Corrupt(format!("playlist op: {e}")))?;
        let clock = i64::try_from(op.clock)
            .map_err(|_| StorageError::Corrupt(format!("op clock {}", op.clock)))?;
        let new = tx
            .prepare_cached(
                "INSERT INTO playlist_ops (id, playlist_id, user_id, clock, body, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                op.id.to_string(),
                op.playlist_id.to_string(),
                user.0,
                clock,
                body,
                now
            ])?;
        if new > 0 {
            inserted += 1;
            touched.insert(op.playlist_id);
            // The outbox: additions reach the recommender's queue in this transaction.
            super::recs::enqueue_op(tx, op, super::queue::now_ms())?;
        }
    }
    for id in touched {
        let ops = ops_of(tx, id)?;
        if let Some(state) = materialize(&ops) {
            write_state(tx, user, &state, now)?;
        }
    }
    Ok(inserted)
}

fn write_state(
    tx: &Connection,
    owner: UserId,
    state: &PlaylistState,
    now: i64,
) -> StorageResult<()> {
    let id = state.id.to_string();
    if state.deleted {
        tx.prepare_cached("DELETE FROM playlists WHERE id = ?1")?
            .execute([&id])?;
        record_change(tx, "playlist", &id, Some(owner), true)?;
        return Ok(());
    }
    let clock = i64::try_from(state.clock).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO playlists (id, owner_id, name, public, clock, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, public = excluded.public,
             clock = excluded.clock, updated_at = excluded.updated_at",
    )?
    .execute(params![id, owner.0, state.name, state.public, clock, now])?;
    // Entries are rewritten whole: order keys follow the materialized order, so they stay short
    // however many moves happened.
    tx.prepare_cached("DELETE FROM playlist_entries WHERE playlist_id = ?1")?
        .execute([&id])?;
    let entries: Vec<_> = state.entries().collect();
    let keys = order_key::n_between(None, None, entries.len());
    let mut insert = tx.prepare_cached(
        "INSERT INTO playlist_entries (id, playlist_id, track_id, order_key, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for ((entry, track), key) in entries.into_iter().zip(keys) {
        insert.execute(params![entry.to_string(), id, track.0, key, now])?;
    }
    record_change(tx, "playlist", &id, Some(owner), false)?;
    Ok(())
}
