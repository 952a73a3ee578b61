//! Storage: every query the server makes goes through the [`Store`] trait, so a PostgreSQL
//! backend (with read replicas) can replace the embedded SQLite one without touching handlers.
//!
//! The trait is synchronous: the HTTP layer calls it on tokio's blocking pool, the scanner from
//! its own threads. Domain rules (who may edit what, where an entry lands) live in the domain
//! modules; the store only persists and reads.

pub mod sqlite;

use mixtape_shared::api::{
    Album, AlbumDetail, ApiKey, Artist, ArtistDetail, ChangesPage, Genre, Page, PlayEvent,
    PlaylistDetail, SearchResults, Track, User,
};
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid cursor")]
    BadCursor,
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// The database could not write because its disk (or quota) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

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

/// A stored login token or API key, resolved.
#[derive(Debug, Clone)]
pub struct Credential {
    pub user: User,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
}

/// A playlist with its owner's id, for permission checks in the domain layer.
#[derive(Debug, Clone)]
pub struct OwnedPlaylist {
    pub owner_id: UserId,
    pub detail: PlaylistDetail,
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

pub trait Store: Send + Sync + 'static {
    /// Changes (grows) whenever the catalog (tracks, albums, artists, genres, art) may have
    /// changed, read after the change is committed; equal values mean equal catalog answers.
    /// SQLite keeps it in the process, which owns the only writer. A store shared by several
    /// instances must derive it from the database (its change sequence), so that a scan on
    /// one instance invalidates the pages every instance keeps.
    fn catalog_generation(&self) -> u64;

    // Catalog reads.
    fn list_tracks(&self, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>>;
    fn track(&self, id: TrackId) -> StorageResult<Option<Track>>;
    fn tracks_by_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<Track>>;
    fn track_file(&self, id: TrackId) -> StorageResult<Option<TrackFile>>;
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

    // Users and credentials.
    fn user_count(&self) -> StorageResult<u64>;
    fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StorageResult<User>;
    fn user_by_name(&self, username: &str) -> StorageResult<Option<StoredUser>>;
    fn user_by_id(&self, id: UserId) -> StorageResult<Option<StoredUser>>;
    fn list_users(&self) -> StorageResult<Vec<User>>;
    fn delete_user(&self, id: UserId) -> StorageResult<bool>;
    fn set_password(&self, id: UserId, password_hash: &str) -> StorageResult<bool>;
    fn insert_token(
        &self,
        user: UserId,
        token_hash: &str,
        created_at: i64,
        expires_at: i64,
    ) -> StorageResult<()>;
    fn token(&self, token_hash: &str, now: i64) -> StorageResult<Option<Credential>>;
    fn revoke_token(&self, token_hash: &str) -> StorageResult<bool>;
    fn revoke_user_tokens(&self, user: UserId) -> StorageResult<u64>;
    /// Sets a password hash and revokes the user's login tokens, and with `revoke_all` also
    /// the API keys and the Subsonic app password, in one transaction. False: no such user.
    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        revoke_all: bool,
    ) -> StorageResult<bool>;
    fn insert_api_key(
        &self,
        user: UserId,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey>;
    fn api_key(&self, key_hash: &str, now: i64) -> StorageResult<Option<Credential>>;
    fn list_api_keys(&self, user: UserId) -> StorageResult<Vec<ApiKey>>;
    fn delete_api_key(&self, user: UserId, id: i64) -> StorageResult<bool>;

    // Playlists. Every change bumps the change feed.
    fn playlists_visible_to(
        &self,
        user: UserId,
    ) -> StorageResult<Vec<mixtape_shared::api::Playlist>>;
    fn playlist(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>>;
    /// The owner of a playlist id any accepted op named, deleted playlists included.
    fn playlist_owner(&self, id: PlaylistId) -> StorageResult<Option<UserId>>;
    /// Records each op not seen before (by op id) and rewrites the playlists they touch as
    /// `mixtape_shared::sync::materialize` makes them, in one transaction (so a batch of ops is
    /// one write and one materialize). Returns how many ops were new.
    fn apply_playlist_ops(&self, user: UserId, ops: &[PlaylistOp], now: i64) -> StorageResult<u64>;
    /// A playlist as its ops make it, tombstones included (for checks on entry ids).
    fn playlist_state(
        &self,
        id: PlaylistId,
    ) -> StorageResult<Option<mixtape_shared::sync::PlaylistState>>;
    /// Which of these op ids were applied already.
    fn known_playlist_ops(
        &self,
        ids: &[mixtape_shared::OpId],
    ) -> StorageResult<std::collections::HashSet<mixtape_shared::OpId>>;
    fn existing_track_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<TrackId>>;

    // Change feed.
    fn changes(&self, user: UserId, since: i64, limit: u32) -> StorageResult<ChangesPage>;

    // Play events.
    /// Stores each event not seen before (by event id); returns how many were new.
    fn insert_play_events(
        &self,
        user: UserId,
        events: &[PlayEvent],
        now: i64,
    ) -> StorageResult<u64>;
    /// The user's events, newest first, before `before_ms` when given; and the user's total.
    fn play_history(
        &self,
        user: UserId,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StorageResult<(u64, Vec<PlayEvent>)>;

    // Subsonic: per-user state of the OpenSubsonic API (`crate::subsonic`), and the catalog
    // reads it pages by offset.
    /// The user's sealed Subsonic app password, if set.
    fn subsonic_app_password(&self, user: UserId) -> StorageResult<Option<SealedSecret>>;
    /// How many app passwords are sealed (with `subsonic.key`).
    fn sealed_app_password_count(&self) -> StorageResult<u64>;
    /// Sets (Some) or clears (None) the user's sealed Subsonic app password.
    fn set_subsonic_app_password(
        &self,
        user: UserId,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> StorageResult<()>;
    fn set_starred(
        &self,
        user: UserId,
        items: &[ItemRef],
        starred: bool,
        now: i64,
    ) -> StorageResult<()>;
    /// Rating 1-5; 0 removes the rating.
    fn set_rating(&self, user: UserId, item: ItemRef, rating: u8, now: i64) -> StorageResult<()>;
    /// Everything the user starred, most recent first, with when.
    fn starred_items(&self, user: UserId) -> StorageResult<Vec<(ItemRef, i64)>>;
    /// The user's stars, ratings and plays of these items, and when each was added.
    fn annotations(
        &self,
        user: UserId,
        items: &[ItemRef],
    ) -> StorageResult<HashMap<ItemRef, Annotation>>;
    fn play_queue(&self, user: UserId) -> StorageResult<Option<PlayQueueRecord>>;
    /// Replaces the user's saved play queue; an empty one clears it.
    fn save_play_queue(&self, user: UserId, queue: &PlayQueueRecord) -> StorageResult<()>;
    /// Albums of one of Subsonic's album lists, `offset`/`size` paged.
    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>>;
    /// Tracks matching `query`, `offset`/`count` paged.
    fn track_list(&self, query: &TrackQuery, offset: u32, count: u32) -> StorageResult<Vec<Track>>;
    /// Every artist, by name (offset/count paged), for indexes and an empty search.
    fn artist_page(&self, offset: u32, count: u32) -> StorageResult<Vec<Artist>>;
    /// The artist whose folded name (`catalog::fold`) is this.
    fn artist_by_name(&self, name: &str) -> StorageResult<Option<Artist>>;

    // Recommendations and queue (`crate::recs`). Play events and playlist additions put their
    // queue message in the transaction that stores them; the embedded queue itself is
    // `sqlite::SqliteStore`'s `recs::queue::EventQueue` impl.
    /// Takes in a batch of queued events `(key, enqueued at ms, event)` in one transaction,
    /// skipping keys taken in before; returns how many were new.
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recs::model::Event)],
        params: &crate::recs::model::Params,
        now_ms: i64,
    ) -> StorageResult<u64>;
    /// Forgets the recommender's state and takes in the whole event history again.
    fn recs_rebuild(&self, params: &crate::recs::model::Params, now_ms: i64) -> StorageResult<u64>;
    /// Each item's weight and neighbours, for scoring.
    fn recs_rows(&self, items: &[i64]) -> StorageResult<crate::recs::model::Rows>;
    /// The heaviest items and their weights.
    fn recs_popular(&self, limit: u32) -> StorageResult<Vec<(i64, i64)>>;
    fn recs_content_info(&self, ids: &[i64])
    -> StorageResult<Vec<crate::recs::model::ContentInfo>>;
    /// Tracks sharing an artist, album artist or genre with `seed` (up to `per_kind` of each).
    fn recs_content_candidates(
        &self,
        seed: &crate::recs::model::ContentInfo,
        per_kind: u32,
    ) -> StorageResult<Vec<crate::recs::model::ContentInfo>>;
    fn recs_artist_tracks(&self, artist: i64, limit: u32) -> StorageResult<Vec<i64>>;
    /// Counts and a digest of the recommender's state.
    fn recs_summary(&self) -> StorageResult<crate::recs::RecsSummary>;
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

// Subsonic types.

/// One catalog item a user can star or rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemRef {
    Track(TrackId),
    Album(mixtape_shared::AlbumId),
    Artist(mixtape_shared::ArtistId),
}

/// What a user did with an item, and when the item was added (tracks and albums).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    pub starred_at: Option<i64>,
    pub rating: Option<u8>,
    /// Finished plays (`play_events` of kind `finish`), summed over an album's tracks.
    pub play_count: u64,
    /// Unix ms of the user's last play event.
    pub last_played_ms: Option<i64>,
    pub added_at: Option<i64>,
}

/// A secret sealed with the server's key (see `subsonic::auth`).
#[derive(Debug, Clone, PartialEq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlayQueueRecord {
    pub track_ids: Vec<TrackId>,
    pub current: Option<TrackId>,
    pub position_ms: i64,
    pub changed_at: i64,
    pub changed_by: String,
}

/// Subsonic's album list types (`getAlbumList2?type=`).
#[derive(Debug, Clone, PartialEq)]
pub enum AlbumList {
    Random,
    Newest,
    /// Recently played by the user.
    Recent,
    /// Most played by the user.
    Frequent,
    /// Best rated by the user.
    Highest,
    Starred,
    ByName,
    ByArtist,
    /// Years from..=to; descending when from > to.
    ByYear {
        from: i32,
        to: i32,
    },
    ByGenre(String),
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
