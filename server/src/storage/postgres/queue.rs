//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl EventQueue for PgStore {
    fn publish(&self, message: &Message, now_ms: i64) -> StorageResult<i64> {
        todo!("postgres")
    }
    fn fetch(&self, max: usize, now_ms: i64) -> StorageResult<Vec<Delivery>> {
        todo!("postgres")
    }
    fn ack(&self, tags: &[i64]) -> StorageResult<()> {
        todo!("postgres")
    }
    fn retry(&self, tag: i64, error: &str, not_before_ms: i64) -> StorageResult<()> {
        todo!("postgres")
    }
    fn dead_letter(&self, tag: i64, error: &str, now_ms: i64) -> StorageResult<()> {
        todo!("postgres")
    }
    fn stats(&self) -> StorageResult<QueueStats> {
        todo!("postgres")
    }
    fn dead_letters(&self, limit: u32) -> StorageResult<Vec<DeadLetter>> {
        todo!("postgres")
    }
    fn requeue_dead_letters(&self, now_ms: i64) -> StorageResult<u64> {
        todo!("postgres")
    }
}
