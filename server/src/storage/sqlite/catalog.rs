//! Catalog reads: keyset-paginated lists, details and search.

use super::SEP;
use super::*;
use crate::storage::search_index::{Found, SearchDocs};
use mixtape_shared::api::{AlbumRef, ArtistRef, MusicBrainzIds, ReplayGain};
use mixtape_shared::{AlbumId, ArtistId};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use std::collections::HashSet;

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

fn split(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split(SEP).map(str::to_string).collect()
    }
}

fn u32_col(r: &Row, i: usize) -> rusqlite::Result<Option<u32>> {
    Ok(r.get::<_, Option<i64>>(i)?
        .map(|v| v.clamp(0, u32::MAX as i64) as u32))
}

pub(super) fn track_from_row(r: &Row) -> rusqlite::Result<Track> {
    let ids: String = r.get(2)?;
    let names: String = r.get(3)?;
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
    let album = match (r.get::<_, Option<i64>>(4)?, r.get::<_, Option<String>>(5)?) {
        (Some(id), Some(title)) => Some(AlbumRef {
            id: AlbumId(id),
            title,
        }),
        _ => None,
    };
    let album_artist = match (r.get::<_, Option<i64>>(6)?, r.get::<_, Option<String>>(7)?) {
        (Some(id), Some(name)) => Some(ArtistRef {
            id: ArtistId(id),
            name,
        }),
        _ => None,
    };
    Ok(Track {
        id: TrackId(r.get(0)?),
        title: r.get(1)?,
        artists,
        album,
        album_artist,
        track_number: u32_col(r, 8)?,
        track_total: u32_col(r, 9)?,
        disc_number: u32_col(r, 10)?,
        year: r.get(11)?,
        genres: split(&r.get::<_, String>(12)?),
        duration_ms: r.get::<_, i64>(13)?.max(0) as u64,
        bitrate_kbps: u32_col(r, 14)?,
        sample_rate: u32_col(r, 15)?,
        channels: r.get::<_, Option<i64>>(16)?.map(|c| c.clamp(0, 255) as u8),
        format: r.get(17)?,
        content_type: r.get(18)?,
        size_bytes: r.get::<_, i64>(19)?.max(0) as u64,
        content_hash: r.get(20)?,
        replay_gain: ReplayGain {
            track_gain_db: r.get(21)?,
            track_peak: r.get(22)?,
            album_gain_db: r.get(23)?,
            album_peak: r.get(24)?,
        },
        musicbrainz: MusicBrainzIds {
            track_id: r.get(25)?,
            recording_id: r.get(26)?,
            album_id: r.get(27)?,
            artist_id: r.get(28)?,
            album_artist_id: r.get(29)?,
        },
        cover_art: r.get(30)?,
        available: r.get(31)?,
        media_url: None,
    })
}

pub(super) fn album_from_row(r: &Row) -> rusqlite::Result<Album> {
    Ok(Album {
        id: AlbumId(r.get(0)?),
        title: r.get(1)?,
        album_artist: ArtistRef {
            id: ArtistId(r.get(2)?),
            name: r.get(3)?,
        },
        year: r.get(4)?,
        genres: split(&r.get::<_, String>(5)?),
        track_count: u32_col(r, 6)?.unwrap_or(0),
        duration_ms: r.get::<_, i64>(7)?.max(0) as u64,
        cover_art: r.get(8)?,
    })
}

pub(super) fn artist_from_row(r: &Row) -> rusqlite::Result<Artist> {
    Ok(Artist {
        id: ArtistId(r.get(0)?),
        name: r.get(1)?,
        album_count: u32_col(r, 2)?.unwrap_or(0),
        track_count: u32_col(r, 3)?.unwrap_or(0),
    })
}

/// One keyset page: rows after the cursor in (sort value, id) order.
/// A list the API pages through: its SELECT, how many columns the row mapper reads, the id
/// column that breaks sort ties, and the row mapper.
struct Listing<T> {
    select: &'static str,
    columns: usize,
    id_expr: &'static str,
    map: fn(&Row) -> rusqlite::Result<T>,
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

fn keyset<T, S>(
    conn: &Connection,
    listing: Listing<T>,
    sort_expr: &str,
    page: &PageRequest<S>,
) -> StorageResult<Page<T>> {
    let Listing {
        select,
        columns,
        id_expr,
        map,
    } = listing;
    let (order, limit, after) = (page.order, page.limit, page.after.as_ref());
    let (cmp, dir) = match order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    let (head, tail) = select.split_once(" FROM ").expect("select has FROM");
    let mut sql = format!("{head}, {sort_expr} FROM {tail}");
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(c) = after {
        sql.push_str(&format!(" WHERE ({sort_expr}, {id_expr}) {cmp} (?1, ?2)"));
        values.push(match &c.value {
            CursorValue::Int(i) => (*i).into(),
            CursorValue::Text(s) => s.clone().into(),
        });
        values.push(c.id.into());
    }
    sql.push_str(&format!(
        " ORDER BY {sort_expr} {dir}, {id_expr} {dir} LIMIT {}",
        limit as u64 + 1
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if items.len() == limit as usize {
            // The extra row only says that another page follows.
            more = true;
            break;
        }
        let value = match r.get_ref(columns)? {
            rusqlite::types::ValueRef::Integer(i) => CursorValue::Int(i),
            rusqlite::types::ValueRef::Text(t) => {
                CursorValue::Text(String::from_utf8_lossy(t).into_owned())
            }
            _ => CursorValue::Int(0),
        };
        last = Some(Cursor {
            value,
            id: r.get(0)?,
        });
        items.push(map(r)?);
    }
    Ok(Page {
        items,
        next_cursor: if more { last.map(|c| c.encode()) } else { None },
    })
}

pub fn list_tracks(conn: &Connection, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>> {
    let sort = match page.sort {
        TrackSort::Title => "t.sort_title",
        TrackSort::Artist => "t.sort_artist",
        // A NULL key would fail the keyset comparison and drop album-less tracks from
        // every page after the first: they sort as album 0, as on PostgreSQL.
        TrackSort::Album => "coalesce(t.album_id, 0)",
        TrackSort::Year => "coalesce(t.year, 0)",
        TrackSort::Added => "t.id",
    };
    keyset(conn, TRACKS, sort, page)
}

pub fn tracks_by_ids(conn: &Connection, ids: &[TrackId]) -> StorageResult<Vec<Track>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut stmt = conn.prepare_cached(&format!("{TRACK_SELECT} WHERE t.id = ?1"))?;
    for id in ids {
        if let Some(t) = stmt.query_row([id.0], track_from_row).optional()? {
            out.push(t);
        }
    }
    Ok(out)
}

pub fn existing_track_ids(conn: &Connection, ids: &[TrackId]) -> StorageResult<Vec<TrackId>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM tracks WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        if stmt.exists([id.0])? {
            out.push(*id);
        }
    }
    Ok(out)
}

pub fn track_file_where(
    conn: &Connection,
    condition: &str,
    value: impl rusqlite::ToSql,
) -> StorageResult<Option<TrackFile>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT path, size, content_hash, content_type, available FROM tracks WHERE {condition} LIMIT 1"
        ))?
        .query_row([value], |r| {
            Ok(TrackFile {
                path: r.get(0)?,
                size: r.get::<_, i64>(1)?.max(0) as u64,
                content_hash: r.get(2)?,
                content_type: r.get(3)?,
                available: r.get(4)?,
            })
        })
        .optional()?)
}

pub fn track_ids_by_paths(
    conn: &Connection,
    paths: &[String],
) -> StorageResult<HashMap<String, TrackId>> {
    let mut exact = conn.prepare_cached("SELECT id FROM tracks WHERE path = ?1")?;
    let mut out = HashMap::new();
    let mut unmatched: Vec<&String> = Vec::new();
    let mut seen = HashSet::new();
    for p in paths {
        if !seen.insert(p) {
            continue;
        }
        match exact.query_row([p], |r| r.get::<_, i64>(0)).optional()? {
            Some(id) => {
                out.insert(p.clone(), TrackId(id));
            }
            None => unmatched.push(p),
        }
    }
    if unmatched.is_empty() {
        return Ok(out);
    }
    // Playlists written elsewhere carry other roots: fall back to the longest matching suffix.
    // One pass over the paths for all of them (not a LIKE scan per line), keeping only the
    // tracks whose file name some line asks for.
    let file_name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let wanted: HashSet<String> = unmatched.iter().map(|p| file_name(p)).collect();
    let mut by_name: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    let mut all = conn.prepare_cached("SELECT id, path FROM tracks ORDER BY id")?;
    let mut rows = all.query([])?;
    while let Some(r) = rows.next()? {
        let path: String = r.get(1)?;
        let name = file_name(&path);
        if wanted.contains(&name) {
            by_name.entry(name).or_default().push((r.get(0)?, path));
        }
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

pub fn list_albums(conn: &Connection, page: &PageRequest<AlbumSort>) -> StorageResult<Page<Album>> {
    let sort = match page.sort {
        AlbumSort::Title => "al.sort_title",
        AlbumSort::Artist => "al.sort_artist",
        AlbumSort::Year => "coalesce(al.year, 0)",
        AlbumSort::Added => "al.id",
    };
    keyset(conn, ALBUMS, sort, page)
}

pub fn album(conn: &Connection, id: AlbumId) -> StorageResult<Option<AlbumDetail>> {
    let Some(album) = conn
        .prepare_cached(&format!("{ALBUM_SELECT} WHERE al.id = ?1"))?
        .query_row([id.0], album_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let tracks = conn
        .prepare_cached(&format!(
            "{TRACK_SELECT} WHERE t.album_id = ?1 ORDER BY coalesce(t.disc_number, 1), coalesce(t.track_number, 0), t.sort_title, t.id"
        ))?
        .query_map([id.0], track_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(Some(AlbumDetail { album, tracks }))
}

pub fn list_artists(
    conn: &Connection,
    page: &PageRequest<ArtistSort>,
) -> StorageResult<Page<Artist>> {
    let sort = match page.sort {
        ArtistSort::Name => "ar.sort_name",
        ArtistSort::Added => "ar.id",
    };
    keyset(conn, ARTISTS, sort, page)
}

pub fn artist(conn: &Connection, id: ArtistId) -> StorageResult<Option<ArtistDetail>> {
    let Some(artist) = conn
        .prepare_cached(&format!("{ARTIST_SELECT} WHERE ar.id = ?1"))?
        .query_row([id.0], artist_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let albums = conn
        .prepare_cached(&format!("{ALBUM_SELECT} WHERE al.album_artist_id = ?1 ORDER BY coalesce(al.year, 0), al.sort_title"))?
        .query_map([id.0], album_from_row)?
        .collect::<Result<_, _>>()?;
    let appears_on = conn
        .prepare_cached(&format!(
            "{TRACK_SELECT} WHERE t.id IN (SELECT track_id FROM track_artists WHERE artist_id = ?1)
             AND coalesce(t.album_artist_id, -1) != ?1 ORDER BY t.sort_title, t.id LIMIT 500"
        ))?
        .query_map([id.0], track_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(Some(ArtistDetail {
        artist,
        albums,
        appears_on,
    }))
}

pub fn genres(conn: &Connection) -> StorageResult<Vec<Genre>> {
    Ok(conn
        .prepare_cached(
            "SELECT g.name, count(DISTINCT tg.track_id), count(DISTINCT t.album_id)
             FROM genres g JOIN track_genres tg ON tg.genre_id = g.id JOIN tracks t ON t.id = tg.track_id
             GROUP BY g.id ORDER BY g.name COLLATE NOCASE",
        )?
        .query_map([], |r| {
            Ok(Genre {
                name: r.get(0)?,
                track_count: r.get::<_, i64>(1)? as u32,
                album_count: r.get::<_, i64>(2)? as u32,
            })
        })?
        .collect::<Result<_, _>>()?)
}

pub fn art(conn: &Connection, hash: &str) -> StorageResult<Option<StoredArt>> {
    let Some(mime) = conn
        .prepare_cached("SELECT mime FROM art WHERE hash = ?1")?
        .query_row([hash], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let sources = conn
        .prepare_cached(
            "SELECT kind, path FROM art_sources WHERE hash = ?1 ORDER BY seen_at DESC, path",
        )?
        .query_map([hash], |r| {
            let kind: String = r.get(0)?;
            let path: String = r.get(1)?;
            Ok(if kind == "file" {
                ArtSource::File(path)
            } else {
                ArtSource::Embedded(path)
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(StoredArt {
        hash: hash.to_string(),
        mime,
        sources,
    }))
}

/// Ids of the rows whose sort key starts with a short folded query (under three letters).
pub fn short_search(conn: &Connection, query: &str, limit: u32) -> StorageResult<Found> {
    let like = format!(
        "{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let ids = |sql: &str| -> StorageResult<Vec<i64>> {
        Ok(conn
            .prepare_cached(sql)?
            .query_map(params![like, limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    };
    Ok(Found {
        artists: ids(
            "SELECT id FROM artists WHERE sort_name LIKE ?1 ESCAPE '\\' ORDER BY sort_name LIMIT ?2",
        )?,
        albums: ids(
            "SELECT id FROM albums WHERE sort_title LIKE ?1 ESCAPE '\\' ORDER BY sort_title LIMIT ?2",
        )?,
        tracks: ids(
            "SELECT id FROM tracks WHERE sort_title LIKE ?1 ESCAPE '\\' ORDER BY sort_title LIMIT ?2",
        )?,
    })
}

/// The folded search rows the in-memory index is built from, read in one transaction.
pub fn search_docs(conn: &Connection) -> StorageResult<SearchDocs> {
    let tx = conn.unchecked_transaction()?;
    let rows = |sql: &str, columns: usize| -> StorageResult<Vec<(i64, Vec<String>)>> {
        Ok(tx
            .prepare(sql)?
            .query_map([], |r| {
                let fields = (1..=columns)
                    .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                    .collect::<rusqlite::Result<_>>()?;
                Ok((r.get(0)?, fields))
            })?
            .collect::<Result<_, _>>()?)
    };
    let docs = SearchDocs {
        tracks: rows("SELECT rowid, title, artists, album FROM track_search", 3)?,
        albums: rows("SELECT rowid, title, artist FROM album_search", 2)?,
        artists: rows("SELECT rowid, name FROM artist_search", 1)?,
    };
    tx.commit()?;
    Ok(docs)
}

/// The rows behind a search's ids, in the same order (ids removed meanwhile are skipped).
pub fn search_results(conn: &Connection, found: &Found) -> StorageResult<SearchResults> {
    let mut artist_stmt = conn.prepare_cached(&format!("{ARTIST_SELECT} WHERE ar.id = ?1"))?;
    let artists = found
        .artists
        .iter()
        .filter_map(|id| {
            artist_stmt
                .query_row([id], artist_from_row)
                .optional()
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    let mut album_stmt = conn.prepare_cached(&format!("{ALBUM_SELECT} WHERE al.id = ?1"))?;
    let albums = found
        .albums
        .iter()
        .filter_map(|id| {
            album_stmt
                .query_row([id], album_from_row)
                .optional()
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    let ids: Vec<TrackId> = found.tracks.iter().copied().map(TrackId).collect();
    let tracks = tracks_by_ids(conn, &ids)?;
    Ok(SearchResults {
        artists,
        albums,
        tracks,
    })
}
