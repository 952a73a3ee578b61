//! The change feed on PostgreSQL: compacted rows ordered by sequence number, joined to current
//! state, with `sqlite/changes.rs`'s paging. The caller runs [`page`] in one REPEATABLE READ
//! transaction, so the revision and every row it covers come from one snapshot.

use super::{catalog_rows, playlists};
use crate::storage::{StorageError, StorageResult};
use mixtape_shared::api::{Change, ChangesPage, Track};
use mixtape_shared::{PlaylistId, TrackId, UserId};
use postgres::Transaction;
use std::collections::HashMap;

pub(super) fn page(
    tx: &mut Transaction<'_>,
    user: UserId,
    since: i64,
    limit: u32,
) -> StorageResult<ChangesPage> {
    let revision: i64 = tx
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM changes WHERE user_id IS NULL OR user_id = $1",
            &[&user.0],
        )?
        .get(0);
    let rows: Vec<(String, String, i64, bool)> = tx
        .query(
            "SELECT kind, item, seq, deleted FROM changes
             WHERE seq > $1 AND (user_id IS NULL OR user_id = $2) ORDER BY seq LIMIT $3",
            &[&since, &user.0, &(limit as i64 + 1)],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let has_more = rows.len() > limit as usize;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    // One catalog read for the page's tracks, not one per row: a first mirror pulls them all.
    let track_ids: Vec<TrackId> = rows
        .iter()
        .filter(|(kind, _, _, deleted)| kind == "track" && !deleted)
        .filter_map(|(_, item, _, _)| item.parse().ok().map(TrackId))
        .collect();
    let mut tracks: HashMap<TrackId, Track> = catalog_rows::tracks_by_ids(tx, &track_ids)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut changes = Vec::with_capacity(rows.len());
    let mut next_since = since;
    for (kind, item, rev, deleted) in rows {
        next_since = rev;
        let change = match kind.as_str() {
            "track" => {
                let id = TrackId(
                    item.parse()
                        .map_err(|_| StorageError::Corrupt(format!("track change {item}")))?,
                );
                match tracks.remove(&id).filter(|_| !deleted) {
                    Some(track) => Change::Track {
                        rev,
                        track: Box::new(track),
                    },
                    None => Change::TrackDeleted { rev, id },
                }
            }
            "playlist" => {
                let id: PlaylistId = item
                    .parse()
                    .map_err(|_| StorageError::Corrupt(format!("playlist change {item}")))?;
                match (deleted, playlists::playlist(tx, id)?) {
                    (false, Some(p)) => Change::Playlist {
                        rev,
                        playlist: Box::new(p.detail),
                    },
                    _ => Change::PlaylistDeleted { rev, id },
                }
            }
            other => {
                return Err(StorageError::Corrupt(format!(
                    "unknown change kind {other}"
                )));
            }
        };
        changes.push(change);
    }
    if !has_more {
        next_since = next_since.max(revision);
    }
    Ok(ChangesPage {
        changes,
        next_since,
        has_more,
        revision,
    })
}
