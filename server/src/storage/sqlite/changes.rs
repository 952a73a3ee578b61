//! The change feed: compacted rows ordered by sequence number, joined to current state.

use super::*;
use super::{catalog, playlists};
use mixtape_shared::api::{Change, Track};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// SQLite's cursor: the decimal revision of a previous page, `>= 0`.
pub fn parse_cursor(text: &str) -> StorageResult<i64> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(StorageError::BadCursor),
    }
}

pub fn page(conn: &Connection, user: UserId, since: i64, limit: u32) -> StorageResult<ChangesPage> {
    let revision: i64 = conn
        .prepare_cached("SELECT seq FROM changes WHERE user_id IS NULL OR user_id = ?1 ORDER BY seq DESC LIMIT 1")?
        .query_row([user.0], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let rows: Vec<(String, String, i64, bool)> = conn
        .prepare_cached(
            "SELECT kind, item, seq, deleted FROM changes
             WHERE seq > ?1 AND (user_id IS NULL OR user_id = ?2) ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![since, user.0, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() > limit as usize;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    // One catalog read for the page's tracks, not one per row: a first mirror pulls them all.
    let track_ids: Vec<TrackId> = rows
        .iter()
        .filter(|(kind, _, _, deleted)| kind == "track" && !deleted)
        .filter_map(|(_, item, _, _)| item.parse().ok().map(TrackId))
        .collect();
    let mut tracks: HashMap<TrackId, Track> = catalog::tracks_by_ids(conn, &track_ids)?
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
                match (deleted, playlists::playlist(conn, id)?) {
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
        next_since: next_since.to_string(),
        has_more,
        revision,
    })
}
