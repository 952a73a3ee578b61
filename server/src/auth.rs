//! Users and credentials: argon2id password hashes (`password`: a bounded number at once),
//! random bearer tokens and per-device API keys stored only as blake3 hashes, and login
//! throttling without lockouts (`throttle`), keyed by the client address (`address`).

pub mod address;
pub mod password;
pub mod throttle;

use crate::shared_state::throttle::{RedisAttempt, RedisThrottle};
use crate::storage::{Credential, StorageError, Store, StoredUser};
use address::TrustedProxies;
use base64::Engine;
use mixtape_shared::UserId;
use mixtape_shared::api::{LoginResponse, User};
use password::{HashError, PasswordHashing, Slot};
use rand::RngCore;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use throttle::{Mechanism, Throttle};

pub const ADMIN_USERNAME: &str = "admin";
const MIN_PASSWORD_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("missing or invalid credentials")]
    Unauthenticated,
    #[error("too many failed logins; try again in {0} s")]
    Throttled(u64),
    #[error("this needs an administrator")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Every password-hashing slot stayed taken for the queue timeout.
    #[error("the server is busy checking passwords; try again in {0} s")]
    Busy(u64),
    /// `logout` with an API key: keys are revoked by id, so a script does not lose its key.
    #[error("this is an API key, not a login token: revoke it with DELETE /api/v1/api-keys/{{id}}")]
    NotASession,
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => Self::Busy(password::BUSY_RETRY_SECS),
            HashError::Failed(m) => Self::Hashing(m),
        }
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random secret for tokens and API keys: 256 bits, URL-safe.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Secrets are long and random, so a fast hash is enough to keep a leaked database useless.
pub fn secret_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

pub fn validate_new_password(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(format!(
            "password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

pub fn validate_username(name: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(
            "username must be 1-64 letters, digits or _-.@".into(),
        ))
    }
}

/// What a credential check sees: the stored user (None when the name is unknown) and, for
/// mechanisms that hash, a hashing slot. Runs on a blocking thread.
pub type Verify = Box<dyn FnOnce(&Auth, Option<&StoredUser>, Option<&mut Slot>) -> bool + Send>;

pub struct Auth {
    store: Arc<dyn Store>,
    token_ttl: Duration,
    /// This node's counters: the only ones without Redis, the fallback with it.
    throttle: Arc<Throttle>,
    /// Counters every node shares, when the server runs with `--redis`.
    shared: Option<RedisThrottle>,
    hashing: PasswordHashing,
    proxies: TrustedProxies,
    /// Verified against when the user does not exist, so timing does not reveal user names.
    dummy_hash: String,
}

impl Auth {
    pub fn new(
        store: Arc<dyn Store>,
        token_ttl: Duration,
        proxies: TrustedProxies,
    ) -> Result<Self, AuthError> {
        let hashing = PasswordHashing::new(password::default_slots());
        let dummy_hash = hashing.slot_blocking().hash("not a real password")?;
        Ok(Self {
            store,
            token_ttl,
            throttle: Arc::default(),
            shared: None,
            hashing,
            proxies,
            dummy_hash,
        })
    }

    /// Keeps the login throttle's counters in Redis, shared by every node.
    pub fn with_shared_throttle(mut self, shared: RedisThrottle) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Reserves one evaluation: in Redis when it is configured and answers, else here.
    async fn begin_attempt(
        &self,
        username: &str,
        address: &str,
        mechanism: Mechanism,
    ) -> Result<AnyAttempt, u64> {
        if let Some(shared) = &self.shared {
            match shared.begin(username, address, mechanism).await {
                Ok(Ok(attempt)) => return Ok(AnyAttempt::Shared(attempt)),
                Ok(Err(wait)) => return Err(wait),
                Err(e) => {
                    // The outage itself is logged once by `SharedState`.
                    tracing::debug!(error = %e, "login throttle falls back to this node's counters");
                    metrics::counter!("mixtape_redis_fallback_total").increment(1);
                }
            }
        }
        self.throttle
            .begin(username, address, mechanism)
            .map(AnyAttempt::Local)
    }

    /// The address to throttle a request by (see `address`).
    pub fn client_address(&self, peer: IpAddr, forwarded_for: &[&str]) -> String {
        address::throttle_key(self.proxies.client(peer, forwarded_for))
    }

    /// Creates the `admin` user on first start. Returns the password when it was generated.
    /// Blocking.
    pub fn bootstrap_admin(&self, password: Option<&str>) -> Result<Option<String>, AuthError> {
        if self.store.user_count()? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => {
                validate_new_password(p)?;
                (p.to_string(), false)
            }
            None => (new_secret("")[..20].to_string(), true),
        };
        let hash = self.hashing.slot_blocking().hash(&password)?;
        match self.store.create_user(ADMIN_USERNAME, &hash, true) {
            Ok(_) => Ok(generated.then_some(password)),
            // Several nodes starting at once on an empty database: one of them wins.
            Err(StorageError::Conflict(_)) => {
                tracing::info!("another node created the `admin` user first");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a password and issues a token.
    pub async fn login(
        self: &Arc<Self>,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<LoginResponse, AuthError> {
        let password = password.to_string();
        let user = self
            .check_credential(
                username,
                address,
                Mechanism::Login,
                Box::new(move |auth, stored, slot| {
                    let Some(slot) = slot else { return false };
                    match stored {
                        Some(s) => slot.verify(&password, &s.password_hash),
                        None => auth.verify_dummy(slot, &password),
                    }
                }),
            )
            .await?;
        let this = self.clone();
        on_blocking(move || {
            let token = new_secret("mt_");
            let now = unix_now();
            let expires_at = now + this.token_ttl.as_secs() as i64;
            this.store
                .insert_token(user.id, &secret_hash(&token), now, expires_at)?;
            Ok(LoginResponse {
                token,
                expires_at,
                user,
            })
        })
        .await
    }

    /// Checks one credential (a login, or the Subsonic API's password or token) under the
    /// throttle: reserves the attempt before anything is evaluated, waits for a hashing slot
    /// when `mechanism` hashes, runs `verify` on a blocking thread, and settles the attempt.
    /// A failure is answered after the throttle's slowdown.
    pub async fn check_credential(
        self: &Arc<Self>,
        username: &str,
        address: &str,
        mechanism: Mechanism,
        verify: Verify,
    ) -> Result<User, AuthError> {
        let attempt = self
            .begin_attempt(username, address, mechanism)
            .await
            .map_err(AuthError::Throttled)?;
        let slot = match mechanism {
            Mechanism::Login | Mechanism::SubsonicPassword => Some(self.hashing.slot().await?),
            Mechanism::SubsonicToken => None,
        };
        let this = self.clone();
        let username = username.to_string();
        let address = address.to_string();
        // Settled on the blocking thread, so a client that hangs up still has its failure counted.
        let outcome = on_blocking(move || {
            let mut slot = slot;
            let stored = this.store.user_by_name(&username)?;
            let matched = verify(&this, stored.as_ref(), slot.as_mut());
            drop(slot);
            Ok(match stored.filter(|_| matched) {
                Some(s) => {
                    attempt.succeeded();
                    Ok(s.user)
                }
                None => Err(attempt.failed(&this.throttle, &username, &address, mechanism)),
            })
        })
        .await?;
        match outcome {
            Ok(user) => Ok(user),
            Err(slowdown) => {
                tokio::time::sleep(slowdown).await;
                Err(AuthError::BadCredentials)
            }
        }
    }

    /// Verifies against a throwaway hash, so an unknown user costs the same time as a known
    /// one. Always false.
    pub fn verify_dummy(&self, slot: &mut Slot, password: &str) -> bool {
        slot.verify(password, &self.dummy_hash);
        false
    }

    /// Resolves an API key only (not a login token).
    pub fn authenticate_api_key(&self, secret: &str) -> Result<Credential, AuthError> {
        self.store
            .api_key(&secret_hash(secret), unix_now())?
            .ok_or(AuthError::Unauthenticated)
    }

    /// Resolves a bearer secret: a login token, else an API key.
    pub fn authenticate(&self, secret: &str) -> Result<Credential, AuthError> {
        let hash = secret_hash(secret);
        let now = unix_now();
        if let Some(c) = self.store.token(&hash, now)? {
            return Ok(c);
        }
        self.store
            .api_key(&hash, now)?
            .ok_or(AuthError::Unauthenticated)
    }

    /// Revokes a login token. An API key is refused (`NotASession`), not revoked.
    pub fn logout(&self, secret: &str) -> Result<(), AuthError> {
        let hash = secret_hash(secret);
        if self.store.revoke_token(&hash)? {
            return Ok(());
        }
        match self.store.api_key(&hash, unix_now())? {
            Some(_) => Err(AuthError::NotASession),
            None => Ok(()),
        }
    }

    async fn hash(&self, password: &str) -> Result<String, AuthError> {
        let mut slot = self.hashing.slot().await?;
        let password = password.to_string();
        on_blocking(move || Ok(slot.hash(&password)?)).await
    }

    pub async fn create_user(
        &self,
        actor: &User,
        username: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<User, AuthError> {
        if !actor.is_admin {
            return Err(AuthError::Forbidden);
        }
        validate_username(username)?;
        validate_new_password(password)?;
        let hash = self.hash(password).await?;
        let (store, username) = (self.store.clone(), username.to_string());
        on_blocking(move || Ok(store.create_user(&username, &hash, is_admin)?)).await
    }

    /// Changes a password (one's own, or anyone's for an admin) and signs out its sessions.
    /// With `revoke_all` the user's API keys and Subsonic app password go too; it defaults to
    /// true for an admin resetting someone else's password (account recovery) and to false for
    /// one's own change. Returns false when the user does not exist.
    pub async fn set_password(
        &self,
        actor: &User,
        target: UserId,
        password: &str,
        revoke_all: Option<bool>,
    ) -> Result<bool, AuthError> {
        if !actor.is_admin && actor.id != target {
            return Err(AuthError::Forbidden);
        }
        validate_new_password(password)?;
        let revoke_all = revoke_all.unwrap_or(actor.id != target);
        let hash = self.hash(password).await?;
        let store = self.store.clone();
        on_blocking(move || Ok(store.change_password(target, &hash, revoke_all)?)).await
    }
}

/// A reserved evaluation, in Redis or in this node's counters.
enum AnyAttempt {
    Local(throttle::Attempt),
    Shared(RedisAttempt),
}

impl AnyAttempt {
    /// Blocking (a shared attempt settles in Redis).
    fn succeeded(self) {
        match self {
            Self::Local(a) => a.succeeded(),
            Self::Shared(a) => a.succeeded(),
        }
    }

    /// Blocking. A shared failure that Redis cannot take is counted on this node.
    fn failed(
        self,
        local: &Arc<Throttle>,
        username: &str,
        address: &str,
        mechanism: Mechanism,
    ) -> Duration {
        match self {
            Self::Local(a) => a.failed(),
            Self::Shared(a) => a.failed(|| local.begin(username, address, mechanism).ok()),
        }
    }
}

/// Runs store and hashing work off the async threads.
async fn on_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Hashing(format!("blocking task failed: {e}")))?
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = new_secret("mt_");
        assert_ne!(a, new_secret("mt_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert!(a.len() > 40);
    }
}
