//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl RecsStore for PgStore {
    fn recs_apply(
        &self,
        batch: &[(String, i64, crate::recommender::Event)],
        params: &crate::recommender::Params,
        now_ms: i64,
    ) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn recs_rebuild(&self, params: &crate::recommender::Params, now_ms: i64) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn recs_rows(&self, items: &[i64]) -> StorageResult<crate::recommender::Rows> {
        todo!("postgres")
    }
    fn recs_popular(&self, limit: u32) -> StorageResult<Vec<(i64, i64)>> {
        todo!("postgres")
    }
    fn recs_content_info(
        &self,
        ids: &[i64],
    ) -> StorageResult<Vec<crate::recommender::ContentInfo>> {
        todo!("postgres")
    }
    fn recs_content_candidates(
        &self,
        seed: &crate::recommender::ContentInfo,
        per_kind: u32,
    ) -> StorageResult<Vec<crate::recommender::ContentInfo>> {
        todo!("postgres")
    }
    fn recs_artist_tracks(&self, artist: i64, limit: u32) -> StorageResult<Vec<i64>> {
        todo!("postgres")
    }
    fn recs_summary(&self) -> StorageResult<RecsSummary> {
        todo!("postgres")
    }
}
