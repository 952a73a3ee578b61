//! What users do with the catalog: play events (and from them who is playing what now), stars,
//! ratings, the saved play queue, bookmarks, and the per-user album lists built from them.

use super::StorageResult;
use mixtape_shared::api::{Album, PlayEvent};
use mixtape_shared::{TrackId, UserId};
use std::collections::HashMap;

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

#[derive(Debug, Clone, PartialEq)]
pub struct PlayQueueRecord {
    pub track_ids: Vec<TrackId>,
    pub current: Option<TrackId>,
    pub position_ms: i64,
    pub changed_at: i64,
    pub changed_by: String,
}

/// A position a user keeps in a track (Subsonic's bookmarks: audiobooks, long mixes), one per
/// user and track.
#[derive(Debug, Clone, PartialEq)]
pub struct BookmarkRecord {
    pub track: TrackId,
    pub position_ms: i64,
    pub comment: String,
    /// Unix seconds.
    pub created_at: i64,
    pub changed_at: i64,
}

/// A user's latest play event, and when the server received it (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct LatestPlay {
    pub user: UserId,
    pub event: PlayEvent,
    pub received_at: i64,
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

pub trait ActivityStore: Send + Sync + 'static {
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
    /// Each user's latest play event among those received at or after `since` (Unix seconds):
    /// who is listening to what now (`getNowPlaying`), on every node alike.
    fn latest_plays(&self, since: i64) -> StorageResult<Vec<LatestPlay>>;
    /// The user's bookmarks, the most recently changed first.
    fn bookmarks(&self, user: UserId) -> StorageResult<Vec<BookmarkRecord>>;
    /// Creates the user's bookmark on `bookmark.track`, or moves it (keeping when it was made).
    fn save_bookmark(&self, user: UserId, bookmark: &BookmarkRecord) -> StorageResult<()>;
    /// Removes the user's bookmark on `track`; false when there was none.
    fn delete_bookmark(&self, user: UserId, track: TrackId) -> StorageResult<bool>;
    /// Albums of one of Subsonic's album lists, `offset`/`size` paged.
    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>>;
}
