//! The recommender's state: the model's integer weights (`recs_items`, `recs_pairs`), what it
//! took in (`recs_applied`, `recs_plays`, `recs_playlist_items`), and the catalog reads content
//! similarity needs. The arithmetic is `crate::recs::model`'s; this module only stores it.

use super::SEP;
use super::queue::enqueue;
use super::*;
use crate::recs::RecsSummary;
use crate::recs::model::{self, ContentInfo, Delta, Event, Neighbour, Params, Play, Rows};
use crate::recs::queue::Message;
use mixtape_shared::api::PlayEvent;
use mixtape_shared::sync::{OpKind, PlaylistOp};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeSet, HashMap};

/// The outbox message for a newly stored play event.
pub(crate) fn enqueue_play(
    tx: &Connection,
    user: UserId,
    e: &PlayEvent,
    now_ms: i64,
) -> StorageResult<()> {
    let event = Event::Play(Play {
        user: user.0,
        item: e.track_id.0,
        at_ms: e.at_ms,
        weight: model::play_weight(e.kind.as_str()),
    });
    enqueue(tx, &message("play", e.id.to_string(), &event), now_ms)?;
    Ok(())
}

/// The outbox message for a newly accepted playlist op, if it adds tracks.
pub(crate) fn enqueue_op(tx: &Connection, op: &PlaylistOp, now_ms: i64) -> StorageResult<()> {
    if let OpKind::Add { entries, .. } = &op.kind {
        let event = Event::PlaylistAdd {
            playlist: op.playlist_id.to_string(),
            items: entries.iter().map(|e| e.track_id.0).collect(),
        };
        enqueue(
            tx,
            &message("playlist_add", op.id.to_string(), &event),
            now_ms,
        )?;
    }
    Ok(())
}

fn message(kind: &str, key: String, event: &Event) -> Message {
    Message {
        kind: kind.into(),
        key,
        payload: serde_json::to_string(event).expect("events serialize"),
    }
}

/// The candidate lists (`recs_top`) of the items a batch touched: loaded on first touch, kept
/// in memory by [`model::top_update`], written back (only the rows that changed) by `flush`.
#[derive(Default)]
struct Tops {
    /// Per item: its list as stored, and as updated.
    lists: HashMap<i64, (CandidateList, CandidateList)>,
}

/// `(neighbour, co-occurrence weight)` in `model::top_order`.
type CandidateList = Vec<(i64, i64)>;

impl Tops {
    fn update(&mut self, tx: &Connection, a: i64, b: i64, co: i64, k: usize) -> StorageResult<()> {
        let (_, cur) = match self.lists.entry(a) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let list: CandidateList = tx
                    .prepare_cached("SELECT b, co FROM recs_top WHERE a = ?1 ORDER BY co DESC, b")?
                    .query_map([a], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                e.insert((list.clone(), list))
            }
        };
        model::top_update(cur, b, co, k);
        Ok(())
    }

    fn flush(&mut self, tx: &Connection) -> StorageResult<()> {
        let mut del =
            tx.prepare_cached("DELETE FROM recs_top WHERE a = ?1 AND co = ?2 AND b = ?3")?;
        let mut ins = tx.prepare_cached("INSERT INTO recs_top (a, co, b) VALUES (?1, ?2, ?3)")?;
        for (a, (old, new)) in self.lists.drain() {
            let before: std::collections::HashSet<&(i64, i64)> = old.iter().collect();
            let after: std::collections::HashSet<&(i64, i64)> = new.iter().collect();
            for (b, co) in old.iter().filter(|e| !after.contains(e)) {
                del.execute(params![a, co, b])?;
            }
            for (b, co) in new.iter().filter(|e| !before.contains(e)) {
                ins.execute(params![a, co, b])?;
            }
        }
        Ok(())
    }
}

fn add(tx: &Connection, tops: &mut Tops, delta: &Delta, k: usize) -> StorageResult<()> {
    let mut item = tx.prepare_cached(
        "INSERT INTO recs_items (item, weight) VALUES (?1, ?2)
         ON CONFLICT (item) DO UPDATE SET weight = weight + excluded.weight",
    )?;
    for (i, w) in &delta.items {
        item.execute(params![i, w])?;
    }
    let mut pair = tx.prepare_cached(
        "INSERT INTO recs_pairs (a, b, weight) VALUES (?1, ?2, ?3)
         ON CONFLICT (a, b) DO UPDATE SET weight = weight + excluded.weight RETURNING weight",
    )?;
    for &(a, b, w) in &delta.pairs {
        for (x, y) in [(a, b), (b, a)] {
            let co: i64 = pair.query_row(params![x, y, w], |r| r.get(0))?;
            tops.update(tx, x, y, co, k)?;
        }
    }
    Ok(())
}

/// Takes in one event unless its key was taken in before; true when it was new.
fn apply_one(
    tx: &Connection,
    tops: &mut Tops,
    key: &str,
    enqueued_at_ms: i64,
    event: &Event,
    p: &Params,
    now_ms: i64,
) -> StorageResult<bool> {
    let new = tx
        .prepare_cached(
            "INSERT INTO recs_applied (key, enqueued_at_ms, applied_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![key, enqueued_at_ms, now_ms])?;
    if new == 0 {
        return Ok(false);
    }
    match event {
        Event::Play(play) if play.weight > 0 => {
            let near: Vec<Play> = tx
                .prepare_cached(
                    "SELECT track_id, at_ms, weight FROM recs_plays
                     WHERE user_id = ?1 AND at_ms BETWEEN ?2 AND ?3
                     ORDER BY abs(at_ms - ?4), at_ms, track_id LIMIT ?5",
                )?
                .query_map(
                    params![
                        play.user,
                        play.at_ms.saturating_sub(p.window_ms),
                        play.at_ms.saturating_add(p.window_ms),
                        play.at_ms,
                        p.max_window_plays as i64
                    ],
                    |r| {
                        Ok(Play {
                            user: play.user,
                            item: r.get(0)?,
                            at_ms: r.get(1)?,
                            weight: r.get(2)?,
                        })
                    },
                )?
                .collect::<Result<_, _>>()?;
            add(tx, tops, &model::play_delta(play, &near, p), p.candidates)?;
            tx.prepare_cached(
                "INSERT INTO recs_plays (user_id, at_ms, key, track_id, weight) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![play.user, play.at_ms, key, play.item, play.weight])?;
        }
        Event::Play(_) => {}
        Event::PlaylistAdd { playlist, items } => {
            let mut members: BTreeSet<i64> = tx
                .prepare_cached("SELECT track_id FROM recs_playlist_items WHERE playlist_id = ?1")?
                .query_map([playlist], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO recs_playlist_items (playlist_id, track_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?;
            for &item in items {
                add(
                    tx,
                    tops,
                    &model::playlist_delta(item, &members, p),
                    p.candidates,
                )?;
                members.insert(item);
                insert.execute(params![playlist, item])?;
            }
        }
    }
    Ok(true)
}

/// Takes in a batch in the caller's transaction; returns how many events were new.
pub fn apply(
    tx: &Connection,
    batch: &[(String, i64, Event)],
    p: &Params,
    now_ms: i64,
) -> StorageResult<u64> {
    let mut n = 0;
    let mut tops = Tops::default();
    for (key, enqueued_at, event) in batch {
        n += apply_one(tx, &mut tops, key, *enqueued_at, event, p, now_ms)? as u64;
    }
    tops.flush(tx)?;
    Ok(n)
}

/// Forgets the state and takes in every stored play event and playlist addition again, in the
/// order they happened. Returns how many events it took in.
pub fn rebuild(tx: &Connection, p: &Params, now_ms: i64) -> StorageResult<u64> {
    tx.execute_batch(
        "DELETE FROM recs_applied; DELETE FROM recs_plays; DELETE FROM recs_playlist_items;
         DELETE FROM recs_items; DELETE FROM recs_pairs; DELETE FROM recs_top;",
    )?;
    let plays: Vec<(String, i64, i64, String, i64)> = tx
        .prepare("SELECT id, user_id, track_id, kind, at_ms FROM play_events ORDER BY at_ms, id")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    let mut tops = Tops::default();
    for (k, (key, user, track, kind, at_ms)) in plays.into_iter().enumerate() {
        if k % 10_000 == 0 {
            tops.flush(tx)?;
        }
        let event = Event::Play(Play {
            user,
            item: track,
            at_ms,
            weight: model::play_weight(&kind),
        });
        n += apply_one(tx, &mut tops, &key, now_ms, &event, p, now_ms)? as u64;
    }
    let ops: Vec<(String, String)> = tx
        .prepare("SELECT id, body FROM playlist_ops ORDER BY received_at, rowid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (key, body) in ops {
        let op: PlaylistOp = serde_json::from_str(&body)
            .map_err(|e| StorageError::Corrupt(format!("playlist op {key}: {e}")))?;
        if let OpKind::Add { entries, .. } = op.kind {
            let event = Event::PlaylistAdd {
                playlist: op.playlist_id.to_string(),
                items: entries.iter().map(|e| e.track_id.0).collect(),
            };
            n += apply_one(tx, &mut tops, &key, now_ms, &event, p, now_ms)? as u64;
        }
    }
    tops.flush(tx)?;
    Ok(n)
}

/// Each item's weight and its candidate neighbours (`recs_top`: at most `Params::candidates`
/// rows an item, so the read is bounded).
pub fn rows(conn: &Connection, items: &[i64]) -> StorageResult<Rows> {
    let mut out = HashMap::with_capacity(items.len());
    let mut weight = conn.prepare_cached("SELECT weight FROM recs_items WHERE item = ?1")?;
    let mut pairs = conn.prepare_cached(
        "SELECT t.b, t.co, i.weight FROM recs_top t JOIN recs_items i ON i.item = t.b
         WHERE t.a = ?1 ORDER BY t.co DESC, t.b",
    )?;
    for &item in items {
        if out.contains_key(&item) {
            continue;
        }
        let Some(w) = weight
            .query_row([item], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            continue;
        };
        let ns = pairs
            .query_map([item], |r| {
                Ok(Neighbour {
                    item: r.get(0)?,
                    co: r.get(1)?,
                    weight: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(item, (w, ns));
    }
    Ok(Rows(out))
}

pub fn popular(conn: &Connection, limit: u32) -> StorageResult<Vec<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT item, weight FROM recs_items ORDER BY weight DESC, item LIMIT ?1")?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

fn split_ids(s: &str) -> Vec<i64> {
    s.split(SEP).filter_map(|x| x.parse().ok()).collect()
}

pub fn content_info(conn: &Connection, ids: &[i64]) -> StorageResult<Vec<ContentInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, artist_ids, album_artist_id, genre_names, year FROM tracks WHERE id = ?1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(info) = stmt
            .query_row([id], |r| {
                let genres: String = r.get(3)?;
                Ok(ContentInfo {
                    item: r.get(0)?,
                    artists: split_ids(&r.get::<_, String>(1)?),
                    album_artist: r.get(2)?,
                    genres: genres
                        .split(SEP)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect(),
                    year: r.get(4)?,
                })
            })
            .optional()?
        {
            out.push(info);
        }
    }
    Ok(out)
}

/// Tracks sharing an artist, the album artist or a genre with `seed`, at most `per_kind` of each.
pub fn content_candidates(
    conn: &Connection,
    seed: &ContentInfo,
    per_kind: u32,
) -> StorageResult<Vec<ContentInfo>> {
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let lim = per_kind as i64;
    let mut by_artist =
        conn.prepare_cached("SELECT track_id FROM track_artists WHERE artist_id = ?1 LIMIT ?2")?;
    for a in &seed.artists {
        for id in by_artist.query_map(params![a, lim], |r| r.get(0))? {
            ids.insert(id?);
        }
    }
    if let Some(aa) = seed.album_artist {
        for id in conn
            .prepare_cached("SELECT id FROM tracks WHERE album_artist_id = ?1 LIMIT ?2")?
            .query_map(params![aa, lim], |r| r.get(0))?
        {
            ids.insert(id?);
        }
    }
    let mut by_genre = conn.prepare_cached(
        "SELECT tg.track_id FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
         WHERE g.name = ?1 LIMIT ?2",
    )?;
    for g in &seed.genres {
        for id in by_genre.query_map(params![g, lim], |r| r.get(0))? {
            ids.insert(id?);
        }
    }
    ids.remove(&seed.item);
    content_info(conn, &ids.into_iter().collect::<Vec<_>>())
}

pub fn artist_tracks(conn: &Connection, artist: i64, limit: u32) -> StorageResult<Vec<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT track_id FROM track_artists WHERE artist_id = ?1 ORDER BY track_id LIMIT ?2",
        )?
        .query_map(params![artist, limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Counts of the state and a digest of it (blake3 over items, pairs and candidate lists in order), so two states
/// can be compared without shipping them.
pub fn summary(conn: &Connection) -> StorageResult<RecsSummary> {
    let mut h = blake3::Hasher::new();
    let mut items = 0u64;
    let mut stmt = conn.prepare("SELECT item, weight FROM recs_items ORDER BY item")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        items += 1;
        h.update(&r.get::<_, i64>(0)?.to_le_bytes());
        h.update(&r.get::<_, i64>(1)?.to_le_bytes());
    }
    let mut pairs = 0u64;
    let mut stmt = conn.prepare("SELECT a, b, weight FROM recs_pairs ORDER BY a, b")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        pairs += 1;
        for i in 0..3 {
            h.update(&r.get::<_, i64>(i)?.to_le_bytes());
        }
    }
    let mut stmt = conn.prepare("SELECT a, co, b FROM recs_top ORDER BY a, co DESC, b")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        for i in 0..3 {
            h.update(&r.get::<_, i64>(i)?.to_le_bytes());
        }
    }
    let applied: i64 = conn.query_row("SELECT count(*) FROM recs_applied", [], |r| r.get(0))?;
    Ok(RecsSummary {
        items,
        pairs: pairs / 2,
        applied: applied.max(0) as u64,
        digest: h.finalize().to_hex().to_string(),
    })
}
