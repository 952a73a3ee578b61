//! What users do with the catalog, on PostgreSQL: play events (with their recs outbox message in
//! the same transaction) and the latest of each user's, stars, ratings, annotations and the saved
//! play queue, as `sqlite/events.rs` and `sqlite/subsonic.rs` do them. The album lists are in
//! `album_list.rs`, bookmarks in `bookmarks.rs`.

use super::PgStore;
use crate::storage::{
    ActivityStore, AlbumList, Annotation, BookmarkRecord, ItemRef, LatestPlay, PlayQueueRecord,
    StorageError, StorageResult,
};
use mixtape_shared::api::{Album, PlayEvent, PlayEventKind};
use mixtape_shared::{AlbumId, ArtistId, DeviceId, EventId, TrackId, UserId};
use postgres::Transaction;
use std::collections::HashMap;

pub(super) fn kind_of(item: ItemRef) -> (&'static str, i64) {
    match item {
        ItemRef::Track(id) => ("track", id.0),
        ItemRef::Album(id) => ("album", id.0),
        ItemRef::Artist(id) => ("artist", id.0),
    }
}

fn item_of(kind: &str, id: i64) -> Option<ItemRef> {
    match kind {
        "track" => Some(ItemRef::Track(TrackId(id))),
        "album" => Some(ItemRef::Album(AlbumId(id))),
        "artist" => Some(ItemRef::Artist(ArtistId(id))),
        _ => None,
    }
}

/// Unix ms: when an outbox message was enqueued.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The recs outbox message of a newly stored play event (as SQLite's `recs::enqueue_play`; the
/// `recs_queue` table is the recs domain's).
fn enqueue_play(
    tx: &mut Transaction<'_>,
    user: UserId,
    e: &PlayEvent,
    now_ms: i64,
) -> StorageResult<()> {
    use crate::recommender::{Event, Play, play_weight};
    let event = Event::Play(Play {
        user: user.0,
        item: e.track_id.0,
        at_ms: e.at_ms,
        weight: play_weight(e.kind.as_str()),
    });
    let payload = serde_json::to_string(&event).expect("events serialize");
    tx.execute(
        "INSERT INTO recs_queue (kind, key, payload, enqueued_at_ms, not_before_ms)
         VALUES ('play', $1, $2, $3::int8, $3::int8)",
        &[&e.id.to_string(), &payload, &now_ms],
    )?;
    Ok(())
}

fn history(
    tx: &mut Transaction<'_>,
    user: UserId,
    before_ms: Option<i64>,
    limit: u32,
) -> StorageResult<(u64, Vec<PlayEvent>)> {
    let total: i64 = tx
        .query_one(
            "SELECT count(*) FROM play_events WHERE user_id = $1",
            &[&user.0],
        )?
        .get(0);
    let events = tx
        .query(
            "SELECT id, track_id, kind, position_ms, at_ms, device FROM play_events
             WHERE user_id = $1 AND at_ms < $2 ORDER BY at_ms DESC, id DESC LIMIT $3",
            &[&user.0, &before_ms.unwrap_or(i64::MAX), &(limit as i64)],
        )?
        .iter()
        .map(|r| event_from_row(r, 0))
        .collect::<StorageResult<_>>()?;
    Ok((total.max(0) as u64, events))
}

/// The play event in columns `first..first + 6` of `r`: id, track_id, kind, position_ms,
/// at_ms, device.
fn event_from_row(r: &postgres::Row, first: usize) -> StorageResult<PlayEvent> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("play event {what}"));
    let id: String = r.get(first);
    let kind: String = r.get(first + 2);
    let device: Option<String> = r.get(first + 5);
    Ok(PlayEvent {
        id: id.parse::<EventId>().map_err(|_| corrupt(&id))?,
        track_id: TrackId(r.get(first + 1)),
        kind: PlayEventKind::parse(&kind).ok_or_else(|| corrupt(&kind))?,
        position_ms: r.get::<_, i64>(first + 3).max(0) as u64,
        at_ms: r.get(first + 4),
        device: device
            .map(|d| d.parse::<DeviceId>().map_err(|_| corrupt(&d)))
            .transpose()?,
    })
}

/// Each resident user's latest event received at or after `since`, on one home (an end before
/// a start at the same instant, as in SQLite).
fn latest_here(c: &mut postgres::Client, since: i64) -> StorageResult<Vec<LatestPlay>> {
    c.query(
        "SELECT DISTINCT ON (user_id) user_id, received_at,
             id, track_id, kind, position_ms, at_ms, device
         FROM play_events WHERE received_at >= $1
           AND user_id IN (SELECT user_id FROM residents)
         ORDER BY user_id, at_ms DESC, kind = 'start', id DESC",
        &[&since],
    )?
    .iter()
    .map(|r| {
        Ok(LatestPlay {
            user: UserId(r.get(0)),
            received_at: r.get(1),
            event: event_from_row(r, 2)?,
        })
    })
    .collect()
}

/// What the catalog knows for annotations: when tracks and albums were added, and the tracks
/// of each album (whose plays make the album's).
struct CatalogFacts {
    added: HashMap<ItemRef, i64>,
    album_tracks: Vec<(i64, i64)>,
}

fn catalog_facts(tx: &mut Transaction<'_>, items: &[ItemRef]) -> StorageResult<CatalogFacts> {
    let of_kind = |k: &str| -> Vec<i64> {
        items
            .iter()
            .map(|i| kind_of(*i))
            .filter(|(kind, _)| *kind == k)
            .map(|(_, id)| id)
            .collect()
    };
    let (tracks, albums) = (of_kind("track"), of_kind("album"));
    let mut added = HashMap::new();
    for r in tx.query(
        "SELECT id::int8, added_at::int8 FROM tracks WHERE id = ANY($1::int8[])",
        &[&tracks],
    )? {
        added.insert(ItemRef::Track(TrackId(r.get(0))), r.get(1));
    }
    for r in tx.query(
        "SELECT id::int8, added_at::int8 FROM albums WHERE id = ANY($1::int8[])",
        &[&albums],
    )? {
        added.insert(ItemRef::Album(AlbumId(r.get(0))), r.get(1));
    }
    let album_tracks = tx
        .query(
            "SELECT album_id::int8, id::int8 FROM tracks WHERE album_id = ANY($1::int8[])",
            &[&albums],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(CatalogFacts {
        added,
        album_tracks,
    })
}

/// The user's stars, ratings and plays of `items` (on their home), with the catalog's facts.
fn annotations(
    tx: &mut Transaction<'_>,
    user: UserId,
    items: &[ItemRef],
    facts: &CatalogFacts,
) -> StorageResult<HashMap<ItemRef, Annotation>> {
    let mut out: HashMap<ItemRef, Annotation> = items
        .iter()
        .map(|item| (*item, Annotation::default()))
        .collect();
    if out.is_empty() {
        return Ok(out);
    }
    let kinds: Vec<&str> = items.iter().map(|i| kind_of(*i).0).collect();
    let ids: Vec<i64> = items.iter().map(|i| kind_of(*i).1).collect();
    for r in tx.query(
        "SELECT s.kind, s.item, s.starred_at FROM subsonic_stars s
         JOIN unnest($2::text[], $3::int8[]) AS q(kind, item) ON q.kind = s.kind AND q.item = s.item
         WHERE s.user_id = $1",
        &[&user.0, &kinds, &ids],
    )? {
        if let Some(a) = item_of(r.get(0), r.get(1)).and_then(|i| out.get_mut(&i)) {
            a.starred_at = Some(r.get(2));
        }
    }
    for r in tx.query(
        "SELECT s.kind, s.item, s.rating FROM subsonic_ratings s
         JOIN unnest($2::text[], $3::int8[]) AS q(kind, item) ON q.kind = s.kind AND q.item = s.item
         WHERE s.user_id = $1",
        &[&user.0, &kinds, &ids],
    )? {
        if let Some(a) = item_of(r.get(0), r.get(1)).and_then(|i| out.get_mut(&i)) {
            a.rating = Some(r.get::<_, i64>(2).clamp(1, 5) as u8);
        }
    }
    // Plays per track: of the tracks asked for and of the albums' tracks.
    let mut played: Vec<i64> = items
        .iter()
        .filter_map(|i| match i {
            ItemRef::Track(t) => Some(t.0),
            _ => None,
        })
        .chain(facts.album_tracks.iter().map(|(_, t)| *t))
        .collect();
    played.sort_unstable();
    played.dedup();
    let mut plays: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
    if !played.is_empty() {
        for r in tx.query(
            "SELECT track_id, count(*) FILTER (WHERE kind = 'finish'), max(at_ms) FROM play_events
             WHERE user_id = $1 AND track_id = ANY($2::int8[]) GROUP BY track_id",
            &[&user.0, &played],
        )? {
            plays.insert(r.get(0), (r.get(1), r.get(2)));
        }
    }
    for (item, a) in out.iter_mut() {
        match item {
            ItemRef::Track(t) => {
                if let Some((n, last)) = plays.get(&t.0) {
                    a.play_count = (*n).max(0) as u64;
                    a.last_played_ms = *last;
                }
            }
            ItemRef::Album(album) => {
                for (_, track) in facts.album_tracks.iter().filter(|(al, _)| *al == album.0) {
                    if let Some((n, last)) = plays.get(track) {
                        a.play_count += (*n).max(0) as u64;
                        a.last_played_ms = a.last_played_ms.max(*last);
                    }
                }
            }
            ItemRef::Artist(_) => {}
        }
        a.added_at = facts.added.get(item).copied();
    }
    Ok(out)
}

impl ActivityStore for PgStore {
    fn insert_play_events(
        &self,
        user: UserId,
        events: &[PlayEvent],
        now: i64,
    ) -> StorageResult<u64> {
        self.write_home(user, |tx, _| {
            let now_ms = now_ms();
            let mut inserted = 0;
            for e in events {
                let new = tx.execute(
                    "INSERT INTO play_events
                         (id, user_id, track_id, kind, position_ms, at_ms, device, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                    &[
                        &e.id.to_string(),
                        &user.0,
                        &e.track_id.0,
                        &e.kind.as_str(),
                        &i64::try_from(e.position_ms).unwrap_or(i64::MAX),
                        &e.at_ms,
                        &e.device.map(|d| d.to_string()),
                        &now,
                    ],
                )?;
                // The outbox: a new event's queue message commits (or rolls back) with it.
                if new > 0 {
                    enqueue_play(tx, user, e, now_ms)?;
                }
                inserted += new;
            }
            Ok(inserted)
        })
    }

    fn play_history(
        &self,
        user: UserId,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StorageResult<(u64, Vec<PlayEvent>)> {
        self.read_home(user, |tx| history(tx, user, before_ms, limit))
    }

    fn set_starred(
        &self,
        user: UserId,
        items: &[ItemRef],
        starred: bool,
        now: i64,
    ) -> StorageResult<()> {
        self.write_home(user, |tx, _| {
            for item in items {
                let (kind, id) = kind_of(*item);
                if starred {
                    tx.execute(
                        "INSERT INTO subsonic_stars (user_id, kind, item, starred_at)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&user.0, &kind, &id, &now],
                    )?;
                } else {
                    tx.execute(
                        "DELETE FROM subsonic_stars WHERE user_id = $1 AND kind = $2 AND item = $3",
                        &[&user.0, &kind, &id],
                    )?;
                }
            }
            Ok(())
        })
    }

    fn set_rating(&self, user: UserId, item: ItemRef, rating: u8, now: i64) -> StorageResult<()> {
        let (kind, id) = kind_of(item);
        self.write_home(user, |tx, _| {
            if rating == 0 {
                tx.execute(
                    "DELETE FROM subsonic_ratings WHERE user_id = $1 AND kind = $2 AND item = $3",
                    &[&user.0, &kind, &id],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO subsonic_ratings (user_id, kind, item, rating, rated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id, kind, item) DO UPDATE
                         SET rating = excluded.rating, rated_at = excluded.rated_at",
                    &[&user.0, &kind, &id, &i64::from(rating.min(5)), &now],
                )?;
            }
            Ok(())
        })
    }

    fn starred_items(&self, user: UserId) -> StorageResult<Vec<(ItemRef, i64)>> {
        self.read_home(user, |tx| {
            Ok(tx
                .query(
                    "SELECT kind, item, starred_at FROM subsonic_stars WHERE user_id = $1
                 ORDER BY starred_at DESC, kind COLLATE \"C\", item",
                    &[&user.0],
                )?
                .iter()
                .filter_map(|r| item_of(r.get(0), r.get(1)).map(|i| (i, r.get(2))))
                .collect())
        })
    }

    fn annotations(
        &self,
        user: UserId,
        items: &[ItemRef],
    ) -> StorageResult<HashMap<ItemRef, Annotation>> {
        let facts = self.read_catalog(|tx| catalog_facts(tx, items))?;
        self.read_home(user, |tx| annotations(tx, user, items, &facts))
    }

    fn play_queue(&self, user: UserId) -> StorageResult<Option<PlayQueueRecord>> {
        self.read_home(user, |tx| {
            Ok(tx
                .query_opt(
                    "SELECT track_ids, current_track, position_ms, changed_at, changed_by
                 FROM subsonic_play_queues WHERE user_id = $1",
                    &[&user.0],
                )?
                .map(|r| PlayQueueRecord {
                    track_ids: r
                        .get::<_, String>(0)
                        .split(',')
                        .filter_map(|s| s.parse().ok())
                        .map(TrackId)
                        .collect(),
                    current: r.get::<_, Option<i64>>(1).map(TrackId),
                    position_ms: r.get(2),
                    changed_at: r.get(3),
                    changed_by: r.get(4),
                }))
        })
    }

    fn save_play_queue(&self, user: UserId, q: &PlayQueueRecord) -> StorageResult<()> {
        self.write_home(user, |tx, _| {
            if q.track_ids.is_empty() {
                tx.execute(
                    "DELETE FROM subsonic_play_queues WHERE user_id = $1",
                    &[&user.0],
                )?;
                return Ok(());
            }
            let ids = q
                .track_ids
                .iter()
                .map(|t| t.0.to_string())
                .collect::<Vec<_>>()
                .join(",");
            tx.execute(
                "INSERT INTO subsonic_play_queues
                     (user_id, track_ids, current_track, position_ms, changed_at, changed_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (user_id) DO UPDATE SET track_ids = excluded.track_ids,
                     current_track = excluded.current_track, position_ms = excluded.position_ms,
                     changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                &[
                    &user.0,
                    &ids,
                    &q.current.map(|t| t.0),
                    &q.position_ms,
                    &q.changed_at,
                    &q.changed_by,
                ],
            )?;
            Ok(())
        })
    }

    /// Every home's users (a user mid-move may be read on both homes: the later event wins).
    fn latest_plays(&self, since: i64) -> StorageResult<Vec<LatestPlay>> {
        let mut latest: HashMap<UserId, LatestPlay> = HashMap::new();
        for play in self
            .each_home(|_, c| latest_here(c, since))?
            .into_iter()
            .flatten()
        {
            match latest.get(&play.user) {
                Some(seen) if seen.event.at_ms > play.event.at_ms => {}
                _ => {
                    latest.insert(play.user, play);
                }
            }
        }
        let mut out: Vec<LatestPlay> = latest.into_values().collect();
        out.sort_by_key(|p| p.user.0);
        Ok(out)
    }

    fn bookmarks(&self, user: UserId) -> StorageResult<Vec<BookmarkRecord>> {
        self.read_home(user, |tx| super::bookmarks::list(tx, user))
    }

    fn save_bookmark(&self, user: UserId, bookmark: &BookmarkRecord) -> StorageResult<()> {
        self.write_home(user, |tx, _| super::bookmarks::save(tx, user, bookmark))
    }

    fn delete_bookmark(&self, user: UserId, track: TrackId) -> StorageResult<bool> {
        self.write_home(user, |tx, _| super::bookmarks::delete(tx, user, track))
    }

    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>> {
        super::album_list::album_list(self, user, list, offset, size)
    }
}
