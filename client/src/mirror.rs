//! The local mirror: the server's catalog and the user's playlists as of the last pull, the outbox
//! of playlist ops and play events not yet pushed, and the device's own state (its id, logical
//! clock, change-feed position). One SQLite file in the data dir; everything a command shows
//! offline comes from here.
//!
//! A playlist as the user sees it is its canonical state (last pulled) with the pending ops
//! applied on top by `mixtape_shared::sync`, the same rules the server merges with.

use crate::connectivity::Connectivity;
use mixtape_shared::api::{Change, ChangesPage, PlayEvent, PlayEventKind, Track};
use mixtape_shared::search::SearchIndex;
use mixtape_shared::sync::{OpKind, PlaylistOp, PlaylistState, materialize};
use mixtape_shared::{DeviceId, EntryId, EventId, OpId, PlaylistId, TrackId};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("local database error: {0}")]
    Sqlite(rusqlite::Error),
    /// SQLite's SQLITE_FULL, or an I/O error on a disk with no room left (see [`crate::disk`]).
    #[error(
        "disk full: the local database cannot be written (nothing was changed); free some space \
         on the data disk and retry"
    )]
    DiskFull,
    #[error("local database holds a bad row: {0}")]
    Corrupt(String),
    #[error("no playlist named or with id {0:?} (try `mixtape playlists list`)")]
    NoSuchPlaylist(String),
    #[error("several playlists are named {0:?}: give its id instead")]
    AmbiguousPlaylist(String),
    #[error("no entry {0} in this playlist (see `mixtape playlists show NAME`)")]
    NoSuchEntry(String),
    #[error("no track {0} in the local catalog (run `mixtape sync` if it is new)")]
    NoSuchTrack(i64),
    #[error("the local database was made by a newer mixtape (schema {0}): upgrade mixtape")]
    TooNew(i64),
}

pub type MirrorResult<T> = Result<T, MirrorError>;

impl From<rusqlite::Error> for MirrorError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            MirrorError::DiskFull
        } else {
            MirrorError::Sqlite(e)
        }
    }
}

impl MirrorError {
    /// SQLITE_IOERR: what SQLite may say for ENOSPC (see [`crate::disk`]).
    pub fn is_io_error(&self) -> bool {
        matches!(self, MirrorError::Sqlite(e) if crate::disk::is_io_error(e))
    }
}

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    artists TEXT NOT NULL,
    album_id INTEGER,
    album TEXT,
    album_artist_id INTEGER,
    album_artist TEXT,
    disc_number INTEGER,
    track_number INTEGER,
    year INTEGER,
    duration_ms INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    cover_art TEXT,
    json TEXT NOT NULL
) STRICT;
CREATE INDEX tracks_by_album ON tracks (album_id, disc_number, track_number);
-- Covers the artist list (names and album counts) without reading the rows: the TUI's first
-- screen at 100k tracks.
CREATE INDEX tracks_by_album_artist ON tracks (album_artist_id, album_id, album_artist);
CREATE INDEX tracks_by_hash ON tracks (content_hash);
-- The Library view's first column, kept apart so the TUI's first screen reads 5k rows, not a
-- GROUP BY over every track. Rebuilt after a pull changed tracks (`artists_dirty` in meta).
CREATE TABLE album_artists (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    albums INTEGER NOT NULL
) STRICT;
CREATE TABLE playlists (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    public INTEGER NOT NULL,
    clock INTEGER NOT NULL,
    revision INTEGER NOT NULL
) STRICT;
CREATE TABLE playlist_entries (
    playlist_id TEXT NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    entry_id TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    PRIMARY KEY (playlist_id, position)
) STRICT;
CREATE TABLE offline_playlists (playlist_id TEXT PRIMARY KEY) STRICT;
-- Ops made here and not yet accepted by the server, in the order they were made.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id TEXT NOT NULL UNIQUE,
    playlist_id TEXT NOT NULL,
    body TEXT NOT NULL
) STRICT;
CREATE TABLE pending_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
) STRICT;
";

/// Lyrics fetched for tracks played or kept offline (`mirror/lyrics.rs`); `json` NULL: the
/// server has none. A row goes when its track changes (a rescan may have read new lyrics).
const LYRICS_SCHEMA: &str = "
CREATE TABLE lyrics (track_id INTEGER PRIMARY KEY, json TEXT) STRICT;
";

/// One entry of a playlist as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EntryView {
    pub entry_id: EntryId,
    pub track_id: TrackId,
}

/// A playlist as the user sees it: the last pulled state with pending local ops applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlaylistView {
    pub id: PlaylistId,
    pub name: String,
    pub owner: Option<String>,
    pub public: bool,
    /// True when the server does not have it yet (made offline, not yet synced).
    pub local_only: bool,
    /// Ops on this playlist waiting in the outbox.
    pub pending_ops: usize,
    /// Marked to be kept fully playable offline.
    pub offline: bool,
    pub entries: Vec<EntryView>,
}

/// What one pulled page changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub tracks: u64,
    pub tracks_deleted: u64,
    pub playlists: u64,
    pub playlists_deleted: u64,
}

pub struct Mirror {
    conn: Connection,
    device: DeviceId,
    /// Where the file is, for the connection that builds the search index ahead.
    path: std::path::PathBuf,
    /// Opened in exclusive locking mode (a full disk): no second connection can read.
    exclusive: bool,
    /// The search index over the mirrored tracks, with the `catalog_version` it was built at.
    search: std::sync::Arc<search::IndexSlot>,
}

/// Lowercased, without diacritics: how search text is compared.
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn corrupt(what: impl std::fmt::Display) -> MirrorError {
    MirrorError::Corrupt(what.to_string())
}

impl Mirror {
    /// Opens (creating if needed) the mirror at `path`.
    ///
    /// On a full disk the usual open fails: WAL mode needs a shared-memory file (`-shm`) that
    /// SQLite cannot size. Then the mirror is opened in exclusive locking mode, where SQLite keeps
    /// that index in memory and needs no room, so the commands that only read still work (and
    /// writes fail with [`MirrorError::DiskFull`]). The price: until this process ends, another
    /// mixtape process on this device waits for the mirror (up to the busy timeout).
    pub fn open(path: &Path) -> MirrorResult<Self> {
        match Self::open_with(path, false) {
            Err(e) if Self::full_disk(&e, path) => {
                tracing::warn!(
                    path = %path.display(),
                    "the disk is full: opening the mirror in exclusive mode, read-only in effect"
                );
                Self::open_with(path, true).map_err(|e| {
                    if Self::full_disk(&e, path) {
                        MirrorError::DiskFull
                    } else {
                        e
                    }
                })
            }
            other => other,
        }
    }

    fn full_disk(e: &MirrorError, path: &Path) -> bool {
        match e {
            MirrorError::DiskFull => true,
            MirrorError::Sqlite(e) => crate::disk::is_disk_full(e, path),
            _ => false,
        }
    }

    fn open_with(path: &Path, exclusive: bool) -> MirrorResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        if exclusive {
            // Before the first access, so SQLite never maps the shared-memory file.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > 5 {
            return Err(MirrorError::TooNew(version));
        }
        match version {
            0 => {
                conn.execute_batch(&format!(
                    "BEGIN; {SCHEMA} {LYRICS_SCHEMA} PRAGMA user_version = 5; COMMIT;"
                ))?;
            }
            1 | 2 => conn.execute_batch(
                "BEGIN;
                 DROP INDEX tracks_by_album_artist;
                 CREATE INDEX tracks_by_album_artist
                     ON tracks (album_artist_id, album_id, album_artist);
                 CREATE TABLE IF NOT EXISTS album_artists (
                     id INTEGER PRIMARY KEY,
                     name TEXT NOT NULL,
                     albums INTEGER NOT NULL
                 ) STRICT;
                 INSERT OR REPLACE INTO meta (key, value) VALUES ('artists_dirty', '1');
                 PRAGMA user_version = 3;
                 COMMIT;",
            )?,
            _ => {}
        }
        if (1..4).contains(&version) {
            conn.execute_batch(&format!(
                "BEGIN; {LYRICS_SCHEMA} PRAGMA user_version = 4; COMMIT;"
            ))?;
        }
        if (1..5).contains(&version) {
            // v5: search runs on the in-memory index over the tracks' columns (`mirror/search.rs`);
            // the FTS5 table every pull kept up to date was read by nothing.
            conn.execute_batch(
                "BEGIN; DROP TABLE IF EXISTS track_search; PRAGMA user_version = 5; COMMIT;",
            )?;
        }
        let device = match meta(&conn, "device_id")? {
            Some(id) => id.parse().map_err(|_| corrupt(format!("device id {id}")))?,
            None => {
                let id = DeviceId(uuid::Uuid::new_v4());
                set_meta(&conn, "device_id", &id.to_string())?;
                id
            }
        };
        Ok(Self {
            conn,
            device,
            path: path.to_path_buf(),
            exclusive,
            search: Default::default(),
        })
    }

    pub fn device_id(&self) -> DeviceId {
        self.device
    }

    /// The change-feed cursor this mirror has applied up to (opaque: the server's).
    pub fn since(&self) -> MirrorResult<String> {
        Ok(meta(&self.conn, "since")?.unwrap_or_else(|| "0".into()))
    }

    /// The feed revision of the last page applied (a number for people and scripts).
    pub fn revision(&self) -> MirrorResult<i64> {
        Ok(meta(&self.conn, "revision")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    pub fn connectivity(&self) -> MirrorResult<Connectivity> {
        Ok(meta(&self.conn, "connectivity")?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    pub fn set_connectivity(&self, c: &Connectivity) -> MirrorResult<()> {
        let json = serde_json::to_string(c).map_err(corrupt)?;
        set_meta(&self.conn, "connectivity", &json)
    }

    /// Applies one page of the change feed and records how far the mirror got, atomically: a
    /// crash between pages resumes from the last whole page.
    pub fn apply_changes(&mut self, page: &ChangesPage) -> MirrorResult<Applied> {
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        let mut clock = meta_u64(&tx, "clock")?;
        {
            let mut put_track = tx.prepare_cached(
                "INSERT OR REPLACE INTO tracks (id, title, artists, album_id, album, album_artist_id, album_artist,
                    disc_number, track_number, year, duration_ms, content_hash, size_bytes, cover_art, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            let mut drop_lyrics = tx.prepare_cached("DELETE FROM lyrics WHERE track_id = ?1")?;
            for change in &page.changes {
                match change {
                    Change::Track { track, .. } => {
                        let artists = artist_names(track);
                        put_track.execute(params![
                            track.id.0,
                            track.title,
                            artists,
                            track.album.as_ref().map(|a| a.id.0),
                            track.album.as_ref().map(|a| &a.title),
                            track.album_artist.as_ref().map(|a| a.id.0),
                            track.album_artist.as_ref().map(|a| &a.name),
                            track.disc_number,
                            track.track_number,
                            track.year,
                            track.duration_ms as i64,
                            track.content_hash,
                            track.size_bytes as i64,
                            track.cover_art,
                            serde_json::to_string(track).map_err(corrupt)?,
                        ])?;
                        drop_lyrics.execute([track.id.0])?;
                        applied.tracks += 1;
                    }
                    Change::TrackDeleted { id, .. } => {
                        tx.execute("DELETE FROM tracks WHERE id = ?1", [id.0])?;
                        drop_lyrics.execute([id.0])?;
                        applied.tracks_deleted += 1;
                    }
                    Change::Playlist { playlist, .. } => {
                        let p = &playlist.playlist;
                        let id = p.id.to_string();
                        tx.execute("DELETE FROM playlists WHERE id = ?1", [&id])?;
                        tx.execute(
                            "INSERT INTO playlists (id, owner, name, public, clock, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![id, p.owner, p.name, p.public, p.clock as i64, p.revision],
                        )?;
                        let mut put_entry = tx.prepare_cached(
                            "INSERT INTO playlist_entries (playlist_id, position, entry_id, track_id) VALUES (?1, ?2, ?3, ?4)",
                        )?;
                        for (i, e) in playlist.entries.iter().enumerate() {
                            put_entry.execute(params![
                                id,
                                i as i64,
                                e.id.to_string(),
                                e.track_id.0
                            ])?;
                        }
                        clock = clock.max(p.clock);
                        applied.playlists += 1;
                    }
                    Change::PlaylistDeleted { id, .. } => {
                        tx.execute("DELETE FROM playlists WHERE id = ?1", [id.to_string()])?;
                        tx.execute(
                            "DELETE FROM offline_playlists WHERE playlist_id = ?1",
                            [id.to_string()],
                        )?;
                        applied.playlists_deleted += 1;
                    }
                }
            }
        }
        set_meta(&tx, "clock", &clock.to_string())?;
        set_meta(&tx, "since", &page.next_since)?;
        set_meta(&tx, "revision", &page.revision.to_string())?;
        if applied.tracks + applied.tracks_deleted > 0 {
            set_meta(&tx, "artists_dirty", "1")?;
            // The search index of any process with this mirror open is stale from here.
            set_meta(&tx, "catalog_version", &page.next_since)?;
        }
        tx.commit()?;
        Ok(applied)
    }
}

fn meta(conn: &Connection, key: &str) -> MirrorResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_u64(conn: &Connection, key: &str) -> MirrorResult<u64> {
    Ok(meta(conn, key)?.and_then(|s| s.parse().ok()).unwrap_or(0))
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> MirrorResult<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([key, value])?;
    Ok(())
}

fn artist_names(track: &Track) -> String {
    track
        .artists
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

mod catalog;
mod lyrics;
mod media_urls;
mod outbox;
mod playlists;
mod search;

pub use lyrics::KnownLyrics;
pub use media_urls::MirrorMediaUrls;
pub use search::TrackSummary;

#[cfg(test)]
mod tests;
