//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl ActivityStore for PgStore {
    fn insert_play_events(
        &self,
        user: UserId,
        events: &[PlayEvent],
        now: i64,
    ) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn play_history(
        &self,
        user: UserId,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StorageResult<(u64, Vec<PlayEvent>)> {
        todo!("postgres")
    }
    fn set_starred(
        &self,
        user: UserId,
        items: &[ItemRef],
        starred: bool,
        now: i64,
    ) -> StorageResult<()> {
        todo!("postgres")
    }
    fn set_rating(&self, user: UserId, item: ItemRef, rating: u8, now: i64) -> StorageResult<()> {
        todo!("postgres")
    }
    fn starred_items(&self, user: UserId) -> StorageResult<Vec<(ItemRef, i64)>> {
        todo!("postgres")
    }
    fn annotations(
        &self,
        user: UserId,
        items: &[ItemRef],
    ) -> StorageResult<HashMap<ItemRef, Annotation>> {
        todo!("postgres")
    }
    fn play_queue(&self, user: UserId) -> StorageResult<Option<PlayQueueRecord>> {
        todo!("postgres")
    }
    fn save_play_queue(&self, user: UserId, queue: &PlayQueueRecord) -> StorageResult<()> {
        todo!("postgres")
    }
    fn album_list(
        &self,
        user: UserId,
        list: &AlbumList,
        offset: u32,
        size: u32,
    ) -> StorageResult<Vec<Album>> {
        todo!("postgres")
    }
}
