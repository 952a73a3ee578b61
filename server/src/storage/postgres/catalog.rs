//! The catalog on PostgreSQL: row mapping, keyset pages and details. Search is in `search.rs`,
//! scanner writes in `scan.rs`, the offset-paged Subsonic reads in `catalog_pages.rs`. The
//! reference behaviour is `sqlite/catalog.rs`: same queries, same orders.

use super::PgStore;
use crate::storage::sqlite::SEP;
use crate::storage::*;
use ::postgres::Row;
use ::postgres::types::ToSql;
use mixtape_shared::api::*;
use mixtape_shared::{AlbumId, ArtistId, TrackId};
use std::collections::{HashMap, HashSet};

pub(super) const TRACK_SELECT: &str = "SELECT t.id, t.title, t.artist_ids, t.artist_names, t.album_id, al.title,
    t.album_artist_id, aa.name, t.track_number, t.track_total, t.disc_number, t.year, t.genre_names,
    t.duration_ms, t.bitrate_kbps, t.sample_rate, t.channels, t.format, t.content_type, t.size,
    t.content_hash, t.rg_track_gain, t.rg_track_peak, t.rg_album_gain, t.rg_album_peak,
    t.mb_track_id, t.mb_recording_id, t.mb_album_id, t.mb_artist_id, t.mb_album_artist_id, t.cover_art,
    t.available
    FROM tracks t LEFT JOIN albums al ON al.id = t.album_id LEFT JOIN artists aa ON aa.id = t.album_artist_id";
const TRACK_COLUMNS: usize = 32;

pub(super) const ALBUM_SELECT: &str = "SELECT al.id, al.title, al.album_artist_id, ar.name, al.year, al.genre_names,
    al.track_count, al.duration_ms, al.cover_art FROM albums al JOIN artists ar ON ar.id = al.album_artist_id";
const ALBUM_COLUMNS: usize = 9;

pub(super) const ARTIST_SELECT: &str =
    "SELECT ar.id, ar.name, ar.album_count, ar.track_count FROM artists ar";
const ARTIST_COLUMNS: usize = 4;

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

fn split(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(SEP).map(str::to_string).collect()
    }
}

fn u32_col(r: &Row, i: usize) -> StorageResult<Option<u32>> {
    Ok(r.try_get::<_, Option<i64>>(i)?
        .map(|v| v.clamp(0, u32::MAX as i64) as u32))
}

fn u64_col(r: &Row, i: usize) -> StorageResult<u64> {
    Ok(r.try_get::<_, i64>(i)?.max(0) as u64)
}

pub(super) fn track_from_row(r: &Row) -> StorageResult<Track> {
    let ids: String = r.try_get(2)?;
    let names: String = r.try_get(3)?;
    let artists = ids
        .split(SEP)
        .zip(names.split(SEP))
        .filter_map(|(id, name)| {
            id.parse().ok().map(|id| ArtistRef {
                id: ArtistId(id),
                name: name.to_string(),
            })
        })
        .collect();
    let album = match (
        r.try_get::<_, Option<i64>>(4)?,
        r.try_get::<_, Option<String>>(5)?,
    ) {
        (Some(id), Some(title)) => Some(AlbumRef {
            id: AlbumId(id),
            title,
        }),
        _ => None,
    };
    let album_artist = match (
        r.try_get::<_, Option<i64>>(6)?,
        r.try_get::<_, Option<String>>(7)?,
    ) {
        (Some(id), Some(name)) => Some(ArtistRef {
            id: ArtistId(id),
            name,
        }),
        _ => None,
    };
    Ok(Track {
        id: TrackId(r.try_get(0)?),
        title: r.try_get(1)?,
        artists,
        album,
        album_artist,
        track_number: u32_col(r, 8)?,
        track_total: u32_col(r, 9)?,
        disc_number: u32_col(r, 10)?,
        year: r
            .try_get::<_, Option<i64>>(11)?
            .map(|y| y.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
        genres: split(&r.try_get::<_, String>(12)?),
        duration_ms: u64_col(r, 13)?,
        bitrate_kbps: u32_col(r, 14)?,
        sample_rate: u32_col(r, 15)?,
        channels: r
            .try_get::<_, Option<i64>>(16)?
            .map(|c| c.clamp(0, 255) as u8),
        format: r.try_get(17)?,
        content_type: r.try_get(18)?,
        size_bytes: u64_col(r, 19)?,
        content_hash: r.try_get(20)?,
        replay_gain: ReplayGain {
            track_gain_db: r.try_get(21)?,
            track_peak: r.try_get(22)?,
            album_gain_db: r.try_get(23)?,
            album_peak: r.try_get(24)?,
        },
        musicbrainz: MusicBrainzIds {
            track_id: r.try_get(25)?,
            recording_id: r.try_get(26)?,
            album_id: r.try_get(27)?,
            artist_id: r.try_get(28)?,
            album_artist_id: r.try_get(29)?,
        },
        cover_art: r.try_get(30)?,
        available: r.try_get(31)?,
        media_url: None,
    })
}

pub(super) fn album_from_row(r: &Row) -> StorageResult<Album> {
    Ok(Album {
        id: AlbumId(r.try_get(0)?),
        title: r.try_get(1)?,
        album_artist: ArtistRef {
            id: ArtistId(r.try_get(2)?),
            name: r.try_get(3)?,
        },
        year: r
            .try_get::<_, Option<i64>>(4)?
            .map(|y| y.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
        genres: split(&r.try_get::<_, String>(5)?),
        track_count: u32_col(r, 6)?.unwrap_or(0),
        duration_ms: u64_col(r, 7)?,
        cover_art: r.try_get(8)?,
    })
}

pub(super) fn artist_from_row(r: &Row) -> StorageResult<Artist> {
    Ok(Artist {
        id: ArtistId(r.try_get(0)?),
        name: r.try_get(1)?,
        album_count: u32_col(r, 2)?.unwrap_or(0),
        track_count: u32_col(r, 3)?.unwrap_or(0),
    })
}

pub(super) fn map_rows<T>(
    rows: Vec<Row>,
    map: fn(&Row) -> StorageResult<T>,
) -> StorageResult<Vec<T>> {
    rows.iter().map(map).collect()
}

/// A list the API pages through (see `sqlite/catalog.rs`).
struct Listing<T> {
    select: &'static str,
    columns: usize,
    id_expr: &'static str,
    map: fn(&Row) -> StorageResult<T>,
}

const TRACKS: Listing<Track> = Listing {
    select: TRACK_SELECT,
    columns: TRACK_COLUMNS,
    id_expr: "t.id",
    map: track_from_row,
};

const ALBUMS: Listing<Album> = Listing {
    select: ALBUM_SELECT,
    columns: ALBUM_COLUMNS,
    id_expr: "al.id",
    map: album_from_row,
};

const ARTISTS: Listing<Artist> = Listing {
    select: ARTIST_SELECT,
    columns: ARTIST_COLUMNS,
    id_expr: "ar.id",
    map: artist_from_row,
};

/// The sort expression and whether its value is text (else BIGINT).
type SortKey = (&'static str, bool);

/// One keyset page: rows after the cursor in (sort value, id) order. Sort expressions never
/// yield NULL (nullable keys are coalesced as SQLite's are), so the row comparison drops no row.
fn keyset<T, S>(
    tx: &mut ::postgres::Transaction<'_>,
    listing: Listing<T>,
    (sort_expr, text): SortKey,
    page: &PageRequest<S>,
) -> StorageResult<Page<T>> {
    let Listing {
        select,
        columns,
        id_expr,
        map,
    } = listing;
    let (cmp, dir) = match page.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    let (head, tail) = select.split_once(" FROM ").expect("select has FROM");
    let mut sql = format!("{head}, {sort_expr} FROM {tail}");
    let (text_value, int_value, id);
    let mut params: Params = Vec::new();
    if let Some(c) = &page.after {
        sql.push_str(&format!(" WHERE ({sort_expr}, {id_expr}) {cmp} ($1, $2)"));
        match (&c.value, text) {
            (CursorValue::Text(s), true) => {
                text_value = s.clone();
                params.push(&text_value);
            }
            (CursorValue::Int(i), false) => {
                int_value = *i;
                params.push(&int_value);
            }
            // A cursor of another sort: not one this list issued.
            _ => return Err(StorageError::BadCursor),
        }
        id = c.id;
        params.push(&id);
    }
    sql.push_str(&format!(
        " ORDER BY {sort_expr} {dir}, {id_expr} {dir} LIMIT {}",
        page.limit as u64 + 1
    ));
    let rows = tx.query(&sql, &params)?;
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for r in &rows {
        if items.len() == page.limit as usize {
            // The extra row only says that another page follows.
            more = true;
            break;
        }
        let value = if text {
            CursorValue::Text(r.try_get(columns)?)
        } else {
            CursorValue::Int(r.try_get(columns)?)
        };
        last = Some(Cursor {
            value,
            id: r.try_get(0)?,
        });
        items.push(map(r)?);
    }
    Ok(Page {
        items,
        next_cursor: if more { last.map(|c| c.encode()) } else { None },
    })
}

pub(super) fn tracks_by_ids(
    tx: &mut ::postgres::Transaction<'_>,
    ids: &[TrackId],
) -> StorageResult<Vec<Track>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<i64> = ids.iter().map(|t| t.0).collect();
    // Typed: one round trip instead of a prepare and an execute (searches and playlists call
    // this on every request).
    let sql = format!("{TRACK_SELECT} WHERE t.id = ANY($1)");
    let rows = tx.query_typed(&sql, &[(&raw, ::postgres::types::Type::INT8_ARRAY)])?;
    let mut found = HashMap::with_capacity(rows.len());
    for r in &rows {
        let t = track_from_row(r)?;
        found.insert(t.id, t);
    }
    // In the order asked, repeats included, missing ids left out (as SQLite's one-by-one reads).
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

fn track_file_where(
    tx: &mut ::postgres::Transaction<'_>,
    condition: &str,
    value: &(dyn ToSql + Sync),
) -> StorageResult<Option<TrackFile>> {
    let row = tx.query_opt(
        &format!(
            "SELECT path, size, content_hash, content_type, available FROM tracks WHERE {condition} ORDER BY id LIMIT 1"
        ),
        &[value],
    )?;
    row.map(|r| {
        Ok(TrackFile {
            path: r.try_get(0)?,
            size: u64_col(&r, 1)?,
            content_hash: r.try_get(2)?,
            content_type: r.try_get(3)?,
            available: r.try_get(4)?,
        })
    })
    .transpose()
}

fn track_ids_by_paths(
    tx: &mut ::postgres::Transaction<'_>,
    paths: &[String],
) -> StorageResult<HashMap<String, TrackId>> {
    let mut out = HashMap::new();
    let mut seen = HashSet::new();
    let unique: Vec<&String> = paths.iter().filter(|p| seen.insert(*p)).collect();
    let exact: HashMap<String, i64> = tx
        .query(
            "SELECT path, id FROM tracks WHERE path = ANY($1)",
            &[&unique],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<StorageResult<_>>()?;
    let mut unmatched = Vec::new();
    for p in unique {
        match exact.get(p) {
            Some(&id) => {
                out.insert(p.clone(), TrackId(id));
            }
            None => unmatched.push(p),
        }
    }
    if unmatched.is_empty() {
        return Ok(out);
    }
    // Playlists written elsewhere carry other roots: the longest matching suffix among the
    // tracks of the same file name wins (as in SQLite; later ids win ties).
    let file_name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let wanted: Vec<String> = unmatched
        .iter()
        .map(|p| file_name(p))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut by_name: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for r in tx.query(
        "SELECT id, path FROM tracks WHERE regexp_replace(path, '^.*/', '') = ANY($1) ORDER BY id",
        &[&wanted],
    )? {
        let path: String = r.try_get(1)?;
        by_name
            .entry(file_name(&path))
            .or_default()
            .push((r.try_get(0)?, path));
    }
    for p in unmatched {
        let best = by_name
            .get(&file_name(p))
            .into_iter()
            .flatten()
            .max_by_key(|(_, path)| common_suffix_len(path, p));
        if let Some((id, _)) = best {
            out.insert(p.clone(), TrackId(*id));
        }
    }
    Ok(out)
}

fn common_suffix_len(a: &str, b: &str) -> usize {
    a.split('/')
        .rev()
        .zip(b.split('/').rev())
        .take_while(|(x, y)| x == y)
        .count()
}

fn album(tx: &mut ::postgres::Transaction<'_>, id: AlbumId) -> StorageResult<Option<AlbumDetail>> {
    let Some(row) = tx.query_opt(&format!("{ALBUM_SELECT} WHERE al.id = $1"), &[&id.0])? else {
        return Ok(None);
    };
    let album = album_from_row(&row)?;
    let tracks = map_rows(
        tx.query(
            &format!(
                "{TRACK_SELECT} WHERE t.album_id = $1 ORDER BY coalesce(t.disc_number, 1), coalesce(t.track_number, 0), t.sort_title, t.id"
            ),
            &[&id.0],
        )?,
        track_from_row,
    )?;
    Ok(Some(AlbumDetail { album, tracks }))
}

fn artist(
    tx: &mut ::postgres::Transaction<'_>,
    id: ArtistId,
) -> StorageResult<Option<ArtistDetail>> {
    let Some(row) = tx.query_opt(&format!("{ARTIST_SELECT} WHERE ar.id = $1"), &[&id.0])? else {
        return Ok(None);
    };
    let artist = artist_from_row(&row)?;
    let albums = map_rows(
        tx.query(
            &format!(
                "{ALBUM_SELECT} WHERE al.album_artist_id = $1 ORDER BY coalesce(al.year, 0), al.sort_title, al.id"
            ),
            &[&id.0],
        )?,
        album_from_row,
    )?;
    let appears_on = map_rows(
        tx.query(
            &format!(
                "{TRACK_SELECT} WHERE t.id IN (SELECT track_id FROM track_artists WHERE artist_id = $1)
                 AND coalesce(t.album_artist_id, -1) != $1 ORDER BY t.sort_title, t.id LIMIT 500"
            ),
            &[&id.0],
        )?,
        track_from_row,
    )?;
    Ok(Some(ArtistDetail {
        artist,
        albums,
        appears_on,
    }))
}

fn genres(tx: &mut ::postgres::Transaction<'_>) -> StorageResult<Vec<Genre>> {
    tx.query(
        "SELECT g.name, count(DISTINCT tg.track_id), count(DISTINCT t.album_id)
         FROM genres g JOIN track_genres tg ON tg.genre_id = g.id JOIN tracks t ON t.id = tg.track_id
         GROUP BY g.id, g.name ORDER BY lower(g.name) COLLATE \"C\"",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Genre {
            name: r.try_get(0)?,
            track_count: r.try_get::<_, i64>(1)? as u32,
            album_count: r.try_get::<_, i64>(2)? as u32,
        })
    })
    .collect()
}

fn art(tx: &mut ::postgres::Transaction<'_>, hash: &str) -> StorageResult<Option<StoredArt>> {
    let Some(row) = tx.query_opt("SELECT mime FROM art WHERE hash = $1", &[&hash])? else {
        return Ok(None);
    };
    let sources = tx
        .query(
            "SELECT kind, path FROM art_sources WHERE hash = $1 ORDER BY seen_at DESC, path",
            &[&hash],
        )?
        .iter()
        .map(|r| {
            let kind: String = r.try_get(0)?;
            let path: String = r.try_get(1)?;
            Ok(if kind == "file" {
                ArtSource::File(path)
            } else {
                ArtSource::Embedded(path)
            })
        })
        .collect::<StorageResult<_>>()?;
    Ok(Some(StoredArt {
        hash: hash.to_string(),
        mime: row.try_get(0)?,
        sources,
    }))
}

fn count(tx: &mut ::postgres::Transaction<'_>, sql: &str) -> StorageResult<u64> {
    Ok(tx.query_one(sql, &[])?.try_get::<_, i64>(0)?.max(0) as u64)
}

impl CatalogStore for PgStore {
    fn catalog_generation(&self) -> u64 {
        self.known_generation()
    }
    fn list_tracks(&self, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>> {
        let sort = match page.sort {
            TrackSort::Title => ("t.sort_title", true),
            TrackSort::Artist => ("t.sort_artist", true),
            TrackSort::Album => ("coalesce(t.album_id, 0)", false),
            TrackSort::Year => ("coalesce(t.year, 0)", false),
            TrackSort::Added => ("t.id", false),
        };
        self.read_catalog(|tx| keyset(tx, TRACKS, sort, page))
    }
    fn track(&self, id: TrackId) -> StorageResult<Option<Track>> {
        self.read_catalog(|tx| Ok(tracks_by_ids(tx, &[id])?.pop()))
    }
    fn tracks_by_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<Track>> {
        self.read_catalog(|tx| tracks_by_ids(tx, ids))
    }
    fn track_file(&self, id: TrackId) -> StorageResult<Option<TrackFile>> {
        self.read_catalog(|tx| track_file_where(tx, "id = $1", &id.0))
    }
    fn track_lyrics(&self, id: TrackId) -> StorageResult<Option<Lyrics>> {
        self.read_catalog(|tx| {
            tx.query_opt(
                "SELECT lyrics FROM track_lyrics WHERE track_id = $1",
                &[&id.0],
            )?
            .map(|row| crate::storage::lyrics_from_json(id, row.try_get::<_, &str>(0)?))
            .transpose()
        })
    }
    fn track_file_by_hash(&self, content_hash: &str) -> StorageResult<Option<TrackFile>> {
        self.read_catalog(|tx| track_file_where(tx, "content_hash = $1", &content_hash))
    }
    fn track_ids_by_paths(&self, paths: &[String]) -> StorageResult<HashMap<String, TrackId>> {
        self.read_catalog(|tx| track_ids_by_paths(tx, paths))
    }
    fn list_albums(&self, page: &PageRequest<AlbumSort>) -> StorageResult<Page<Album>> {
        let sort = match page.sort {
            AlbumSort::Title => ("al.sort_title", true),
            AlbumSort::Artist => ("al.sort_artist", true),
            AlbumSort::Year => ("coalesce(al.year, 0)", false),
            AlbumSort::Added => ("al.id", false),
        };
        self.read_catalog(|tx| keyset(tx, ALBUMS, sort, page))
    }
    fn album(&self, id: AlbumId) -> StorageResult<Option<AlbumDetail>> {
        self.read_catalog(|tx| album(tx, id))
    }
    fn list_artists(&self, page: &PageRequest<ArtistSort>) -> StorageResult<Page<Artist>> {
        let sort = match page.sort {
            ArtistSort::Name => ("ar.sort_name", true),
            ArtistSort::Added => ("ar.id", false),
        };
        self.read_catalog(|tx| keyset(tx, ARTISTS, sort, page))
    }
    fn artist(&self, id: ArtistId) -> StorageResult<Option<ArtistDetail>> {
        self.read_catalog(|tx| artist(tx, id))
    }
    fn genres(&self) -> StorageResult<Vec<Genre>> {
        self.read_catalog(genres)
    }
    fn search(&self, query: &str, limit: u32) -> StorageResult<SearchResults> {
        use crate::storage::search_index;
        let q = mixtape_shared::search::clean_query(query);
        if q.is_empty() {
            return Ok(search_index::nothing());
        }
        let found = if search_index::is_short(&q) {
            self.read_catalog(|tx| super::search::short_search(tx, &q, limit))?
        } else {
            let generation = self.catalog_generation();
            self.search_index
                .search(generation, &q, limit as usize, || {
                    self.read_catalog(super::search::search_docs)
                })?
        };
        self.read_catalog(|tx| super::search::search_results(tx, &found))
    }
    fn art(&self, hash: &str) -> StorageResult<Option<StoredArt>> {
        self.read_catalog(|tx| art(tx, hash))
    }
    fn track_count(&self) -> StorageResult<u64> {
        self.read_catalog(|tx| count(tx, "SELECT count(*) FROM tracks"))
    }
    fn pool_stats(&self) -> Option<(u32, u32)> {
        Some(self.primary_pool_stats())
    }
    fn indexed_files(&self) -> StorageResult<HashMap<String, IndexedFile>> {
        // The scanner compares the disk with its own last writes: the primary, never a replica
        // that may not have replayed them yet.
        self.read_primary(super::scan::indexed_files)
    }
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        let ((outcome, touched), generation) = self.write(None, |tx, changes| {
            let (outcome, touched) = super::scan::apply_batch(tx, changes, writes)?;
            Ok(((outcome, touched), super::bump_generation(tx)?))
        })?;
        self.saw_generation(generation);
        self.touch_shard_playlists(&touched)?;
        Ok(outcome)
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        let generation = self.write(None, |tx, _| {
            super::scan::prune_orphans(tx)?;
            super::bump_generation(tx)
        })?;
        self.saw_generation(generation);
        Ok(())
    }
    fn unavailable_track_count(&self) -> StorageResult<u64> {
        self.read_catalog(|tx| count(tx, "SELECT count(*) FROM tracks WHERE NOT available"))
    }
    fn existing_track_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<TrackId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<i64> = ids.iter().map(|t| t.0).collect();
        let found: HashSet<i64> = self.read_catalog(|tx| {
            tx.query("SELECT id FROM tracks WHERE id = ANY($1)", &[&raw])?
                .iter()
                .map(|r| Ok(r.try_get(0)?))
                .collect()
        })?;
        Ok(ids
            .iter()
            .copied()
            .filter(|id| found.contains(&id.0))
            .collect())
    }
    fn track_list(&self, query: &TrackQuery, offset: u32, count: u32) -> StorageResult<Vec<Track>> {
        self.read_catalog(|tx| super::catalog_pages::track_list(tx, query, offset, count))
    }
    fn artist_page(&self, offset: u32, count: u32) -> StorageResult<Vec<Artist>> {
        self.read_catalog(|tx| super::catalog_pages::artist_page(tx, offset, count))
    }
    fn artist_by_name(&self, name: &str) -> StorageResult<Option<Artist>> {
        let folded = crate::catalog::fold(name);
        self.read_catalog(|tx| {
            tx.query_opt(
                &format!("{ARTIST_SELECT} WHERE ar.sort_name = $1"),
                &[&folded],
            )?
            .map(|r| artist_from_row(&r))
            .transpose()
        })
    }
}
