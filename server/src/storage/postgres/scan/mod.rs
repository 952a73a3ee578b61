//! Scanner writes on PostgreSQL: a batch is one short transaction (see `sqlite/scan.rs`, the
//! reference). Every statement is a round trip, so they are counted: the ids at the batch's
//! paths and its retired ids are read with one query each when it starts, a new track is then
//! two statements (itself; its artists and genres), plus one for a new image and one for
//! lyrics, and the search rows a batch produces are written with one `unnest` statement per
//! table at its end. Statements are prepared once per batch.

use super::ChangeSet;
use crate::catalog::fold;
use crate::storage::sqlite::SEP;
use crate::storage::*;
use ::postgres::types::ToSql;
use ::postgres::{Client, Statement, Transaction};
use mixtape_shared::{TrackId, UserId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

mod derived;
pub(super) use derived::prune_orphans;

pub(super) fn indexed_files(conn: &mut Client) -> StorageResult<HashMap<String, IndexedFile>> {
    conn.query(
        "SELECT path, id, size, mtime_ns, content_hash, available FROM tracks",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok((
            r.try_get::<_, String>(0)?,
            IndexedFile {
                track_id: TrackId(r.try_get(1)?),
                size: r.try_get::<_, i64>(2)? as u64,
                mtime_ns: r.try_get(3)?,
                content_hash: r.try_get(4)?,
                available: r.try_get(5)?,
            },
        ))
    })
    .collect()
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

/// What one batch has touched (for the denormalized counts), looked up (so each artist, album,
/// genre and image costs one query per batch) and prepared.
struct Batch<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    changes: &'t mut ChangeSet,
    statements: HashMap<&'static str, Statement>,
    albums: HashSet<i64>,
    artists: HashSet<i64>,
    artist_ids: HashMap<String, (i64, String)>,
    album_ids: HashMap<(i64, String), (i64, bool)>,
    genre_ids: HashMap<String, i64>,
    art: HashSet<String>,
    /// Search rows to write at the end: id → (title, artists, album), folded.
    track_search: BTreeMap<i64, (String, String, String)>,
    album_search: Vec<(i64, String, String)>,
    artist_search: Vec<(i64, String)>,
    /// Tracks removed or whose availability changed: playlists on shards holding them are
    /// touched after the batch commits ([`PgStore::touch_shard_playlists`](super::PgStore::touch_shard_playlists)).
    touched: Vec<i64>,
    /// The track id at each path the batch names (None: no track there), read with one query
    /// when the batch starts and kept up to date as it writes: one round trip per batch
    /// instead of one per file.
    ids_at: HashMap<String, Option<i64>>,
    /// Content hashes that had a retired id when the batch started; None once the batch has
    /// removed a track (which retires its id), so that every new track asks again.
    retired: Option<HashSet<String>>,
}

impl Batch<'_, '_> {
    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StorageResult<Vec<::postgres::Row>> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.query(&stmt, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StorageResult<Option<::postgres::Row>> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.query_opt(&stmt, params)?)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> StorageResult<u64> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.execute(&stmt, params)?)
    }

    fn statement(&mut self, sql: &'static str) -> StorageResult<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// The artist's id and display name (the first spelling seen wins).
    fn ensure_artist(&mut self, name: &str) -> StorageResult<(i64, String)> {
        let key = fold(name);
        if let Some(found) = self.artist_ids.get(&key) {
            return Ok(found.clone());
        }
        let found =
            match self.query_opt("SELECT id, name FROM artists WHERE sort_name = $1", &[&key])? {
                Some(r) => (r.try_get(0)?, r.try_get(1)?),
                None => {
                    let id: i64 = self
                        .query_opt(
                            "INSERT INTO artists (name, sort_name) VALUES ($1, $2) RETURNING id",
                            &[&name, &key],
                        )?
                        .expect("RETURNING yields a row")
                        .try_get(0)?;
                    self.artist_search.push((id, key.clone()));
                    (id, name.to_string())
                }
            };
        self.artist_ids.insert(key, found.clone());
        Ok(found)
    }

    fn ensure_album(
        &mut self,
        title: &str,
        artist_id: i64,
        artist_name: &str,
        record: &TrackRecord,
    ) -> StorageResult<i64> {
        let key = (artist_id, fold(title));
        let cover = record.cover_art.as_ref().map(|a| a.hash.clone());
        if let Some(&(id, has_cover)) = self.album_ids.get(&key)
            && (has_cover || cover.is_none())
        {
            return Ok(id);
        }
        let id = match self.query_opt(
            "SELECT id FROM albums WHERE album_artist_id = $1 AND sort_title = $2",
            &[&artist_id, &key.1],
        )? {
            Some(r) => {
                let id: i64 = r.try_get(0)?;
                self.execute(
                    "UPDATE albums SET cover_art = coalesce(cover_art, $2) WHERE id = $1",
                    &[&id, &cover],
                )?;
                id
            }
            None => {
                let year = record.year.map(i64::from);
                let id: i64 = self
                    .query_opt(
                        "INSERT INTO albums (title, sort_title, album_artist_id, sort_artist, year, cover_art, added_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                        &[&title, &key.1, &artist_id, &fold(artist_name), &year, &cover, &now()],
                    )?
                    .expect("RETURNING yields a row")
                    .try_get(0)?;
                self.album_search
                    .push((id, key.1.clone(), fold(artist_name)));
                id
            }
        };
        self.album_ids.insert(key, (id, cover.is_some()));
        Ok(id)
    }

    fn ensure_genre(&mut self, name: &str) -> StorageResult<i64> {
        if let Some(&id) = self.genre_ids.get(name) {
            return Ok(id);
        }
        // Case-insensitive, as SQLite's NOCASE column.
        let id = match self.query_opt(
            "SELECT id FROM genres WHERE lower(name) = lower($1)",
            &[&name],
        )? {
            Some(r) => r.try_get(0)?,
            None => self
                .query_opt(
                    "INSERT INTO genres (name) VALUES ($1) RETURNING id",
                    &[&name],
                )?
                .expect("RETURNING yields a row")
                .try_get(0)?,
        };
        self.genre_ids.insert(name.to_string(), id);
        Ok(id)
    }

    fn remember_old(&mut self, id: i64) -> StorageResult<()> {
        if let Some(r) = self.query_opt(
            "SELECT album_id, artist_ids FROM tracks WHERE id = $1",
            &[&id],
        )? {
            self.albums.extend(r.try_get::<_, Option<i64>>(0)?);
            let artists: String = r.try_get(1)?;
            self.artists
                .extend(artists.split(SEP).filter_map(|s| s.parse::<i64>().ok()));
        }
        Ok(())
    }

    /// Writes `record` as track `existing` (or a new track), returning its id.
    fn write_track(&mut self, existing: Option<i64>, record: &TrackRecord) -> StorageResult<i64> {
        let artist_names: Vec<&str> = record.artists.iter().filter_map(|a| clean(a)).collect();
        let artist_names = if artist_names.is_empty() {
            vec!["Unknown Artist"]
        } else {
            artist_names
        };
        let mut artist_ids = Vec::with_capacity(artist_names.len());
        let mut display_names = Vec::with_capacity(artist_names.len());
        for name in &artist_names {
            let (id, display) = self.ensure_artist(name)?;
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
        let (album_artist_id, _) = self.ensure_artist(album_artist_name)?;
        let album_id = match record.album.as_deref().and_then(clean) {
            Some(title) => {
                Some(self.ensure_album(title, album_artist_id, album_artist_name, record)?)
            }
            None => None,
        };
        let mut genre_ids = Vec::new();
        let mut genre_names = Vec::new();
        for g in record.genres.iter().filter_map(|g| clean(g)) {
            let id = self.ensure_genre(g)?;
            if !genre_ids.contains(&id) {
                genre_ids.push(id);
                genre_names.push(g);
            }
        }
        // Every place an image is seen is kept (art_sources), the latest first.
        if let Some(art) = &record.cover_art {
            let (kind, path) = match &art.source {
                ArtSource::File(p) => ("file", p),
                ArtSource::Embedded(p) => ("embedded", p),
            };
            if self
                .art
                .insert(format!("{}{SEP}{kind}{SEP}{path}", art.hash))
            {
                self.execute(
                    "WITH image AS (
                       INSERT INTO art (hash, mime, kind, path) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (hash) DO UPDATE
                       SET mime = excluded.mime, kind = excluded.kind, path = excluded.path)
                     INSERT INTO art_sources (hash, kind, path, seen_at) VALUES ($1, $3, $4, $5)
                     ON CONFLICT (hash, kind, path) DO UPDATE SET seen_at = excluded.seen_at",
                    &[&art.hash, &art.mime, &kind, path, &now()],
                )?;
            }
        }
        let sep = SEP.to_string();
        let joined_ids = artist_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(&sep);
        let joined_names = display_names.join(&sep);
        let joined_genres = genre_names.join(&sep);
        let title = clean(&record.title).unwrap_or("Untitled");
        let rg = &record.replay_gain;
        let mb = &record.musicbrainz;
        let opt = |v: Option<u32>| v.map(i64::from);
        let (track_number, track_total, disc_number) = (
            opt(record.track_number),
            opt(record.track_total),
            opt(record.disc_number),
        );
        let (bitrate, sample_rate) = (opt(record.bitrate_kbps), opt(record.sample_rate));
        let channels = record.channels.map(i64::from);
        let year = record.year.map(i64::from);
        let (size, duration) = (record.size as i64, record.duration_ms as i64);
        let cover = record.cover_art.as_ref().map(|a| a.hash.as_str());
        let (sort_title, sort_artist) = (fold(title), fold(&display_names[0]));
        let values: [&(dyn ToSql + Sync); 32] = [
            &record.path,
            &size,
            &record.mtime_ns,
            &record.content_hash,
            &record.format,
            &record.content_type,
            &title,
            &sort_title,
            &album_id,
            &album_artist_id,
            &track_number,
            &track_total,
            &disc_number,
            &year,
            &duration,
            &bitrate,
            &sample_rate,
            &channels,
            &rg.track_gain_db,
            &rg.track_peak,
            &rg.album_gain_db,
            &rg.album_peak,
            &mb.track_id,
            &mb.recording_id,
            &mb.album_id,
            &mb.artist_id,
            &mb.album_artist_id,
            &cover,
            &joined_names,
            &joined_ids,
            &joined_genres,
            &sort_artist,
        ];
        let id = match existing {
            Some(id) => {
                self.remember_old(id)?;
                let mut params = values.to_vec();
                params.push(&id);
                self.execute(
                    "UPDATE tracks SET path = $1, size = $2, mtime_ns = $3, content_hash = $4, format = $5,
                       content_type = $6, title = $7, sort_title = $8, album_id = $9, album_artist_id = $10,
                       track_number = $11, track_total = $12, disc_number = $13, year = $14, duration_ms = $15,
                       bitrate_kbps = $16, sample_rate = $17, channels = $18, rg_track_gain = $19,
                       rg_track_peak = $20, rg_album_gain = $21, rg_album_peak = $22, mb_track_id = $23,
                       mb_recording_id = $24, mb_album_id = $25, mb_artist_id = $26, mb_album_artist_id = $27,
                       cover_art = $28, artist_names = $29, artist_ids = $30, genre_names = $31,
                       sort_artist = $32, available = true
                     WHERE id = $33",
                    &params,
                )?;
                self.execute(
                    "WITH artists AS (DELETE FROM track_artists WHERE track_id = $1)
                     DELETE FROM track_genres WHERE track_id = $1",
                    &[&id],
                )?;
                self.execute("DELETE FROM track_lyrics WHERE track_id = $1", &[&id])?;
                id
            }
            None => {
                // A file that was once removed gets its old id back (NULL: a new one).
                let retired = self.take_retired_id(&record.content_hash)?;
                let added = now();
                let mut params = values.to_vec();
                params.push(&added);
                params.push(&retired);
                self.query_opt(
                    "INSERT INTO tracks (path, size, mtime_ns, content_hash, format, content_type, title,
                       sort_title, album_id, album_artist_id, track_number, track_total, disc_number, year,
                       duration_ms, bitrate_kbps, sample_rate, channels, rg_track_gain, rg_track_peak,
                       rg_album_gain, rg_album_peak, mb_track_id, mb_recording_id, mb_album_id, mb_artist_id,
                       mb_album_artist_id, cover_art, artist_names, artist_ids, genre_names, sort_artist,
                       added_at, id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                       $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33,
                       coalesce($34, nextval(pg_get_serial_sequence('tracks', 'id'))))
                     RETURNING id",
                    &params,
                )?
                .expect("RETURNING yields a row")
                .try_get(0)?
            }
        };
        let artist_positions: Vec<i64> = (0..artist_ids.len() as i64).collect();
        let genre_positions: Vec<i64> = (0..genre_ids.len() as i64).collect();
        self.execute(
            "WITH artists AS (
               INSERT INTO track_artists (track_id, position, artist_id)
               SELECT $1, p, a FROM unnest($2::bigint[], $3::bigint[]) AS x(p, a))
             INSERT INTO track_genres (track_id, position, genre_id)
             SELECT $1, p, g FROM unnest($4::bigint[], $5::bigint[]) AS x(p, g)",
            &[
                &id,
                &artist_positions,
                &artist_ids,
                &genre_positions,
                &genre_ids,
            ],
        )?;
        let album_title = record.album.as_deref().and_then(clean).unwrap_or("");
        self.track_search.insert(
            id,
            (
                fold(title),
                fold(&display_names.join(" ")),
                fold(album_title),
            ),
        );
        self.albums.extend(album_id);
        self.artists.extend(artist_ids.iter().copied());
        self.artists.insert(album_artist_id);
        // A new track has no lyrics yet (a retired id's went with its track); an updated
        // track's were deleted above.
        if let Some(lyrics) = &record.lyrics {
            self.execute(
                "INSERT INTO track_lyrics (track_id, lyrics) VALUES ($1, $2)",
                &[&id, &crate::storage::lyrics_to_json(lyrics)],
            )?;
        }
        self.changes.push("track", id.to_string(), None, false);
        Ok(id)
    }

    fn track_id_at(&mut self, path: &str) -> StorageResult<Option<i64>> {
        if let Some(known) = self.ids_at.get(path) {
            return Ok(*known);
        }
        self.query_opt("SELECT id FROM tracks WHERE path = $1", &[&path])?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    /// Reads the ids at every path `writes` name, and which of their contents have a retired
    /// id, with one query each.
    fn look_up(&mut self, writes: &[ScanWrite]) -> StorageResult<()> {
        let mut paths: Vec<&str> = Vec::with_capacity(writes.len());
        let mut hashes: Vec<&str> = Vec::with_capacity(writes.len());
        for write in writes {
            match write {
                ScanWrite::Upsert(record) => {
                    paths.push(&record.path);
                    hashes.push(&record.content_hash);
                }
                ScanWrite::Move { from, record } => {
                    paths.extend([from.as_str(), record.path.as_str()]);
                    hashes.push(&record.content_hash);
                }
                ScanWrite::Remove { path } => paths.push(path),
                ScanWrite::Hold { .. } | ScanWrite::Restore { .. } => {}
            }
        }
        self.ids_at = paths.iter().map(|p| ((*p).to_owned(), None)).collect();
        for r in self.query(
            "SELECT path, id FROM tracks WHERE path = ANY($1)",
            &[&paths],
        )? {
            self.ids_at.insert(r.try_get(0)?, Some(r.try_get(1)?));
        }
        let retired = self
            .query(
                "SELECT content_hash FROM retired_track_ids WHERE content_hash = ANY($1)",
                &[&hashes],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.retired = Some(retired);
        Ok(())
    }

    /// The id a file with `content_hash` had before it was removed, taken back (None: none).
    fn take_retired_id(&mut self, content_hash: &str) -> StorageResult<Option<i64>> {
        if self
            .retired
            .as_ref()
            .is_some_and(|known| !known.contains(content_hash))
        {
            return Ok(None);
        }
        self.query_opt(
            "DELETE FROM retired_track_ids WHERE content_hash = $1 RETURNING track_id",
            &[&content_hash],
        )?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
    }

    fn remove_track(&mut self, id: i64) -> StorageResult<()> {
        self.remember_old(id)?;
        // Entries of a vanished track stay in their playlists, and the id stays with the
        // content: if the file returns, the entries play again.
        self.touch_playlists_with(id)?;
        self.execute(
            "INSERT INTO retired_track_ids (content_hash, track_id)
             SELECT content_hash, id FROM tracks WHERE id = $1 ON CONFLICT DO NOTHING",
            &[&id],
        )?;
        self.retired = None;
        self.track_search.remove(&id);
        // track_artists, track_genres and track_search rows go with it (ON DELETE CASCADE).
        self.execute("DELETE FROM tracks WHERE id = $1", &[&id])?;
        self.changes.push("track", id.to_string(), None, true);
        Ok(())
    }

    /// Tells the owners of playlists holding track `id` that their playlist changed (here for
    /// users living on the primary; on shards after the commit).
    fn touch_playlists_with(&mut self, id: i64) -> StorageResult<()> {
        self.touched.push(id);
        let affected: Vec<(String, i64)> = self
            .query(
                "SELECT DISTINCT p.id::text, p.owner_id FROM playlist_entries e
                 JOIN playlists p ON p.id = e.playlist_id WHERE e.track_id = $1",
                &[&id],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<StorageResult<_>>()?;
        for (playlist, owner) in affected {
            self.changes
                .push("playlist", playlist, Some(UserId(owner)), false);
        }
        Ok(())
    }

    /// Marks the track at `path` available or not; true if that changed it.
    fn set_available(&mut self, path: &str, available: bool) -> StorageResult<bool> {
        let Some(row) = self.query_opt(
            "UPDATE tracks SET available = $2 WHERE path = $1 AND available != $2 RETURNING id",
            &[&path, &available],
        )?
        else {
            return Ok(false);
        };
        let id: i64 = row.try_get(0)?;
        self.changes.push("track", id.to_string(), None, false);
        self.touch_playlists_with(id)?;
        Ok(true)
    }
}

/// Applies a scan batch; returns its outcome and the tracks whose playlists on shards need a
/// touch once it commits.
pub(super) fn apply_batch(
    tx: &mut Transaction<'_>,
    changes: &mut ChangeSet,
    writes: Vec<ScanWrite>,
) -> StorageResult<(BatchOutcome, Vec<i64>)> {
    let mut outcome = BatchOutcome::default();
    let mut b = Batch {
        tx,
        changes,
        statements: HashMap::new(),
        albums: HashSet::new(),
        artists: HashSet::new(),
        artist_ids: HashMap::new(),
        album_ids: HashMap::new(),
        genre_ids: HashMap::new(),
        art: HashSet::new(),
        track_search: BTreeMap::new(),
        album_search: Vec::new(),
        artist_search: Vec::new(),
        touched: Vec::new(),
        ids_at: HashMap::new(),
        retired: None,
    };
    b.look_up(&writes)?;
    for write in writes {
        match write {
            ScanWrite::Upsert(record) => {
                let existing = b.track_id_at(&record.path)?;
                let id = b.write_track(existing, &record)?;
                b.ids_at.insert(record.path, Some(id));
                if existing.is_some() {
                    outcome.updated += 1;
                } else {
                    outcome.added += 1;
                }
            }
            ScanWrite::Move { from, record } => {
                // If the target path is indexed too (a file moved onto another), that one goes.
                if let Some(stale) = b.track_id_at(&record.path)? {
                    b.remove_track(stale)?;
                    outcome.removed += 1;
                }
                let existing = b.track_id_at(&from)?;
                let id = b.write_track(existing, &record)?;
                b.ids_at.insert(from, None);
                b.ids_at.insert(record.path, Some(id));
                if existing.is_some() {
                    outcome.moved += 1;
                } else {
                    outcome.added += 1;
                }
            }
            ScanWrite::Remove { path } => {
                if let Some(id) = b.track_id_at(&path)? {
                    b.remove_track(id)?;
                    b.ids_at.insert(path, None);
                    outcome.removed += 1;
                }
            }
            ScanWrite::Hold { path } => {
                if b.set_available(&path, false)? {
                    outcome.held += 1;
                }
            }
            ScanWrite::Restore { path } => {
                if b.set_available(&path, true)? {
                    outcome.restored += 1;
                }
            }
        }
    }
    b.refresh_counts()?;
    b.write_search()?;
    Ok((outcome, b.touched))
}
