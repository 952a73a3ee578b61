//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl PlaylistStore for PgStore {
    fn playlists_visible_to(
        &self,
        user: UserId,
    ) -> StorageResult<Vec<mixtape_shared::api::Playlist>> {
        todo!("postgres")
    }
    fn playlist(&self, id: PlaylistId) -> StorageResult<Option<OwnedPlaylist>> {
        todo!("postgres")
    }
    fn playlist_owner(&self, id: PlaylistId) -> StorageResult<Option<UserId>> {
        todo!("postgres")
    }
    fn apply_playlist_ops(&self, user: UserId, ops: &[PlaylistOp], now: i64) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn playlist_state(
        &self,
        id: PlaylistId,
    ) -> StorageResult<Option<mixtape_shared::sync::PlaylistState>> {
        todo!("postgres")
    }
    fn known_playlist_ops(
        &self,
        ids: &[mixtape_shared::OpId],
    ) -> StorageResult<std::collections::HashSet<mixtape_shared::OpId>> {
        todo!("postgres")
    }
    fn changes(&self, user: UserId, since: i64, limit: u32) -> StorageResult<ChangesPage> {
        todo!("postgres")
    }
}
