//! The change feed on PostgreSQL: two compacted feeds read as one. Catalog changes are the
//! primary's rows without a user (read where catalog reads go); a user's playlist changes are
//! their home's rows for that user (`shards.rs`). Each part keeps SQLite's paging rule: a
//! part's rows and its revision come from one snapshot, so every change at or below the
//! revision is visible. The cursor is a vector of both positions, with the home (shard and
//! placement epoch) the user position counts on; a cursor from before a move is carried to
//! the new home through `shard_moves`.

use super::{PgStore, catalog_rows, playlists};
use crate::storage::{StorageError, StorageResult};
use mixtape_shared::api::{Change, ChangesPage, PlaylistDetail, Track};
use mixtape_shared::{PlaylistId, TrackId, UserId};
use postgres::{GenericClient, Transaction};
use std::collections::HashMap;

/// A position in one user's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    /// The last catalog change seen (the primary's sequence).
    pub catalog: i64,
    /// The user's home when the position was read, and its placement epoch.
    pub shard: i32,
    pub epoch: i32,
    /// The last change of the user's own seen (their home's sequence).
    pub user: i64,
}

impl Cursor {
    /// `v2.<catalog>.<shard>.<epoch>.<user>`; a plain decimal is the single-sequence cursor of
    /// earlier versions, where both parts counted on the primary.
    pub(crate) fn decode(text: &str) -> StorageResult<Self> {
        let text = text.trim();
        if let Ok(n) = text.parse::<i64>() {
            return if n >= 0 {
                Ok(Self {
                    catalog: n,
                    user: n,
                    ..Self::default()
                })
            } else {
                Err(StorageError::BadCursor)
            };
        }
        let parts: Vec<&str> = text.split('.').collect();
        match parts.as_slice() {
            ["v2", catalog, shard, epoch, user] => {
                let cursor = Self {
                    catalog: catalog.parse().map_err(|_| StorageError::BadCursor)?,
                    shard: shard.parse().map_err(|_| StorageError::BadCursor)?,
                    epoch: epoch.parse().map_err(|_| StorageError::BadCursor)?,
                    user: user.parse().map_err(|_| StorageError::BadCursor)?,
                };
                if cursor.catalog < 0 || cursor.user < 0 || cursor.shard < 0 || cursor.epoch < 0 {
                    return Err(StorageError::BadCursor);
                }
                Ok(cursor)
            }
            _ => Err(StorageError::BadCursor),
        }
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "v2.{}.{}.{}.{}",
            self.catalog, self.shard, self.epoch, self.user
        )
    }
}

/// One part's page: its rows, the position after them, whether more follow, its revision.
struct Part<T> {
    rows: Vec<T>,
    next: i64,
    has_more: bool,
    revision: i64,
}

/// Rows `(kind, item, seq, deleted)` after `since` with `user_id` matching `who`.
fn part(
    c: &mut impl GenericClient,
    who: Option<UserId>,
    since: i64,
    limit: u32,
) -> StorageResult<Part<(String, String, i64, bool)>> {
    // Two spellings, not `IS NOT DISTINCT FROM`: only these can use `changes_by_user_seq`.
    let (whose, user) = match who {
        Some(u) => ("user_id = $1", u.0),
        None => ("user_id IS NULL AND $1::int8 = 0", 0),
    };
    let revision: i64 = c
        .query_one(
            &format!("SELECT coalesce(max(seq), 0) FROM changes WHERE {whose}"),
            &[&user],
        )?
        .get(0);
    if limit == 0 {
        return Ok(Part {
            rows: Vec::new(),
            next: since,
            has_more: revision > since,
            revision,
        });
    }
    let mut rows: Vec<(String, String, i64, bool)> = c
        .query(
            &format!(
                "SELECT kind, item, seq, deleted FROM changes
                 WHERE {whose} AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&user, &since, &(limit as i64 + 1)],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if has_more => last.2,
        Some(last) => last.2.max(revision),
        None => since.max(revision),
    };
    Ok(Part {
        rows,
        next,
        has_more,
        revision,
    })
}

/// Carries a user position counted on an earlier home to `home`, through the moves since.
/// A chain that does not connect (a cursor this server did not issue) starts the user's part
/// over: the device is sent their playlists again, which it applies idempotently.
fn translate(
    tx: &mut Transaction<'_>,
    user: UserId,
    cursor: &Cursor,
    home: super::Home,
) -> StorageResult<i64> {
    if cursor.user == 0 || (cursor.shard == home.shard && cursor.epoch == home.epoch) {
        return Ok(cursor.user);
    }
    if cursor.epoch >= home.epoch {
        return Err(StorageError::BadCursor);
    }
    let moves = tx.query(
        "SELECT epoch, from_shard, base_seq, origin_seqs FROM shard_moves
         WHERE user_id = $1 AND epoch > $2 AND epoch <= $3 ORDER BY epoch",
        &[&user.0, &cursor.epoch, &home.epoch],
    )?;
    let connected = moves.len() == (home.epoch - cursor.epoch) as usize
        && moves
            .first()
            .is_some_and(|m| m.get::<_, i32>(1) == cursor.shard);
    if !connected {
        tracing::warn!(
            user = user.0,
            "a feed cursor's home history is unknown; resending the user's part"
        );
        return Ok(0);
    }
    let mut position = cursor.user;
    for m in &moves {
        let base: i64 = m.get(2);
        let origin: Vec<i64> = m.get(3);
        position = base + origin.partition_point(|seq| *seq <= position) as i64;
    }
    Ok(position)
}

/// A page of `user`'s feed after the cursor `since`: catalog changes first, then the user's.
pub(super) fn page(
    store: &PgStore,
    user: UserId,
    since: &str,
    limit: u32,
) -> StorageResult<ChangesPage> {
    let cursor = Cursor::decode(since)?;
    let catalog = store.read_catalog(|tx| {
        let part = part(tx, None, cursor.catalog, limit)?;
        let ids: Vec<TrackId> = part
            .rows
            .iter()
            .filter(|(kind, _, _, deleted)| kind == "track" && !deleted)
            .filter_map(|(_, item, _, _)| item.parse().ok().map(TrackId))
            .collect();
        let tracks: HashMap<TrackId, Track> = catalog_rows::tracks_by_ids(tx, &ids)?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        Ok((part, tracks))
    })?;
    let (catalog, mut tracks) = catalog;
    let room = limit - catalog.rows.len() as u32;
    let (home, mine, mut playlists) = store.read_home_at(user, |tx, home| {
        let since = translate(tx, user, &cursor, home)?;
        let part = part(tx, Some(user), since, room)?;
        let mut details = HashMap::new();
        for (kind, item, _, deleted) in &part.rows {
            if kind != "playlist" || *deleted {
                continue;
            }
            let id: PlaylistId = item
                .parse()
                .map_err(|_| StorageError::Corrupt(format!("playlist change {item}")))?;
            if let Some(found) = playlists::playlist(tx, id)? {
                details.insert(id, found.detail);
            }
        }
        Ok((home, part, details))
    })?;
    // The playlists' durations and availability are the catalog's.
    let mut details: Vec<PlaylistDetail> = playlists.drain().map(|(_, d)| d).collect();
    store.with_track_facts(&mut details)?;
    let mut playlists: HashMap<PlaylistId, PlaylistDetail> =
        details.into_iter().map(|d| (d.playlist.id, d)).collect();

    let mut changes = Vec::with_capacity(catalog.rows.len() + mine.rows.len());
    for (kind, item, rev, deleted) in &catalog.rows {
        if kind != "track" {
            return Err(StorageError::Corrupt(format!("catalog change kind {kind}")));
        }
        let id = TrackId(
            item.parse()
                .map_err(|_| StorageError::Corrupt(format!("track change {item}")))?,
        );
        changes.push(match tracks.remove(&id).filter(|_| !deleted) {
            Some(track) => Change::Track {
                rev: *rev,
                track: Box::new(track),
            },
            None => Change::TrackDeleted { rev: *rev, id },
        });
    }
    for (kind, item, rev, _) in &mine.rows {
        if kind != "playlist" {
            return Err(StorageError::Corrupt(format!("user change kind {kind}")));
        }
        let id: PlaylistId = item
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("playlist change {item}")))?;
        changes.push(match playlists.remove(&id) {
            Some(playlist) => Change::Playlist {
                rev: *rev,
                playlist: Box::new(playlist),
            },
            None => Change::PlaylistDeleted { rev: *rev, id },
        });
    }
    let next = Cursor {
        catalog: catalog.next,
        shard: home.shard,
        epoch: home.epoch,
        user: mine.next,
    };
    Ok(ChangesPage {
        changes,
        next_since: next.encode(),
        has_more: catalog.has_more || mine.has_more,
        revision: catalog.revision.max(mine.revision),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_old_ones_still_read() {
        let c = Cursor {
            catalog: 12,
            shard: 2,
            epoch: 1,
            user: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let old = Cursor::decode("42").unwrap();
        assert_eq!(
            (old.catalog, old.user, old.shard, old.epoch),
            (42, 42, 0, 0)
        );
        for bad in [
            "-1",
            "v2.1.2.3",
            "v2.a.0.0.0",
            "v3.1.0.0.1",
            "v2.1.0.0.-4",
            "",
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(StorageError::BadCursor)),
                "{bad:?} read as a cursor"
            );
        }
    }
}
