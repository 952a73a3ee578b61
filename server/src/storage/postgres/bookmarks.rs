//! Bookmarks on the user's home: one kept position per user and track (as `sqlite/bookmarks.rs`).

use crate::storage::{BookmarkRecord, StorageResult};
use mixtape_shared::{TrackId, UserId};
use postgres::Transaction;

pub(super) fn list(tx: &mut Transaction<'_>, user: UserId) -> StorageResult<Vec<BookmarkRecord>> {
    Ok(tx
        .query(
            "SELECT track_id, position_ms, comment, created_at, changed_at
             FROM subsonic_bookmarks WHERE user_id = $1 ORDER BY changed_at DESC, track_id",
            &[&user.0],
        )?
        .iter()
        .map(|r| BookmarkRecord {
            track: TrackId(r.get(0)),
            position_ms: r.get(1),
            comment: r.get(2),
            created_at: r.get(3),
            changed_at: r.get(4),
        })
        .collect())
}

pub(super) fn save(
    tx: &mut Transaction<'_>,
    user: UserId,
    b: &BookmarkRecord,
) -> StorageResult<()> {
    tx.execute(
        "INSERT INTO subsonic_bookmarks
             (user_id, track_id, position_ms, comment, created_at, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, track_id) DO UPDATE SET position_ms = excluded.position_ms,
             comment = excluded.comment, changed_at = excluded.changed_at",
        &[
            &user.0,
            &b.track.0,
            &b.position_ms,
            &b.comment,
            &b.created_at,
            &b.changed_at,
        ],
    )?;
    Ok(())
}

pub(super) fn delete(
    tx: &mut Transaction<'_>,
    user: UserId,
    track: TrackId,
) -> StorageResult<bool> {
    Ok(tx.execute(
        "DELETE FROM subsonic_bookmarks WHERE user_id = $1 AND track_id = $2",
        &[&user.0, &track.0],
    )? > 0)
}
