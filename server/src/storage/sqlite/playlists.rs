//! Playlists, their entries and the op log they are made from. Applying ops rewrites each touched
//! playlist as `mixtape_shared::sync::materialize` gives it and records it in the change feed;
//! a snapshot per playlist (`mixtape_shared::sync::Snapshot`) spares replaying the whole log.

use super::record_change;
use super::*;
use mixtape_shared::api::{Playlist, PlaylistEntry};
use mixtape_shared::sync::{PlaylistOp, PlaylistState, Snapshot};
use mixtape_shared::{EntryId, OpId, order_key};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, HashSet};

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

/// Ops logged since the last compaction before the next one folds them into a base: bounds what
/// a rebuild (for a late op) replays, and the log's growth from moves and renames.
pub(crate) const COMPACT_AFTER: u64 = 5_000;

/// The ops of a playlist not folded into its base, in the order they were logged.
fn unfolded_ops(conn: &Connection, id: PlaylistId) -> StorageResult<Vec<PlaylistOp>> {
    conn.prepare_cached(
        "SELECT body FROM playlist_ops WHERE playlist_id = ?1 AND folded = 0 ORDER BY rowid",
    )?
    .query_map([id.to_string()], |r| r.get::<_, String>(0))?
    .map(|body| {
        let body = body?;
        serde_json::from_str(&body)
            .map_err(|e| StorageError::Corrupt(format!("playlist op {body}: {e}")))
    })
    .collect()
}

/// A playlist's kept snapshot, its compacted base and how many ops were logged since that base.
struct Kept {
    snapshot: Snapshot,
    base: Option<Snapshot>,
    unfolded: u64,
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StorageResult<T> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> StorageResult<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

fn kept(conn: &Connection, id: PlaylistId) -> StorageResult<Option<Kept>> {
    let row: Option<(String, Option<String>, i64)> = conn
        .prepare_cached(
            "SELECT snapshot, base, unfolded FROM playlist_snapshots WHERE playlist_id = ?1",
        )?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((snapshot, base, unfolded)) = row else {
        return Ok(None);
    };
    Ok(Some(Kept {
        snapshot: from_json("playlist snapshot", &snapshot)?,
        base: base.map(|b| from_json("playlist base", &b)).transpose()?,
        unfolded: unfolded.max(0) as u64,
    }))
}

fn save(tx: &Connection, id: PlaylistId, kept: &Kept) -> StorageResult<()> {
    let base = kept
        .base
        .as_ref()
        .map(|b| to_json("playlist base", b))
        .transpose()?;
    tx.prepare_cached(
        "INSERT INTO playlist_snapshots (playlist_id, snapshot, base, unfolded) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (playlist_id) DO UPDATE SET snapshot = excluded.snapshot, base = excluded.base,
             unfolded = excluded.unfolded",
    )?
    .execute(params![
        id.to_string(),
        to_json("playlist snapshot", &kept.snapshot)?,
        base,
        i64::try_from(kept.unfolded).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}

/// The playlist as its ops make it, tombstones included (None before its create).
pub fn state(conn: &Connection, id: PlaylistId) -> StorageResult<Option<PlaylistState>> {
    if let Some(kept) = kept(conn, id)? {
        return Ok(Some(kept.snapshot.state));
    }
    Ok(Snapshot::rebuild(None, &unfolded_ops(conn, id)?).map(|s| s.state))
}

/// The op ids of `ids` already applied, folded ones included.
pub fn known_ops(conn: &Connection, ids: &[OpId]) -> StorageResult<HashSet<OpId>> {
    let mut logged = conn.prepare_cached("SELECT 1 FROM playlist_ops WHERE id = ?1")?;
    let mut folded = conn.prepare_cached("SELECT 1 FROM playlist_folded_op_ids WHERE id = ?1")?;
    let mut known = HashSet::new();
    for id in ids {
        let key = id.to_string();
        if logged.exists([&key])? || folded.exists([&key])? {
            known.insert(*id);
        }
    }
    Ok(known)
}

/// Folds the unfolded ops into `kept.snapshot`, which becomes the base. Moves, removes, renames
/// and visibility changes leave the log (their ids stay, for dedup); the rest stay, marked.
fn compact(tx: &Connection, id: PlaylistId, kept: &mut Kept) -> StorageResult<()> {
    let id = id.to_string();
    tx.prepare_cached(
        "INSERT OR IGNORE INTO playlist_folded_op_ids (id, playlist_id)
         SELECT id, playlist_id FROM playlist_ops WHERE playlist_id = ?1 AND folded = 0
             AND json_extract(body, '$.kind.type') NOT IN ('create', 'add', 'delete')",
    )?
    .execute([&id])?;
    tx.prepare_cached(
        "DELETE FROM playlist_ops WHERE playlist_id = ?1 AND folded = 0
             AND json_extract(body, '$.kind.type') NOT IN ('create', 'add', 'delete')",
    )?
    .execute([&id])?;
    tx.prepare_cached("UPDATE playlist_ops SET folded = 1 WHERE playlist_id = ?1 AND folded = 0")?
        .execute([&id])?;
    kept.base = Some(kept.snapshot.clone());
    kept.unfolded = 0;
    Ok(())
}

/// Records each op not seen before and rewrites the playlists they touch. Returns how many ops
/// were new. Ops on a playlist another user owns are refused as a conflict (the domain checks
/// first; this keeps two racing requests from sharing an id).
///
/// A playlist's new ops are applied to its kept snapshot when they all sort after it (the usual
/// case: one device editing, or devices that were online); an op that sorts earlier (made
/// offline) makes a rebuild from the base and the ops logged since, at most `COMPACT_AFTER`.
pub fn apply_ops(
    tx: &Connection,
    user: UserId,
    ops: &[PlaylistOp],
    now: i64,
) -> StorageResult<u64> {
    let mut new_ops: BTreeMap<PlaylistId, Vec<&PlaylistOp>> = BTreeMap::new();
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
        if tx
            .prepare_cached("SELECT 1 FROM playlist_folded_op_ids WHERE id = ?1")?
            .exists([op.id.to_string()])?
        {
            continue;
        }
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
            new_ops.entry(op.playlist_id).or_default().push(op);
            // The outbox: additions reach the recommender's queue in this transaction.
            super::recs::enqueue_op(tx, op, super::queue::now_ms())?;
        }
    }
    for (id, new) in new_ops {
        let kept = match kept(tx, id)? {
            Some(mut kept) => {
                if kept.snapshot.advance(&new) {
                    kept.unfolded += new.len() as u64;
                    Some(kept)
                } else {
                    let ops = unfolded_ops(tx, id)?;
                    Snapshot::rebuild(kept.base.clone(), &ops).map(|snapshot| Kept {
                        snapshot,
                        base: kept.base,
                        unfolded: ops.len() as u64,
                    })
                }
            }
            None => {
                let ops = unfolded_ops(tx, id)?;
                Snapshot::rebuild(None, &ops).map(|snapshot| Kept {
                    snapshot,
                    base: None,
                    unfolded: ops.len() as u64,
                })
            }
        };
        // No create among the ops yet: nothing to show (the domain refuses such ops).
        let Some(mut kept) = kept else { continue };
        write_state(tx, user, &kept.snapshot.state, now)?;
        if kept.unfolded >= COMPACT_AFTER {
            compact(tx, id, &mut kept)?;
        }
        save(tx, id, &kept)?;
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
