//! Request and response bodies of the HTTP API (`/api/v1`), as both sides see them.

use crate::ids::{
    AlbumId, ArtistId, DeviceId, EntryId, EventId, OpId, PlaylistId, TrackId, UserId,
};
use crate::sync::PlaylistOp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The JSON body of every error response: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code such as `not_found` or `bad_request`.
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

/// One page of a keyset-paginated list. Pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
pub struct PageQuery {
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1..=500 (default 50).
    pub limit: Option<u32>,
    /// Sort field; which ones are allowed depends on the list.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtistRef {
    pub id: ArtistId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Track {
    pub id: TrackId,
    pub title: String,
    pub artists: Vec<ArtistRef>,
    pub album: Option<AlbumRef>,
    pub album_artist: Option<ArtistRef>,
    pub track_number: Option<u32>,
    pub track_total: Option<u32>,
    pub disc_number: Option<u32>,
    pub year: Option<i32>,
    pub genres: Vec<String>,
    pub duration_ms: u64,
    /// Audio bitrate in kbit/s.
    pub bitrate_kbps: Option<u32>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u8>,
    /// `mp3`, `flac`, `ogg`, `opus`, `m4a` or `wav`.
    pub format: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// blake3 of the file's bytes, hex: names the file in caches and in media URLs.
    pub content_hash: String,
    pub replay_gain: ReplayGain,
    pub musicbrainz: MusicBrainzIds,
    /// Cover art id (a blake3 hex of the image), if the track has any art.
    pub cover_art: Option<String>,
    /// False while the track's file is missing and a scan holds back its removal (see
    /// `ScanStatus::held_removals`); its stream answers 410 `file_gone` until the file returns.
    #[serde(default = "available_default")]
    pub available: bool,
    /// A signed URL of the file, `/media/{hash}?e={expiry}&s={sig}` (relative to the API's
    /// address unless the server sets a public media base): no token needed, so an edge cache
    /// can serve it; valid for hours. When it answers 403 or 410, ask for a fresh one
    /// (`GET /api/v1/media-url/{hash}`). Absent from servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

/// Answers of servers that predate the `available` fields only had available items.
fn available_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ReplayGain {
    pub track_gain_db: Option<f32>,
    pub track_peak: Option<f32>,
    pub album_gain_db: Option<f32>,
    pub album_peak: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct MusicBrainzIds {
    pub track_id: Option<String>,
    pub recording_id: Option<String>,
    pub album_id: Option<String>,
    pub artist_id: Option<String>,
    pub album_artist_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlbumRef {
    pub id: AlbumId,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Album {
    pub id: AlbumId,
    pub title: String,
    pub album_artist: ArtistRef,
    pub year: Option<i32>,
    pub genres: Vec<String>,
    pub track_count: u32,
    pub duration_ms: u64,
    pub cover_art: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlbumDetail {
    #[serde(flatten)]
    pub album: Album,
    /// In disc, then track order.
    pub tracks: Vec<Track>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Artist {
    pub id: ArtistId,
    pub name: String,
    pub album_count: u32,
    pub track_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArtistDetail {
    #[serde(flatten)]
    pub artist: Artist,
    /// Albums where this artist is the album artist.
    pub albums: Vec<Album>,
    /// Tracks on other artists' albums that this artist appears on.
    pub appears_on: Vec<Track>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Genre {
    pub name: String,
    pub track_count: u32,
    pub album_count: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// The words to look for; prefixes and small typos match.
    pub q: String,
    /// Results per kind, 1..=100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub tracks: Vec<Track>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub is_admin: bool,
    /// The most any stream of theirs may take, in kb/s, set by an admin: a track above it is
    /// streamed as a rendition within it. Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bitrate_kbps: Option<u32>,
}

/// An admin's limit on a user's streams (`PUT /api/v1/users/{id}/max-bitrate`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaxBitrateRequest {
    /// kb/s; null or 0 lifts the limit.
    pub max_bitrate_kbps: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub password: String,
    /// Also revoke the user's API keys and Subsonic app password (login tokens always go).
    /// Default: true for an admin resetting another user's password, false for one's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_all: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    /// A name for the device, e.g. "phone".
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// Shown once; only its hash is stored. Send as `Authorization: Bearer KEY`.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Playlist {
    pub id: PlaylistId,
    pub owner: String,
    pub name: String,
    pub public: bool,
    pub entry_count: u32,
    pub duration_ms: u64,
    /// The change-feed sequence number of the playlist's last change.
    pub revision: i64,
    /// The largest logical clock among the playlist's ops: a device's next op on it must carry a
    /// larger one (see `sync`).
    pub clock: u64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaylistEntry {
    pub id: EntryId,
    pub track_id: TrackId,
    /// Sorts entries in playlist order (see `order_key`).
    pub order_key: String,
    /// False when the entry's track is unavailable or was removed from the library: the entry
    /// stays in the playlist and plays again when the file returns (it gets its id back).
    #[serde(default = "available_default")]
    pub available: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlaylistDetail {
    #[serde(flatten)]
    pub playlist: Playlist,
    /// In playlist order.
    pub entries: Vec<PlaylistEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatePlaylistRequest {
    /// A client-made id (UUIDv7) lets an offline client create a playlist idempotently.
    pub id: Option<PlaylistId>,
    pub name: String,
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpdatePlaylistRequest {
    pub name: Option<String>,
    pub public: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddEntriesRequest {
    pub track_ids: Vec<TrackId>,
    /// Zero-based position to insert at; appended when absent.
    pub position: Option<u32>,
    /// Client-made entry ids, one per track, for idempotent replays.
    pub entry_ids: Option<Vec<EntryId>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoveEntryRequest {
    /// Zero-based position the entry ends up at.
    pub position: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportPlaylistReport {
    pub playlist: PlaylistDetail,
    /// Lines of the m3u8 that matched no track in the library.
    pub unmatched: Vec<String>,
}

/// Change feed: what changed after a revision, compacted to the latest state of each item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// The opaque cursor to pass as `since` to continue (a decimal revision on SQLite, a
    /// vector of positions on a sharded cluster): pass it back as it came.
    pub next_since: String,
    /// True when more changes follow right away.
    pub has_more: bool,
    /// The newest revision visible to this user when the page was read.
    pub revision: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
pub struct ChangesQuery {
    /// An opaque cursor: a previous page's `next_since`, passed back as it came (absent or `0`
    /// for everything). Clients must not build one otherwise.
    pub since: Option<String>,
    /// Changes per page, 1..=1000 (default 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Track {
        rev: i64,
        track: Box<Track>,
    },
    TrackDeleted {
        rev: i64,
        id: TrackId,
    },
    Playlist {
        rev: i64,
        playlist: Box<PlaylistDetail>,
    },
    PlaylistDeleted {
        rev: i64,
        id: PlaylistId,
    },
}

impl Change {
    pub fn rev(&self) -> i64 {
        match self {
            Change::Track { rev, .. }
            | Change::TrackDeleted { rev, .. }
            | Change::Playlist { rev, .. }
            | Change::PlaylistDeleted { rev, .. } => *rev,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanStatus {
    /// `idle` or `running`.
    pub state: String,
    /// What the running (or last) scan is doing: `walking`, `reading`, `hashing`, `art`, `done`.
    pub phase: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub files_seen: u64,
    pub files_unchanged: u64,
    pub files_read: u64,
    pub files_hashed: u64,
    pub files_pending_hash: u64,
    pub tracks_added: u64,
    pub tracks_updated: u64,
    pub tracks_removed: u64,
    pub tracks_moved: u64,
    /// Held-back tracks whose files were found again (same ids).
    #[serde(default)]
    pub tracks_restored: u64,
    pub failures: Vec<ScanFailure>,
    /// Set while removals are held back: the tracks stay, unavailable, until their files return
    /// or an admin confirms the removal (`POST /api/v1/scan` with `confirm_removals`).
    #[serde(default)]
    pub held_removals: Option<HeldRemovals>,
    /// The node that runs scans (holds the scan lease), when one does.
    #[serde(default)]
    pub leader: Option<String>,
    /// The node that answered.
    #[serde(default)]
    pub node: String,
}

/// A mass removal the scanner refused to carry out on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeldRemovals {
    /// Tracks now unavailable.
    pub count: u64,
    /// Why the removal looked like a missing disk rather than deleted files.
    pub reason: String,
}

/// Body of `POST /api/v1/scan` (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StartScanRequest {
    /// Carry out removals even if they look like a missing disk (most of the library or a
    /// whole top-level folder gone).
    #[serde(default)]
    pub confirm_removals: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScanFailure {
    /// Path relative to the library root.
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// A batch of playlist ops from one device (`POST /api/v1/sync/ops`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushOpsRequest {
    /// At most 1000 ops; each op id is applied once, so a retried push is harmless.
    pub ops: Vec<PlaylistOp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushOpsResponse {
    /// Ops applied by this request.
    pub accepted: u32,
    /// Ops the server already had (a replay): nothing changed.
    pub duplicates: u32,
    /// Ops that can never apply (another user's playlist, unknown tracks, bad names): the client
    /// drops them from its outbox and tells the user.
    pub rejected: Vec<RejectedOp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectedOp {
    pub id: OpId,
    /// Stable code: `not_found`, `unknown_tracks`, `invalid` or `conflict` (an entry id the
    /// playlist already used).
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayEventKind {
    Start,
    Finish,
    Skip,
}

impl PlayEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Finish => "finish",
            Self::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start" => Some(Self::Start),
            "finish" => Some(Self::Finish),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

/// Something a listener did with a track, recorded by the client when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlayEvent {
    /// Client-made (UUIDv7): the server stores each id once.
    pub id: EventId,
    pub track_id: TrackId,
    pub kind: PlayEventKind,
    /// Where in the track it happened.
    pub position_ms: u64,
    /// When it happened, Unix milliseconds (the client's clock).
    pub at_ms: i64,
    pub device: Option<DeviceId>,
}

/// `POST /api/v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostEventsRequest {
    /// At most 1000 events.
    pub events: Vec<PlayEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PostEventsResponse {
    /// Events stored by this request.
    pub accepted: u32,
    /// Events the server already had.
    pub duplicates: u32,
}

/// `GET /api/v1/media-url/{hash}`: a freshly signed media URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaUrl {
    pub media_url: String,
}

/// `GET /api/v1/profiles`: one transcoding profile. `original` (the file as stored) has no
/// codec, container, bitrate or content type of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TranscodeProfile {
    /// Immutable: a changed encoder setting gets a new id.
    pub id: String,
    pub codec: Option<String>,
    pub container: Option<String>,
    pub bitrate_kbps: Option<u32>,
    pub content_type: Option<String>,
}

/// The exact size of a track in one profile, computed without encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RenditionSize {
    pub profile: String,
    pub size_bytes: u64,
    pub content_type: String,
    /// Whether the server holds it complete, so it is sent at disk speed.
    pub cached: bool,
    /// A signed URL of these bytes (`/media/{hash}/{profile}?e=…&s=…`), usable without a token.
    pub media_url: String,
}

/// `GET /api/v1/tracks/{id}/renditions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Renditions {
    pub track_id: TrackId,
    pub content_hash: String,
    pub duration_ms: u64,
    pub renditions: Vec<RenditionSize>,
}

/// `GET /api/v1/history`: the user's play events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlayHistory {
    /// How many events the server holds for this user.
    pub total: u64,
    pub events: Vec<PlayEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Events per page, 1..=1000 (default 100).
    pub limit: Option<u32>,
    /// Only events before this time (Unix ms), for paging back.
    pub before_ms: Option<i64>,
}

/// `GET /api/v1/tracks/{id}/lyrics`: a track's lyrics, from its tags or a sidecar `.lrc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lyrics {
    /// True when every line has a start time (LRC, ID3 SYLT); lines are then in time order.
    pub synced: bool,
    pub lines: Vec<LyricLine>,
    pub source: LyricsSource,
    /// The language, as the source states it (ISO 639-2 in ID3, `[la:]` in LRC), if any.
    pub lang: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LyricLine {
    /// Milliseconds from the start of the track; null in plain lyrics.
    pub start_ms: Option<u64>,
    pub text: String,
}

/// Where lyrics were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LyricsSource {
    /// A tag in the audio file (ID3 USLT/SYLT, Vorbis LYRICS/UNSYNCEDLYRICS, MP4 ©lyr).
    Embedded,
    /// A `.lrc` file beside the audio file, with the same name.
    Lrc,
}
