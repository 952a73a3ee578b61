//! Playlists and their entries. Each change records the playlist in the change feed for its owner.

use super::record_change;
use crate::storage::*;
use mixtape_shared::api::{Playlist, PlaylistEntry};
use rusqlite::{Connection, OptionalExtension, params};

const PLAYLIST_SELECT: &str = "SELECT p.id, u.username, p.name, p.public,
    (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id),
    (SELECT coalesce(sum(t.duration_ms), 0) FROM playlist_entries e JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = p.id),
    coalesce((SELECT seq FROM changes WHERE kind = 'playlist' AND item = p.id), 0),
    p.updated_at, p.owner_id
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
        .prepare_cached("SELECT id, track_id, order_key FROM playlist_entries WHERE playlist_id = ?1 ORDER BY order_key, id")?
        .query_map([id.to_string()], |r| {
            Ok(PlaylistEntry { id: EntryId(uuid_col(r, 0)?), track_id: TrackId(r.get(1)?), order_key: r.get(2)? })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(OwnedPlaylist {
        owner_id,
        detail: PlaylistDetail { playlist, entries },
    }))
}

fn owner_of(tx: &Connection, id: PlaylistId) -> StorageResult<Option<UserId>> {
    Ok(tx
        .prepare_cached("SELECT owner_id FROM playlists WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0).map(UserId))
        .optional()?)
}

fn touch(tx: &Connection, id: PlaylistId, now: i64) -> StorageResult<()> {
    tx.prepare_cached("UPDATE playlists SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), now])?;
    if let Some(owner) = owner_of(tx, id)? {
        record_change(tx, "playlist", &id.to_string(), Some(owner), false)?;
    }
    Ok(())
}

/// Returns false when a playlist with this id already exists (a replayed create).
pub fn create(
    tx: &Connection,
    owner: UserId,
    id: PlaylistId,
    name: &str,
    public: bool,
    now: i64,
) -> StorageResult<bool> {
    let inserted = tx.execute(
        "INSERT INTO playlists (id, owner_id, name, public, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (id) DO NOTHING",
        params![id.to_string(), owner.0, name, public, now],
    )? > 0;
    if inserted {
        record_change(tx, "playlist", &id.to_string(), Some(owner), false)?;
    }
    Ok(inserted)
}

pub fn update(
    tx: &Connection,
    id: PlaylistId,
    name: Option<&str>,
    public: Option<bool>,
    now: i64,
) -> StorageResult<()> {
    tx.execute(
        "UPDATE playlists SET name = coalesce(?2, name), public = coalesce(?3, public) WHERE id = ?1",
        params![id.to_string(), name, public],
    )?;
    touch(tx, id, now)
}

pub fn delete(tx: &Connection, id: PlaylistId) -> StorageResult<()> {
    let owner = owner_of(tx, id)?;
    tx.execute("DELETE FROM playlists WHERE id = ?1", [id.to_string()])?;
    if let Some(owner) = owner {
        record_change(tx, "playlist", &id.to_string(), Some(owner), true)?;
    }
    Ok(())
}

pub fn insert_entries(
    tx: &Connection,
    id: PlaylistId,
    entries: &[NewEntry],
    now: i64,
) -> StorageResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO playlist_entries (id, playlist_id, track_id, order_key, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING",
    )?;
    for e in entries {
        stmt.execute(params![
            e.id.to_string(),
            id.to_string(),
            e.track_id.0,
            e.order_key,
            now
        ])?;
    }
    touch(tx, id, now)
}

pub fn remove_entry(
    tx: &Connection,
    id: PlaylistId,
    entry: EntryId,
    now: i64,
) -> StorageResult<bool> {
    let removed = tx.execute(
        "DELETE FROM playlist_entries WHERE id = ?1 AND playlist_id = ?2",
        params![entry.to_string(), id.to_string()],
    )? > 0;
    if removed {
        touch(tx, id, now)?;
    }
    Ok(removed)
}

pub fn set_entry_key(
    tx: &Connection,
    id: PlaylistId,
    entry: EntryId,
    order_key: &str,
    now: i64,
) -> StorageResult<bool> {
    let moved = tx.execute(
        "UPDATE playlist_entries SET order_key = ?3 WHERE id = ?1 AND playlist_id = ?2",
        params![entry.to_string(), id.to_string(), order_key],
    )? > 0;
    if moved {
        touch(tx, id, now)?;
    }
    Ok(moved)
}
