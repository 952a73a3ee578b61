//! Bookmarks: one kept position per user and track.

use super::*;
use rusqlite::{Connection, params};

pub fn list(conn: &Connection, user: UserId) -> StorageResult<Vec<BookmarkRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT track_id, position_ms, comment, created_at, changed_at
             FROM subsonic_bookmarks WHERE user_id = ?1 ORDER BY changed_at DESC, track_id",
        )?
        .query_map([user.0], |r| {
            Ok(BookmarkRecord {
                track: TrackId(r.get(0)?),
                position_ms: r.get(1)?,
                comment: r.get(2)?,
                created_at: r.get(3)?,
                changed_at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

pub fn save(tx: &Connection, user: UserId, b: &BookmarkRecord) -> StorageResult<()> {
    tx.execute(
        "INSERT INTO subsonic_bookmarks
             (user_id, track_id, position_ms, comment, created_at, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id, track_id) DO UPDATE SET position_ms = excluded.position_ms,
             comment = excluded.comment, changed_at = excluded.changed_at",
        params![
            user.0,
            b.track.0,
            b.position_ms,
            b.comment,
            b.created_at,
            b.changed_at
        ],
    )?;
    Ok(())
}

pub fn delete(tx: &Connection, user: UserId, track: TrackId) -> StorageResult<bool> {
    Ok(tx.execute(
        "DELETE FROM subsonic_bookmarks WHERE user_id = ?1 AND track_id = ?2",
        params![user.0, track.0],
    )? > 0)
}
