//! SCAFFOLD: replaced by the real implementation.
#![allow(unused_variables, unused_imports)]
use super::PgStore;
use crate::storage::queue::*;
use crate::storage::*;
use mixtape_shared::api::*;
use mixtape_shared::sync::PlaylistOp;
use mixtape_shared::{PlaylistId, TrackId, UserId};
use std::collections::HashMap;

impl AccountStore for PgStore {
    fn user_count(&self) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StorageResult<User> {
        todo!("postgres")
    }
    fn user_by_name(&self, username: &str) -> StorageResult<Option<StoredUser>> {
        todo!("postgres")
    }
    fn user_by_id(&self, id: UserId) -> StorageResult<Option<StoredUser>> {
        todo!("postgres")
    }
    fn list_users(&self) -> StorageResult<Vec<User>> {
        todo!("postgres")
    }
    fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        todo!("postgres")
    }
    fn set_password(&self, id: UserId, password_hash: &str) -> StorageResult<bool> {
        todo!("postgres")
    }
    fn insert_token(
        &self,
        user: UserId,
        token_hash: &str,
        created_at: i64,
        expires_at: i64,
    ) -> StorageResult<()> {
        todo!("postgres")
    }
    fn token(&self, token_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        todo!("postgres")
    }
    fn revoke_token(&self, token_hash: &str) -> StorageResult<bool> {
        todo!("postgres")
    }
    fn revoke_user_tokens(&self, user: UserId) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        revoke_all: bool,
    ) -> StorageResult<bool> {
        todo!("postgres")
    }
    fn insert_api_key(
        &self,
        user: UserId,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey> {
        todo!("postgres")
    }
    fn api_key(&self, key_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        todo!("postgres")
    }
    fn list_api_keys(&self, user: UserId) -> StorageResult<Vec<ApiKey>> {
        todo!("postgres")
    }
    fn delete_api_key(&self, user: UserId, id: i64) -> StorageResult<bool> {
        todo!("postgres")
    }
    fn subsonic_app_password(&self, user: UserId) -> StorageResult<Option<SealedSecret>> {
        todo!("postgres")
    }
    fn sealed_app_password_count(&self) -> StorageResult<u64> {
        todo!("postgres")
    }
    fn set_subsonic_app_password(
        &self,
        user: UserId,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> StorageResult<()> {
        todo!("postgres")
    }
}
