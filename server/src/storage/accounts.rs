//! Accounts and credentials: users, login tokens, API keys and the sealed Subsonic app
//! passwords. A scaled-out backend answers these from the primary: a token issued a moment ago
//! on another node must already work.

use super::StorageResult;
use mixtape_shared::UserId;
use mixtape_shared::api::{ApiKey, User};

/// A stored login token or API key, resolved.
#[derive(Debug, Clone)]
pub struct Credential {
    pub user: User,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    pub password_hash: String,
}

/// A secret sealed with the server's key (see `subsonic::auth`).
#[derive(Debug, Clone, PartialEq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

pub trait AccountStore: Send + Sync + 'static {
    fn user_count(&self) -> StorageResult<u64>;
    fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StorageResult<User>;
    fn user_by_name(&self, username: &str) -> StorageResult<Option<StoredUser>>;
    fn user_by_id(&self, id: UserId) -> StorageResult<Option<StoredUser>>;
    fn list_users(&self) -> StorageResult<Vec<User>>;
    fn delete_user(&self, id: UserId) -> StorageResult<bool>;
    fn set_password(&self, id: UserId, password_hash: &str) -> StorageResult<bool>;
    /// Sets (Some, kb/s above 0) or lifts (None) the user's stream limit. False: no such user.
    fn set_max_bitrate(&self, id: UserId, kbps: Option<u32>) -> StorageResult<bool>;
    fn insert_token(
        &self,
        user: UserId,
        token_hash: &str,
        created_at: i64,
        expires_at: i64,
    ) -> StorageResult<()>;
    fn token(&self, token_hash: &str, now: i64) -> StorageResult<Option<Credential>>;
    fn revoke_token(&self, token_hash: &str) -> StorageResult<bool>;
    fn revoke_user_tokens(&self, user: UserId) -> StorageResult<u64>;
    /// Sets a password hash and revokes the user's login tokens, and with `revoke_all` also
    /// the API keys and the Subsonic app password, in one transaction. False: no such user.
    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        revoke_all: bool,
    ) -> StorageResult<bool>;
    fn insert_api_key(
        &self,
        user: UserId,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey>;
    fn api_key(&self, key_hash: &str, now: i64) -> StorageResult<Option<Credential>>;
    fn list_api_keys(&self, user: UserId) -> StorageResult<Vec<ApiKey>>;
    fn delete_api_key(&self, user: UserId, id: i64) -> StorageResult<bool>;

    // The OpenSubsonic API's app password (`crate::subsonic::auth`).
    /// The user's sealed Subsonic app password, if set.
    fn subsonic_app_password(&self, user: UserId) -> StorageResult<Option<SealedSecret>>;
    /// How many app passwords are sealed (with `subsonic.key`).
    fn sealed_app_password_count(&self) -> StorageResult<u64>;
    /// Sets (Some) or clears (None) the user's sealed Subsonic app password.
    fn set_subsonic_app_password(
        &self,
        user: UserId,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> StorageResult<()>;
}
