//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl CatalogStore for PgStore {
    fn indexed_files(&self) -> StorageResult<HashMap<String, IndexedFile>> {
        todo!("postgres")
    }
    fn catalog_generation(&self) -> u64 {
        todo!("postgres")
    }
    fn list_tracks(&self, page: &PageRequest<TrackSort>) -> StorageResult<Page<Track>> {
        todo!("postgres")
    }
    fn track(&self, id: TrackId) -> StorageResult<Option<Track>> {
        todo!("postgres")
    }
    fn tracks_by_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<Track>> {
        todo!("postgres")
    }
    fn track_file(&self, id: TrackId) -> StorageResult<Option<TrackFile>> {
        todo!("postgres")
    }
    fn track_file_by_hash(&self, content_hash: &str) -> StorageResult<Option<TrackFile>> {
        todo!("postgres")
    }
    fn track_ids_by_paths(&self, paths: &[String]) -> StorageResult<HashMap<String, TrackId>> {
        todo!("postgres")
    }
    fn list_albums(&self, page: &PageRequest<AlbumSort>) -> StorageResult<Page<Album>> {
        todo!("postgres")
    }
    fn album(&self, id: mixtape_shared::AlbumId) -> StorageResult<Option<AlbumDetail>> {
        todo!("postgres")
    }
    fn list_artists(&self, page: &PageRequest<ArtistSort>) -> StorageResult<Page<Artist>> {
        todo!("postgres")
    }
    fn artist(&self, id: mixtape_shared::ArtistId) -> StorageResult<Option<ArtistDetail>> {
        todo!("postgres")
    }
    fn genres(&self) -> StorageResult<Vec<Genre>> {
        todo!("postgres")
    }
    fn search(&self, query: &str, limit: u32) -> StorageResult<SearchResults> {
        todo!("postgres")
    }
    fn art(&self, hash: &str) -> StorageResult<Option<StoredArt>> {
        todo!("postgres")
    }
    fn track_count(&self) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn apply_scan_batch(&self, writes: Vec<ScanWrite>) -> StorageResult<BatchOutcome> {
        todo!("postgres")
    }
    fn prune_orphans(&self) -> StorageResult<()> {
        todo!("postgres")
    }
    fn unavailable_track_count(&self) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn existing_track_ids(&self, ids: &[TrackId]) -> StorageResult<Vec<TrackId>> {
        todo!("postgres")
    }
    fn track_list(&self, query: &TrackQuery, offset: u32, count: u32) -> StorageResult<Vec<Track>> {
        todo!("postgres")
    }
    fn artist_page(&self, offset: u32, count: u32) -> StorageResult<Vec<Artist>> {
        todo!("postgres")
    }
    fn artist_by_name(&self, name: &str) -> StorageResult<Option<Artist>> {
        todo!("postgres")
    }
}
