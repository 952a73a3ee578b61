//! The recommender's reads: its state (rows, popular items, the summary) and the catalog facts
//! content similarity needs. Each runs inside the caller's read transaction (one snapshot).
//! Limited catalog reads are ordered by track id, the order SQLite's indexes give them.

use crate::recommender::{ContentInfo, Neighbour, Rows};
use crate::storage::sqlite::SEP;
use crate::storage::{RecsSummary, StorageResult};
use postgres::Transaction;
use postgres::fallible_iterator::FallibleIterator;
use std::collections::{BTreeSet, HashMap};

/// Each item's weight and its candidate neighbours (`recs_top`: at most `Params::candidates`
/// rows an item, so the read is bounded). Items without a weight are left out.
pub(super) fn rows(tx: &mut Transaction<'_>, items: &[i64]) -> StorageResult<Rows> {
    let mut out = HashMap::with_capacity(items.len());
    if items.is_empty() {
        return Ok(Rows(out));
    }
    let weights = tx.query(
        "SELECT item, weight FROM recs_items WHERE item = ANY($1)",
        &[&items],
    )?;
    for r in &weights {
        out.insert(r.get::<_, i64>(0), (r.get::<_, i64>(1), Vec::new()));
    }
    let wanted: Vec<i64> = out.keys().copied().collect();
    let pairs = tx.query(
        "SELECT t.a, t.b, t.co, i.weight FROM recs_top t JOIN recs_items i ON i.item = t.b
         WHERE t.a = ANY($1) ORDER BY t.a, t.co DESC, t.b",
        &[&wanted],
    )?;
    for r in &pairs {
        if let Some((_, ns)) = out.get_mut(&r.get::<_, i64>(0)) {
            ns.push(Neighbour {
                item: r.get(1),
                co: r.get(2),
                weight: r.get(3),
            });
        }
    }
    Ok(Rows(out))
}

pub(super) fn popular(tx: &mut Transaction<'_>, limit: u32) -> StorageResult<Vec<(i64, i64)>> {
    Ok(tx
        .query(
            "SELECT item, weight FROM recs_items ORDER BY weight DESC, item LIMIT $1",
            &[&(limit as i64)],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

fn split_ids(s: &str) -> Vec<i64> {
    s.split(SEP).filter_map(|x| x.parse().ok()).collect()
}

/// The tracks' content facts, in the order of `ids` (unknown ids left out).
pub(super) fn content_info(
    tx: &mut Transaction<'_>,
    ids: &[i64],
) -> StorageResult<Vec<ContentInfo>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // `year::INT`: the model's year is an i32 whatever width the catalog stores.
    let found: HashMap<i64, ContentInfo> = tx
        .query(
            "SELECT id, artist_ids, album_artist_id, genre_names, year::INT FROM tracks
             WHERE id = ANY($1)",
            &[&ids],
        )?
        .iter()
        .map(|r| {
            let genres: String = r.get(3);
            let info = ContentInfo {
                item: r.get(0),
                artists: split_ids(r.get(1)),
                album_artist: r.get(2),
                genres: genres
                    .split(SEP)
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect(),
                year: r.get(4),
            };
            (info.item, info)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Tracks sharing an artist, the album artist or a genre with `seed`, at most `per_kind` of each.
pub(super) fn content_candidates(
    tx: &mut Transaction<'_>,
    seed: &ContentInfo,
    per_kind: u32,
) -> StorageResult<Vec<ContentInfo>> {
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let lim = per_kind as i64;
    let by_artist = tx.prepare(
        "SELECT track_id FROM track_artists WHERE artist_id = $1 ORDER BY track_id LIMIT $2",
    )?;
    for a in &seed.artists {
        for r in tx.query(&by_artist, &[a, &lim])? {
            ids.insert(r.get(0));
        }
    }
    if let Some(aa) = seed.album_artist {
        for r in tx.query(
            "SELECT id FROM tracks WHERE album_artist_id = $1 ORDER BY id LIMIT $2",
            &[&aa, &lim],
        )? {
            ids.insert(r.get(0));
        }
    }
    // Genre names compare case-insensitively, as SQLite's `COLLATE NOCASE` column does.
    let by_genre = tx.prepare(
        "SELECT tg.track_id FROM track_genres tg JOIN genres g ON g.id = tg.genre_id
         WHERE lower(g.name) = lower($1) ORDER BY tg.track_id LIMIT $2",
    )?;
    for g in &seed.genres {
        for r in tx.query(&by_genre, &[g, &lim])? {
            ids.insert(r.get(0));
        }
    }
    ids.remove(&seed.item);
    content_info(tx, &ids.into_iter().collect::<Vec<_>>())
}

pub(super) fn artist_tracks(
    tx: &mut Transaction<'_>,
    artist: i64,
    limit: u32,
) -> StorageResult<Vec<i64>> {
    Ok(tx
        .query(
            "SELECT track_id FROM track_artists WHERE artist_id = $1 ORDER BY track_id LIMIT $2",
            &[&artist, &(limit as i64)],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Streams `sql`'s rows of BIGINTs into the hasher; returns how many rows.
fn hash_rows(
    tx: &mut Transaction<'_>,
    h: &mut blake3::Hasher,
    sql: &str,
    columns: usize,
) -> StorageResult<u64> {
    let mut rows = tx.query_raw(sql, std::iter::empty::<&dyn postgres::types::ToSql>())?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        n += 1;
        for i in 0..columns {
            h.update(&r.get::<_, i64>(i).to_le_bytes());
        }
    }
    Ok(n)
}

/// Counts of the state and a digest of it: the same bytes, in the same order, as SQLite's
/// (blake3 over items, pairs and candidate lists), so the two backends' digests compare.
pub(super) fn summary(tx: &mut Transaction<'_>) -> StorageResult<RecsSummary> {
    let mut h = blake3::Hasher::new();
    let items = hash_rows(
        tx,
        &mut h,
        "SELECT item, weight FROM recs_items ORDER BY item",
        2,
    )?;
    let pairs = hash_rows(
        tx,
        &mut h,
        "SELECT a, b, weight FROM recs_pairs ORDER BY a, b",
        3,
    )?;
    hash_rows(
        tx,
        &mut h,
        "SELECT a, co, b FROM recs_top ORDER BY a, co DESC, b",
        3,
    )?;
    let applied: i64 = tx
        .query_one("SELECT count(*) FROM recs_applied", &[])?
        .get(0);
    Ok(RecsSummary {
        items,
        pairs: pairs / 2,
        applied: applied.max(0) as u64,
        digest: h.finalize().to_hex().to_string(),
    })
}
