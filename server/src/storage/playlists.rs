//! Playlists (an op log and the playlists it materializes) and the change feed that tells each
//! client what changed since its last pull. **Every change with a sequence at or below a feed
//! page's `revision` is visible when that page is read**, on every backend.

use super::StorageResult;
use mixtape_shared::api::{ChangesPage, PlaylistDetail};
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, UserId};

/// A playlist with its owner's id, for permission checks in the domain layer.
#[derive(Debug, Clone)]
pub struct OwnedPlaylist {
    pub owner_id: UserId,
    pub detail: PlaylistDetail,
}

pub trait PlaylistStore: Send + Sync + 'static {
    // Every change bumps the change feed.
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
    /// Which of these op ids, pushed by `user`, were applied already.
    fn known_playlist_ops(
        &self,
        user: UserId,
        ids: &[mixtape_shared::OpId],
    ) -> StorageResult<std::collections::HashSet<mixtape_shared::OpId>>;
    /// The change feed after `since`, an opaque cursor this backend issued (a page's
    /// `next_since`; `"0"` for everything). A cursor it cannot read is [`StorageError::BadCursor`].
    ///
    /// [`StorageError::BadCursor`]: super::StorageError::BadCursor
    fn changes(&self, user: UserId, since: &str, limit: u32) -> StorageResult<ChangesPage>;
}
