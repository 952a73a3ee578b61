//! Search on PostgreSQL, the same answers as SQLite's: the in-memory index
//! (`storage/search_index.rs`) is loaded from the folded search rows (`track_search`,
//! `album_search`, `artist_search`); queries under three characters are a prefix of the sort
//! keys, as on SQLite; the rows behind the ids are read in one statement per kind.

use super::catalog::{ALBUM_SELECT, ARTIST_SELECT, album_from_row, artist_from_row, tracks_by_ids};
use crate::storage::search_index::{Found, SearchDocs};
use crate::storage::*;
use ::postgres::Transaction;
use ::postgres::types::Type;
use mixtape_shared::TrackId;
use mixtape_shared::api::SearchResults;
use std::collections::HashMap;

/// `%` and `_` are wildcards in LIKE; `\` its escape.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Ids of the rows whose sort key starts with a short folded query (under three letters).
pub(super) fn short_search(
    tx: &mut Transaction<'_>,
    query: &str,
    limit: u32,
) -> StorageResult<Found> {
    let like = format!("{}%", like_escape(query));
    let limit = i64::from(limit);
    let mut ids = |sql: &str| -> StorageResult<Vec<i64>> {
        tx.query(sql, &[&like, &limit])?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    };
    Ok(Found {
        artists: ids(
            "SELECT id FROM artists WHERE sort_name LIKE $1 ORDER BY sort_name, id LIMIT $2",
        )?,
        albums: ids(
            "SELECT id FROM albums WHERE sort_title LIKE $1 ORDER BY sort_title, id LIMIT $2",
        )?,
        tracks: ids(
            "SELECT id FROM tracks WHERE sort_title LIKE $1 ORDER BY sort_title, id LIMIT $2",
        )?,
    })
}

/// The folded search rows the in-memory index is built from (one snapshot: the caller's
/// repeatable-read transaction).
pub(super) fn search_docs(tx: &mut Transaction<'_>) -> StorageResult<SearchDocs> {
    let mut rows = |sql: &str, columns: usize| -> StorageResult<Vec<(i64, Vec<String>)>> {
        tx.query(sql, &[])?
            .iter()
            .map(|r| {
                let fields = (1..=columns)
                    .map(|i| Ok(r.try_get::<_, Option<String>>(i)?.unwrap_or_default()))
                    .collect::<StorageResult<_>>()?;
                Ok((r.try_get(0)?, fields))
            })
            .collect()
    };
    Ok(SearchDocs {
        tracks: rows("SELECT id, title, artists, album FROM track_search", 3)?,
        albums: rows("SELECT id, title, artist FROM album_search", 2)?,
        artists: rows("SELECT id, name FROM artist_search", 1)?,
    })
}

/// Rows of `select` (its id column `id_expr`) for `ids`, in that order.
fn in_order<T>(
    tx: &mut Transaction<'_>,
    select: &str,
    id_expr: &str,
    ids: &[i64],
    map: fn(&::postgres::Row) -> StorageResult<T>,
    id_of: fn(&T) -> i64,
) -> StorageResult<Vec<T>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<i64, T> = HashMap::new();
    // Typed: parse, bind and execute in one round trip (the sync driver keeps no statements).
    let sql = format!("{select} WHERE {id_expr} = ANY($1)");
    for r in tx.query_typed(&sql, &[(&ids, Type::INT8_ARRAY)])? {
        let item = map(&r)?;
        found.insert(id_of(&item), item);
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The rows behind a search's ids, in the same order (ids removed meanwhile are skipped).
pub(super) fn search_results(
    tx: &mut Transaction<'_>,
    found: &Found,
) -> StorageResult<SearchResults> {
    let artists = in_order(
        tx,
        ARTIST_SELECT,
        "ar.id",
        &found.artists,
        artist_from_row,
        |a| a.id.0,
    )?;
    let albums = in_order(
        tx,
        ALBUM_SELECT,
        "al.id",
        &found.albums,
        album_from_row,
        |a| a.id.0,
    )?;
    let ids: Vec<TrackId> = found.tracks.iter().copied().map(TrackId).collect();
    let tracks = tracks_by_ids(tx, &ids)?;
    Ok(SearchResults {
        artists,
        albums,
        tracks,
    })
}
