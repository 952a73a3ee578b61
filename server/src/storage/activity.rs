//! What users do with the catalog: play events, stars, ratings, the saved play queue, and the
//! per-user album lists built from them.

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
    /// Albums of one of Subsonic's album lists, `offset`/`size` paged.
    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>>;
}
