//! Scanner writes: each batch is one short IMMEDIATE transaction, so readers never wait and a
//! crash loses at most the batch in flight (the next scan redoes it).

use super::*;
use super::{Change, SEP, record_changes};
use crate::catalog::fold;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn indexed_files(conn: &Connection) -> StorageResult<HashMap<String, IndexedFile>> {
    let mut stmt =
        conn.prepare("SELECT path, id, size, mtime_ns, content_hash, available FROM tracks")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            IndexedFile {
                track_id: TrackId(r.get(1)?),
                size: r.get::<_, i64>(2)? as u64,
                mtime_ns: r.get(3)?,
                content_hash: r.get(4)?,
                available: r.get(5)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Names that should mean "no value" rather than an artist called "".
fn clean(name: &str) -> Option<&str> {
    let t = name.trim();
    if t.is_empty() { None } else { Some(t) }
}

/// Returns the artist's id and its display name (the first spelling seen wins).
fn ensure_artist(tx: &Connection, name: &str, batch: &mut Batch) -> StorageResult<(i64, String)> {
    let key = fold(name);
    if let Some(found) = batch.artist_ids.get(&key) {
        return Ok(found.clone());
    }
    let found = match tx
        .prepare_cached("SELECT id, name FROM artists WHERE sort_name = ?1")?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    {
        Some(found) => found,
        None => {
            tx.prepare_cached("INSERT INTO artists (name, sort_name) VALUES (?1, ?2)")?
                .execute(params![name, key])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO temp.pending_artist_search (id, name) VALUES (?1, ?2)",
            )?
            .execute(params![id, fold(name)])?;
            (id, name.to_string())
        }
    };
    batch.artist_ids.insert(key, found.clone());
    Ok(found)
}

fn ensure_album(
    tx: &Connection,
    title: &str,
    artist_id: i64,
    artist_name: &str,
    record: &TrackRecord,
    batch: &mut Batch,
) -> StorageResult<i64> {
    let key = (artist_id, fold(title));
    let cover = record.cover_art.as_ref().map(|a| a.hash.as_str());
    if let Some(&(id, has_cover)) = batch.album_ids.get(&key)
        && (has_cover || cover.is_none())
    {
        return Ok(id);
    }
    let id = match tx
        .prepare_cached("SELECT id FROM albums WHERE album_artist_id = ?1 AND sort_title = ?2")?
        .query_row(params![artist_id, key.1], |r| r.get::<_, i64>(0))
        .optional()?
    {
        Some(id) => {
            tx.prepare_cached(
                "UPDATE albums SET cover_art = coalesce(cover_art, ?2) WHERE id = ?1",
            )?
            .execute(params![id, cover])?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO albums (title, sort_title, album_artist_id, sort_artist, year, cover_art, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![title, key.1, artist_id, fold(artist_name), record.year, cover, now()])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT OR REPLACE INTO temp.pending_album_search (id, title, artist) VALUES (?1, ?2, ?3)")?
                .execute(params![id, fold(title), fold(artist_name)])?;
            id
        }
    };
    batch.album_ids.insert(key, (id, cover.is_some()));
    Ok(id)
}

fn ensure_genre(tx: &Connection, name: &str, batch: &mut Batch) -> StorageResult<i64> {
    if let Some(&id) = batch.genre_ids.get(name) {
        return Ok(id);
    }
    let id = match tx
        .prepare_cached("SELECT id FROM genres WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
    {
        Some(id) => id,
        None => {
            tx.prepare_cached("INSERT INTO genres (name) VALUES (?1)")?
                .execute([name])?;
            tx.last_insert_rowid()
        }
    };
    batch.genre_ids.insert(name.to_string(), id);
    Ok(id)
}

/// The columns `write_track` writes, in the order of its values (?1 to ?32).
const TRACK_COLUMNS: &str = "path, size, mtime_ns, content_hash, format, content_type, title, sort_title, album_id,
    album_artist_id, track_number, track_total, disc_number, year, duration_ms, bitrate_kbps, sample_rate,
    channels, rg_track_gain, rg_track_peak, rg_album_gain, rg_album_peak, mb_track_id, mb_recording_id,
    mb_album_id, mb_artist_id, mb_album_artist_id, cover_art, artist_names, artist_ids, genre_names, sort_artist";

/// Built once: formatting them per track was a tenth of a first scan's writer.
static INSERT_TRACK: LazyLock<String> = LazyLock::new(|| {
    let placeholders = (1..=32)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    // No RETURNING: SQLite runs it as a trigger, and a statement with a trigger keeps a
    // statement journal, a copy of every page it touches (a tenth of a first scan).
    format!("INSERT INTO tracks ({TRACK_COLUMNS}, added_at, id) VALUES ({placeholders}, ?33, ?34)")
});

static UPDATE_TRACK: LazyLock<String> = LazyLock::new(|| {
    let assignments = TRACK_COLUMNS
        .split(',')
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", c.trim(), i + 1))
        .collect::<Vec<_>>();
    format!(
        "UPDATE tracks SET {}, available = 1 WHERE id = ?33",
        assignments.join(", ")
    )
});

/// Writes `record` as track `existing` (or a new track), returning its id.
fn write_track(
    tx: &Connection,
    existing: Option<i64>,
    record: &TrackRecord,
    batch: &mut Batch,
) -> StorageResult<i64> {
    let artist_names: Vec<&str> = record.artists.iter().filter_map(|a| clean(a)).collect();
    let artist_names = if artist_names.is_empty() {
        vec!["Unknown Artist"]
    } else {
        artist_names
    };
    let mut artist_ids = Vec::with_capacity(artist_names.len());
    let mut display_names = Vec::with_capacity(artist_names.len());
    for name in &artist_names {
        let (id, display) = ensure_artist(tx, name, batch)?;
        if !artist_ids.contains(&id) {
            artist_ids.push(id);
            display_names.push(display);
        }
    }
    let album_artist_name = record
        .album_artist
        .as_deref()
        .and_then(clean)
        .unwrap_or(artist_names[0]);
    let (album_artist_id, _) = ensure_artist(tx, album_artist_name, batch)?;
    let album_id = match record.album.as_deref().and_then(clean) {
        Some(title) => Some(ensure_album(
            tx,
            title,
            album_artist_id,
            album_artist_name,
            record,
            batch,
        )?),
        None => None,
    };
    let mut genre_ids = Vec::new();
    let mut genre_names = Vec::new();
    for g in record.genres.iter().filter_map(|g| clean(g)) {
        let id = ensure_genre(tx, g, batch)?;
        if !genre_ids.contains(&id) {
            genre_ids.push(id);
            genre_names.push(g);
        }
    }
    // Every place an image is seen is kept (art_sources), the latest first: an earlier one
    // may have moved away, and the others serve when one copy is removed.
    if let Some(art) = &record.cover_art {
        let (kind, path) = match &art.source {
            ArtSource::File(p) => ("file", p),
            ArtSource::Embedded(p) => ("embedded", p),
        };
        if batch
            .art
            .insert(format!("{}{SEP}{kind}{SEP}{path}", art.hash))
        {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO art (hash, mime, kind, path) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![art.hash, art.mime, kind, path])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO art_sources (hash, kind, path, seen_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![art.hash, kind, path, now()])?;
        }
    }
    let joined_ids = artist_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(&SEP.to_string());
    let joined_names = display_names.join(&SEP.to_string());
    let joined_genres = genre_names.join(&SEP.to_string());
    let title = clean(&record.title).unwrap_or("Untitled");
    let rg = &record.replay_gain;
    let mb = &record.musicbrainz;
    let values = params![
        record.path,
        record.size as i64,
        record.mtime_ns,
        record.content_hash,
        record.format,
        record.content_type,
        title,
        fold(title),
        album_id,
        album_artist_id,
        record.track_number,
        record.track_total,
        record.disc_number,
        record.year,
        record.duration_ms as i64,
        record.bitrate_kbps,
        record.sample_rate,
        record.channels,
        rg.track_gain_db,
        rg.track_peak,
        rg.album_gain_db,
        rg.album_peak,
        mb.track_id,
        mb.recording_id,
        mb.album_id,
        mb.artist_id,
        mb.album_artist_id,
        record.cover_art.as_ref().map(|a| a.hash.as_str()),
        joined_names,
        joined_ids,
        joined_genres,
        fold(&display_names[0]),
    ];
    let id = match existing {
        Some(id) => {
            if let Some(old) = tx
                .prepare_cached("SELECT album_id, artist_ids FROM tracks WHERE id = ?1")?
                .query_row([id], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?
            {
                batch.albums.extend(old.0);
                batch
                    .artists
                    .extend(old.1.split(SEP).filter_map(|s| s.parse::<i64>().ok()));
            }
            tx.prepare_cached(&UPDATE_TRACK)?
                .execute(rusqlite::params_from_iter(
                    values
                        .iter()
                        .copied()
                        .chain(std::iter::once(&id as &dyn rusqlite::ToSql)),
                ))?;
            stage_search_delete(tx, id)?;
            tx.prepare_cached("DELETE FROM track_artists WHERE track_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM track_genres WHERE track_id = ?1")?
                .execute([id])?;
            id
        }
        None => {
            // A file that was once removed gets its old id back (NULL: a new one).
            let retired: Option<i64> = tx
                .prepare_cached("SELECT track_id FROM retired_track_ids WHERE content_hash = ?1")?
                .query_row([&record.content_hash], |r| r.get(0))
                .optional()?;
            if retired.is_some() {
                tx.prepare_cached("DELETE FROM retired_track_ids WHERE content_hash = ?1")?
                    .execute([&record.content_hash])?;
            }
            tx.prepare_cached(&INSERT_TRACK)?
                .execute(rusqlite::params_from_iter(values.iter().copied().chain([
                    &now() as &dyn rusqlite::ToSql,
                    &retired as &dyn rusqlite::ToSql,
                ])))?;
            tx.last_insert_rowid()
        }
    };
    for (pos, artist) in artist_ids.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO track_artists (track_id, position, artist_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, pos as i64, artist])?;
    }
    for (pos, genre) in genre_ids.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO track_genres (track_id, position, genre_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, pos as i64, genre])?;
    }
    let album_title = record.album.as_deref().and_then(clean).unwrap_or("");
    tx.prepare_cached(
        "INSERT OR REPLACE INTO temp.pending_track_search (id, title, artists, album) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, fold(title), fold(&display_names.join(" ")), fold(album_title)])?;
    batch.albums.extend(album_id);
    batch.artists.extend(artist_ids.iter().copied());
    batch.artists.insert(album_artist_id);
    // A new id has no lyrics (ids are never reused; a retired id's went with its track).
    if existing.is_some() {
        tx.prepare_cached("DELETE FROM track_lyrics WHERE track_id = ?1")?
            .execute([id])?;
    }
    if let Some(lyrics) = &record.lyrics {
        tx.prepare_cached("INSERT INTO track_lyrics (track_id, lyrics) VALUES (?1, ?2)")?
            .execute(params![id, crate::storage::lyrics_to_json(lyrics)])?;
    }
    batch.change("track", id.to_string(), None, false);
    Ok(id)
}

fn track_id_at(tx: &Connection, path: &str) -> StorageResult<Option<i64>> {
    Ok(tx
        .prepare_cached("SELECT id FROM tracks WHERE path = ?1")?
        .query_row([path], |r| r.get(0))
        .optional()?)
}

fn remove_track(tx: &Connection, id: i64, batch: &mut Batch) -> StorageResult<()> {
    let (album, artists): (Option<i64>, String) = tx
        .prepare_cached("SELECT album_id, artist_ids FROM tracks WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    batch.albums.extend(album);
    batch
        .artists
        .extend(artists.split(SEP).filter_map(|s| s.parse::<i64>().ok()));
    // Entries of a vanished track stay in their playlists (the op log names the track; the
    // entry is listed as unavailable) and the id stays with the content: if the file returns,
    // the entries play again.
    touch_playlists_with(tx, id, batch)?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO retired_track_ids (content_hash, track_id)
         SELECT content_hash, id FROM tracks WHERE id = ?1",
    )?
    .execute([id])?;
    stage_search_delete(tx, id)?;
    tx.prepare_cached("DELETE FROM tracks WHERE id = ?1")?
        .execute([id])?;
    batch.change("track", id.to_string(), None, true);
    Ok(())
}

/// Tells the owners of playlists holding track `id` that their playlist changed (its entries'
/// availability did).
fn touch_playlists_with(tx: &Connection, id: i64, batch: &mut Batch) -> StorageResult<()> {
    let affected: Vec<(String, i64)> = tx
        .prepare_cached(
            "SELECT DISTINCT p.id, p.owner_id FROM playlist_entries e JOIN playlists p ON p.id = e.playlist_id WHERE e.track_id = ?1",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (playlist, owner) in affected {
        batch.change("playlist", playlist, Some(UserId(owner)), false);
    }
    Ok(())
}

/// Marks the track at `path` available or not; true if that changed it.
fn set_available(
    tx: &Connection,
    path: &str,
    available: bool,
    batch: &mut Batch,
) -> StorageResult<bool> {
    let Some(id) = tx
        .prepare_cached(
            "UPDATE tracks SET available = ?2 WHERE path = ?1 AND available != ?2 RETURNING id",
        )?
        .query_row(params![path, available], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(false);
    };
    batch.change("track", id.to_string(), None, false);
    touch_playlists_with(tx, id, batch)?;
    Ok(true)
}

/// What one batch has touched (for the denormalized counts) and looked up (so each artist,
/// album, genre and image costs one query per batch, not one per track).
#[derive(Default)]
struct Batch {
    albums: HashSet<i64>,
    artists: HashSet<i64>,
    artist_ids: HashMap<String, (i64, String)>,
    album_ids: HashMap<(i64, String), (i64, bool)>,
    genre_ids: HashMap<String, i64>,
    art: HashSet<String>,
    /// The change feed's entries, recorded together at the end of the batch.
    changes: Vec<Change>,
}

impl Batch {
    fn change(&mut self, kind: &'static str, item: String, user: Option<UserId>, deleted: bool) {
        self.changes.push(Change {
            kind,
            item,
            user,
            deleted,
        });
    }
}

/// Recomputes the denormalized counts of the albums and artists a batch batch.
fn refresh_counts(tx: &Connection, batch: &Batch) -> StorageResult<()> {
    for album in &batch.albums {
        tx.prepare_cached(
            "UPDATE albums SET
               track_count = (SELECT count(*) FROM tracks WHERE album_id = ?1),
               duration_ms = (SELECT coalesce(sum(duration_ms), 0) FROM tracks WHERE album_id = ?1),
               year = (SELECT max(year) FROM tracks WHERE album_id = ?1),
               genre_names = coalesce((SELECT group_concat(name, char(31)) FROM (
                   SELECT DISTINCT g.name FROM tracks t JOIN track_genres tg ON tg.track_id = t.id
                   JOIN genres g ON g.id = tg.genre_id WHERE t.album_id = ?1 ORDER BY g.name)), '')
             WHERE id = ?1",
        )?
        .execute([album])?;
    }
    for artist in &batch.artists {
        tx.prepare_cached(
            "UPDATE artists SET
               album_count = (SELECT count(*) FROM albums WHERE album_artist_id = ?1 AND track_count > 0),
               track_count = (SELECT count(*) FROM track_artists WHERE artist_id = ?1)
             WHERE id = ?1",
        )?
        .execute([artist])?;
    }
    Ok(())
}

/// Search rows are staged in temporary tables and written with one statement per table at the
/// end of the batch (a row added and removed within a batch never reaches them).
pub(crate) const STAGING: &str = "
    CREATE TEMP TABLE IF NOT EXISTS pending_track_search (id INTEGER PRIMARY KEY, title, artists, album);
    CREATE TEMP TABLE IF NOT EXISTS pending_track_search_delete (id INTEGER PRIMARY KEY);
    CREATE TEMP TABLE IF NOT EXISTS pending_album_search (id INTEGER PRIMARY KEY, title, artist);
    CREATE TEMP TABLE IF NOT EXISTS pending_artist_search (id INTEGER PRIMARY KEY, name);";

const WRITE_STAGED: &[&str] = &[
    "DELETE FROM track_search WHERE rowid IN (SELECT id FROM temp.pending_track_search_delete)",
    "INSERT INTO track_search (rowid, title, artists, album) SELECT id, title, artists, album FROM temp.pending_track_search",
    "INSERT INTO album_search (rowid, title, artist) SELECT id, title, artist FROM temp.pending_album_search",
    "INSERT INTO artist_search (rowid, name) SELECT id, name FROM temp.pending_artist_search",
    "DELETE FROM temp.pending_track_search_delete",
    "DELETE FROM temp.pending_track_search",
    "DELETE FROM temp.pending_album_search",
    "DELETE FROM temp.pending_artist_search",
];

/// The track's search row goes, including one staged earlier in this batch.
fn stage_search_delete(tx: &Connection, id: i64) -> StorageResult<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO temp.pending_track_search_delete (id) VALUES (?1)")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM temp.pending_track_search WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub fn apply_batch(tx: &Connection, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    let mut batch = Batch::default();
    for write in writes {
        match write {
            ScanWrite::Upsert(record) => {
                let existing = track_id_at(tx, &record.path)?;
                write_track(tx, existing, &record, &mut batch)?;
                if existing.is_some() {
                    outcome.updated += 1;
                } else {
                    outcome.added += 1;
                }
            }
            ScanWrite::Move { from, record } => {
                // If the target path is indexed too (a file moved onto another), that one goes.
                if let Some(stale) = track_id_at(tx, &record.path)? {
                    remove_track(tx, stale, &mut batch)?;
                    outcome.removed += 1;
                }
                let existing = track_id_at(tx, &from)?;
                write_track(tx, existing, &record, &mut batch)?;
                if existing.is_some() {
                    outcome.moved += 1;
                } else {
                    outcome.added += 1;
                }
            }
            ScanWrite::Remove { path } => {
                if let Some(id) = track_id_at(tx, &path)? {
                    remove_track(tx, id, &mut batch)?;
                    outcome.removed += 1;
                }
            }
            ScanWrite::Hold { path } => {
                if set_available(tx, &path, false, &mut batch)? {
                    outcome.held += 1;
                }
            }
            ScanWrite::Restore { path } => {
                if set_available(tx, &path, true, &mut batch)? {
                    outcome.restored += 1;
                }
            }
        }
    }
    refresh_counts(tx, &batch)?;
    record_changes(tx, &batch.changes)?;
    for sql in WRITE_STAGED {
        tx.prepare_cached(sql)?.execute([])?;
    }
    Ok(outcome)
}

pub fn prune_orphans(tx: &rusqlite::Transaction<'_>) -> StorageResult<()> {
    tx.execute_batch(
        "DELETE FROM albums WHERE NOT EXISTS (SELECT 1 FROM tracks WHERE album_id = albums.id);
         DELETE FROM album_search WHERE rowid NOT IN (SELECT id FROM albums);
         DELETE FROM artists WHERE NOT EXISTS (SELECT 1 FROM track_artists WHERE artist_id = artists.id)
             AND NOT EXISTS (SELECT 1 FROM tracks WHERE album_artist_id = artists.id)
             AND NOT EXISTS (SELECT 1 FROM albums WHERE album_artist_id = artists.id);
         DELETE FROM artist_search WHERE rowid NOT IN (SELECT id FROM artists);
         DELETE FROM genres WHERE NOT EXISTS (SELECT 1 FROM track_genres WHERE genre_id = genres.id);
         DELETE FROM art WHERE hash NOT IN (SELECT cover_art FROM tracks WHERE cover_art IS NOT NULL)
             AND hash NOT IN (SELECT cover_art FROM albums WHERE cover_art IS NOT NULL);
         DELETE FROM art_sources WHERE hash NOT IN (SELECT hash FROM art);
         DELETE FROM art_sources WHERE kind = 'embedded' AND NOT EXISTS
             (SELECT 1 FROM tracks t WHERE t.path = art_sources.path AND t.cover_art = art_sources.hash);
         -- A folder image's folder is its path up to the last '/' (rtrim drops the file name).
         DELETE FROM art_sources WHERE kind = 'file' AND NOT EXISTS
             (SELECT 1 FROM tracks t WHERE t.cover_art = art_sources.hash
                 AND substr(t.path, 1, length(rtrim(art_sources.path, replace(art_sources.path, '/', ''))))
                     = rtrim(art_sources.path, replace(art_sources.path, '/', '')));
         UPDATE artists SET album_count = (SELECT count(*) FROM albums WHERE album_artist_id = artists.id);",
    )?;
    Ok(())
}
