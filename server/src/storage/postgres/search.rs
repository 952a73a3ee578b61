//! Search on PostgreSQL, the same answers as `sqlite/catalog.rs`'s: every query word (3+ chars)
//! a substring of the folded text (trigram GIN index, `LIKE`), ranked in Rust by the same tiers;
//! when those are too few, each word is replaced by its spellings in the vocabulary
//! (`search_words`, nearest by trigram similarity) within a small edit distance, and rows
//! matching the corrected query are ranked by that distance.

use super::catalog::{ALBUM_SELECT, ARTIST_SELECT, album_from_row, artist_from_row, tracks_by_ids};
use crate::catalog::fold;
use crate::storage::ranking::{CORRECTIONS_PER_WORD, Rank, rank, typo_distance, words_of};
use crate::storage::*;
use ::postgres::Transaction;
use ::postgres::types::ToSql;
use mixtape_shared::TrackId;
use mixtape_shared::api::SearchResults;
use std::collections::HashMap;

/// Vocabulary words nearest a query word by trigram similarity gather the candidates; the edit
/// distance decides.
const NEAREST_WORDS: i64 = 200;

/// `%` and `_` are wildcards in LIKE; `\` its escape.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn contains_pattern(s: &str) -> String {
    format!("%{}%", like_escape(s))
}

/// The query with each word (3+ letters) replaced by the vocabulary words it could be a typo
/// of, as groups of LIKE patterns (any of a group, every group); None when no word qualifies.
fn corrected_query(
    tx: &mut Transaction<'_>,
    query: &str,
) -> StorageResult<Option<Vec<Vec<String>>>> {
    let mut groups = Vec::new();
    for word in words_of(query) {
        let len = word.chars().count();
        if len < 3 {
            continue;
        }
        let allowed = if len <= 5 { 1 } else { 2 };
        let mut words: Vec<String> = tx
            .query(
                "SELECT word FROM search_words ORDER BY word <-> $1 LIMIT $2",
                &[&word, &NEAREST_WORDS],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if len <= 5 {
            // A short word can lose every trigram to one typo: also try the words of about its
            // length that share its first letter (an index range, not a scan).
            let first: String = word.chars().take(1).collect();
            let next = format!("{first}\u{10ffff}");
            let (shortest, longest) = (len as i32 - 1, len as i32 + 1);
            words.extend(
                tx.query(
                    "SELECT word FROM search_words WHERE word >= $1 AND word < $2
                       AND length(word) BETWEEN $3 AND $4 LIMIT 2000",
                    &[&first, &next, &shortest, &longest],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()?,
            );
        }
        let mut candidates: Vec<(usize, String)> = words
            .into_iter()
            .filter_map(|w| {
                let prefix: String = w.chars().take(len).collect();
                let d = strsim::osa_distance(word, &w).min(strsim::osa_distance(word, &prefix));
                (d <= allowed).then_some((d, w))
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        candidates.truncate(CORRECTIONS_PER_WORD);
        let mut spellings: Vec<String> = candidates
            .into_iter()
            .map(|(_, w)| contains_pattern(&w))
            .collect();
        if spellings.is_empty() {
            spellings.push(contains_pattern(word));
        }
        groups.push(spellings);
    }
    Ok((!groups.is_empty()).then_some(groups))
}

/// One search table: its name and the folded fields it holds.
struct Table {
    name: &'static str,
    fields: &'static str,
    columns: usize,
}

const TRACK_SEARCH: Table = Table {
    name: "track_search",
    fields: "title, artists, album",
    columns: 3,
};
const ALBUM_SEARCH: Table = Table {
    name: "album_search",
    fields: "title, artist",
    columns: 2,
};
const ARTIST_SEARCH: Table = Table {
    name: "artist_search",
    fields: "name",
    columns: 1,
};

/// Rows of `table` whose `doc` matches every group (any pattern of a group), at most `limit`.
fn matching(
    tx: &mut Transaction<'_>,
    table: &Table,
    groups: &[Vec<String>],
    limit: u32,
) -> StorageResult<Vec<(i64, Vec<String>)>> {
    let conditions: Vec<String> = (1..=groups.len())
        .map(|i| format!("doc LIKE ANY(${i}::text[])"))
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> =
        groups.iter().map(|g| g as &(dyn ToSql + Sync)).collect();
    let sql = format!(
        "SELECT id, {} FROM {} WHERE {} LIMIT {limit}",
        table.fields,
        table.name,
        conditions.join(" AND ")
    );
    tx.query(&sql, &params)?
        .iter()
        .map(|r| {
            let fields = (1..=table.columns)
                .map(|i| r.try_get::<_, String>(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((r.try_get(0)?, fields))
        })
        .collect()
}

/// The ids of the best `limit` rows of `table` for `query`: exact (substring) matches first,
/// then, when those are too few, matches of the typo-corrected query, computed at most once
/// per search (`corrected`).
fn ranked_ids(
    tx: &mut Transaction<'_>,
    table: &Table,
    query: &str,
    limit: usize,
    corrected: &mut Option<Option<Vec<Vec<String>>>>,
) -> StorageResult<Vec<i64>> {
    let words: Vec<Vec<String>> = query
        .split_whitespace()
        .filter(|w| w.chars().count() >= 3)
        .map(|w| vec![contains_pattern(w)])
        .collect();
    // (rank, folded text, id): equal ranks fall back to the text, so the order depends on the
    // catalog's content, not on the ids one database happened to assign.
    let mut ranked: Vec<(Rank, String, i64)> = Vec::new();
    if !words.is_empty() {
        for (id, fields) in matching(tx, table, &words, 200)? {
            let mut rk = rank(query, &fields, None);
            rk.tier = rk.tier.min(3);
            // Among equal tiers the shorter text is the closer match.
            rk.score = fields.iter().map(|f| f.len()).sum::<usize>() as f64;
            ranked.push((rk, fields.join(" "), id));
        }
    }
    if ranked.len() < limit && corrected.is_none() {
        *corrected = Some(corrected_query(tx, query)?);
    }
    if ranked.len() < limit
        && let Some(Some(groups)) = corrected.as_ref()
    {
        for (id, fields) in matching(tx, table, groups, 300)? {
            if ranked.iter().any(|(_, _, seen)| *seen == id) {
                continue;
            }
            let text = fold(&fields.join(" "));
            if let Some(distance) = typo_distance(query, &text) {
                ranked.push((rank(query, &fields, Some(distance)), text, id));
            }
        }
    }
    ranked.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    Ok(ranked
        .into_iter()
        .take(limit)
        .map(|(_, _, id)| id)
        .collect())
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
    for r in tx.query(&format!("{select} WHERE {id_expr} = ANY($1)"), &[&ids])? {
        let item = map(&r)?;
        found.insert(id_of(&item), item);
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(super) fn search(
    tx: &mut Transaction<'_>,
    query: &str,
    limit: u32,
) -> StorageResult<SearchResults> {
    // Control characters mean nothing in a search (and a NUL is no valid PostgreSQL text).
    let cleaned: String = query
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let q = fold(&cleaned);
    if q.is_empty() {
        return Ok(SearchResults {
            artists: vec![],
            albums: vec![],
            tracks: vec![],
        });
    }
    let (artist_ids, album_ids, track_ids) = if q.chars().count() < 3 {
        // Too short for trigrams: prefix match on the sort keys, which are indexed.
        let like = format!("{}%", like_escape(&q));
        let limit = i64::from(limit);
        let mut ids = |sql: &str| -> StorageResult<Vec<i64>> {
            tx.query(sql, &[&like, &limit])?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        };
        (
            ids("SELECT id FROM artists WHERE sort_name LIKE $1 ORDER BY sort_name, id LIMIT $2")?,
            ids("SELECT id FROM albums WHERE sort_title LIKE $1 ORDER BY sort_title, id LIMIT $2")?,
            ids("SELECT id FROM tracks WHERE sort_title LIKE $1 ORDER BY sort_title, id LIMIT $2")?,
        )
    } else {
        let limit = limit as usize;
        let mut corrected = None;
        (
            ranked_ids(tx, &ARTIST_SEARCH, &q, limit, &mut corrected)?,
            ranked_ids(tx, &ALBUM_SEARCH, &q, limit, &mut corrected)?,
            ranked_ids(tx, &TRACK_SEARCH, &q, limit, &mut corrected)?,
        )
    };
    let artists = in_order(
        tx,
        ARTIST_SELECT,
        "ar.id",
        &artist_ids,
        artist_from_row,
        |a| a.id.0,
    )?;
    let albums = in_order(tx, ALBUM_SELECT, "al.id", &album_ids, album_from_row, |a| {
        a.id.0
    })?;
    let tracks = tracks_by_ids(tx, &track_ids.into_iter().map(TrackId).collect::<Vec<_>>())?;
    Ok(SearchResults {
        artists,
        albums,
        tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::typo_distance;

    #[test]
    fn typos_within_budget_match_whole_words_and_prefixes() {
        assert_eq!(typo_distance("secnod", "second song"), Some(1.0));
        assert_eq!(typo_distance("nocturen", "cafe nocturne"), Some(1.0));
        assert_eq!(typo_distance("noct", "cafe nocturne"), Some(0.0));
        assert_eq!(typo_distance("xyzzy", "cafe nocturne"), None);
    }
}
