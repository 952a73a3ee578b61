//! The catalog domain: what the scanner writes (tracks, albums, artists, genres, art) and every
//! read of it. Catalog reads may be answered by a read replica; nothing here is per user.

use super::{StorageError, StorageResult};
use mixtape_shared::TrackId;
use mixtape_shared::api::{
    Album, AlbumDetail, Artist, ArtistDetail, Genre, Page, SearchResults, Track,
};
use std::collections::HashMap;

/// Which field a list is sorted by, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackSort {
    Title,
    Artist,
    Album,
    Year,
    Added,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlbumSort {
    Title,
    Artist,
    Year,
    Added,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtistSort {
    Name,
    Added,
}

/// A keyset page request: `after` is the decoded cursor of the previous page.
#[derive(Debug, Clone)]
pub struct PageRequest<S> {
    pub sort: S,
    pub order: SortOrder,
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// Where the previous page ended: the sort value and id of its last row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub value: CursorValue,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// What the scanner knows of a file already indexed, to decide whether to re-read it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFile {
    pub track_id: TrackId,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: String,
    /// False while a scan holds back its removal (the file was missing).
    pub available: bool,
}

/// Everything the scanner read from one audio file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackRecord {
    /// Relative to the library root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: String,
    pub format: String,
    pub content_type: String,
    pub title: String,
    pub artists: Vec<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track_number: Option<u32>,
    pub track_total: Option<u32>,
    pub disc_number: Option<u32>,
    pub year: Option<i32>,
    pub genres: Vec<String>,
    pub duration_ms: u64,
    pub bitrate_kbps: Option<u32>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    pub replay_gain: mixtape_shared::api::ReplayGain,
    pub musicbrainz: mixtape_shared::api::MusicBrainzIds,
    pub cover_art: Option<ArtRecord>,
    /// From the tags or the sidecar `.lrc` (which wins).
    pub lyrics: Option<mixtape_shared::api::Lyrics>,
}

/// Where a piece of cover art lives: it is read from there again when served.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtRecord {
    /// blake3 of the image bytes, hex.
    pub hash: String,
    pub mime: String,
    pub source: ArtSource,
}

/// A piece of cover art as stored: one image can sit in several places.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredArt {
    pub hash: String,
    pub mime: String,
    /// Most recently seen first.
    pub sources: Vec<ArtSource>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArtSource {
    /// An image file in the library (folder art), relative path.
    File(String),
    /// The front cover embedded in an audio file, relative path.
    Embedded(String),
}

/// One write of a scan batch; a batch is applied in one short transaction.
#[derive(Debug, Clone)]
pub enum ScanWrite {
    /// A new or changed file at `record.path`.
    Upsert(TrackRecord),
    /// The file that was at `from` now is `record.path` (same content): the track keeps its id.
    Move { from: String, record: TrackRecord },
    /// The file is gone.
    Remove { path: String },
    /// The file is missing, but its removal is held back: the track stays, unavailable.
    Hold { path: String },
    /// A held-back track's file is there again, unchanged: the track is available again.
    Restore { path: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub added: u64,
    pub updated: u64,
    pub moved: u64,
    pub removed: u64,
    pub held: u64,
    pub restored: u64,
}

/// What a file behind a track id is, for streaming.
#[derive(Debug, Clone)]
pub struct TrackFile {
    pub path: String,
    pub size: u64,
    pub content_hash: String,
    pub content_type: String,
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrackQuery {
    /// Every track, by id.
    All,
    /// Tracks with this genre (case-insensitive), by album and track number.
    Genre(String),
    /// A random selection, optionally within a genre and a year range.
    Random {
        genre: Option<String>,
        from_year: Option<i32>,
        to_year: Option<i32>,
    },
    /// Tracks by this artist (as track artist or album artist) in random order, except some.
    ByArtistShuffled {
        artist: mixtape_shared::ArtistId,
        except: Vec<TrackId>,
    },
    /// Tracks with any of these genres in random order, except some.
    ByGenresShuffled {
        genres: Vec<String>,
        except: Vec<TrackId>,
    },
    /// The artist's tracks, most finished plays (by anyone) first, then album order.
    TopByArtist(mixtape_shared::ArtistId),
}

impl Cursor {
    /// An opaque, URL-safe form for `next_cursor`.
    pub fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(self).expect("cursor serializes");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> StorageResult<Self> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| StorageError::BadCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StorageError::BadCursor)
    }
}

pub trait CatalogStore: Send + Sync + 'static {
    /// Changes (grows) whenever the catalog (tracks, albums, artists, genres, art) may have
    /// changed, read after the change is committed; equal values mean equal catalog answers.
    /// SQLite keeps it in the process, which owns the only writer. A store shared by several
    /// instances must derive it from the database (its change sequence), so that a scan on
    /// one instance invalidates the pages every instance keeps.
    fn catalog_generation(&self) -> u64;

    fn list_tracks(&self, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>>;
    fn track(&self, id: TrackId) -> StorageResult<Option<Track>>;
    fn tracks_by_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<Track>>;
    fn track_file(&self, id: TrackId) -> StorageResult<Option<TrackFile>>;
    /// The track's lyrics, as the last scan read them.
    fn track_lyrics(&self, id: TrackId) -> StorageResult<Option<mixtape_shared::api::Lyrics>>;
    fn track_file_by_hash(&self, content_hash: &str) -> StorageResult<Option<TrackFile>>;
    /// Tracks whose relative path or file name matches, for m3u8 import.
    fn track_ids_by_paths(&self, paths: &[String]) -> StorageResult<HashMap<String, TrackId>>;
    fn list_albums(&self, page: &PageRequest<AlbumSort>) -> StorageResult<Page<Album>>;
    fn album(&self, id: mixtape_shared::AlbumId) -> StorageResult<Option<AlbumDetail>>;
    fn list_artists(&self, page: &PageRequest<ArtistSort>) -> StorageResult<Page<Artist>>;
    fn artist(&self, id: mixtape_shared::ArtistId) -> StorageResult<Option<ArtistDetail>>;
    fn genres(&self) -> StorageResult<Vec<Genre>>;
    fn search(&self, query: &str, limit: u32) -> StorageResult<SearchResults>;
    /// The image and every place it was found, most recently seen first.
    fn art(&self, hash: &str) -> StorageResult<Option<StoredArt>>;
    fn track_count(&self) -> StorageResult<u64>;
    /// Connection pool size and idle connections, for `/metrics`.
    fn pool_stats(&self) -> Option<(u32, u32)> {
        None
    }

    // Scanner.
    fn indexed_files(&self) -> StorageResult<HashMap<String, IndexedFile>>;
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome>;
    /// Drops albums, artists, genres and art that no track refers to any more.
    fn prune_orphans(&self) -> StorageResult<()>;
    /// Tracks whose removal a scan holds back (see `ScanWrite::Hold`).
    fn unavailable_track_count(&self) -> StorageResult<u64>;

    fn existing_track_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<TrackId>>;

    // The offset-paged reads of the OpenSubsonic API.
    /// Tracks matching `query`, `offset`/`count` paged.
    fn track_list(&self, query: &TrackQuery, offset: u32, count: u32) -> StorageResult<Vec<Track>>;
    /// Every artist, by name (offset/count paged), for indexes and an empty search.
    fn artist_page(&self, offset: u32, count: u32) -> StorageResult<Vec<Artist>>;
    /// The artist whose folded name (`catalog::fold`) is this.
    fn artist_by_name(&self, name: &str) -> StorageResult<Option<Artist>>;
}

/// A stored lyrics row (JSON of the wire form) read back; a row that does not parse is corrupt.
pub fn lyrics_from_json(id: TrackId, json: &str) -> StorageResult<mixtape_shared::api::Lyrics> {
    serde_json::from_str(json)
        .map_err(|e| StorageError::Corrupt(format!("lyrics of track {}: {e}", id.0)))
}

/// The stored form of a track's lyrics.
pub fn lyrics_to_json(lyrics: &mixtape_shared::api::Lyrics) -> String {
    // Plain data with string keys: serializing it cannot fail.
    serde_json::to_string(lyrics).unwrap_or_default()
}
