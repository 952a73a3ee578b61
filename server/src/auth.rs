//! Users and credentials: argon2id password hashes, random bearer tokens and per-device API keys
//! stored only as blake3 hashes, and login throttling per user and per address.

use crate::storage::{Credential, StorageError, Store, StoredUser};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use mixtape_shared::UserId;
use mixtape_shared::api::{LoginResponse, User};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
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

/// Failed logins per key (a username or an address) within a sliding window.
pub struct Throttle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait when `key` is locked out.
    pub fn check(&self, key: &str) -> Option<u64> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = map.get(key)?;
        let left = self.window.checked_sub(since.elapsed())?;
        (*count >= self.max_failures).then(|| left.as_secs().max(1))
    }

    pub fn fail(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

pub struct Auth {
    store: Arc<dyn Store>,
    token_ttl: Duration,
    by_user: Throttle,
    by_address: Throttle,
    /// Verified against when the user does not exist, so timing does not reveal user names.
    dummy_hash: String,
}

impl Auth {
    pub fn new(store: Arc<dyn Store>, token_ttl: Duration) -> Result<Self, AuthError> {
        Ok(Self {
            store,
            token_ttl,
            by_user: Throttle::new(5, Duration::from_secs(15 * 60)),
            by_address: Throttle::new(20, Duration::from_secs(15 * 60)),
            dummy_hash: hash_password("not a real password")?,
        })
    }

    /// Creates the `admin` user on first start. Returns the password when it was generated.
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
        self.store
            .create_user(ADMIN_USERNAME, &hash_password(&password)?, true)?;
        Ok(generated.then_some(password))
    }

    /// Checks a password and issues a token. Blocking: argon2 is deliberately slow.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        address: &str,
    ) -> Result<LoginResponse, AuthError> {
        let user = self.check_credential(username, address, |stored| match stored {
            Some(s) => verify_password(password, &s.password_hash),
            None => {
                self.verify_dummy(password);
                false
            }
        })?;
        let token = new_secret("mt_");
        let now = unix_now();
        let expires_at = now + self.token_ttl.as_secs() as i64;
        self.store
            .insert_token(user.id, &secret_hash(&token), now, expires_at)?;
        Ok(LoginResponse {
            token,
            expires_at,
            user,
        })
    }

    /// Checks a credential other than a login (the Subsonic API's password or token) under the
    /// same throttle as logins: `verify` gets the stored user and says whether it matches.
    /// Blocking when `verify` hashes.
    pub fn check_credential(
        &self,
        username: &str,
        address: &str,
        verify: impl FnOnce(Option<&StoredUser>) -> bool,
    ) -> Result<User, AuthError> {
        let user_key = format!("user:{}", username.to_lowercase());
        let addr_key = format!("addr:{address}");
        if let Some(wait) = self
            .by_user
            .check(&user_key)
            .or_else(|| self.by_address.check(&addr_key))
        {
            return Err(AuthError::Throttled(wait));
        }
        let stored = self.store.user_by_name(username)?;
        if !verify(stored.as_ref()) {
            self.by_user.fail(&user_key);
            self.by_address.fail(&addr_key);
            return Err(AuthError::BadCredentials);
        }
        self.by_user.clear(&user_key);
        stored.map(|s| s.user).ok_or(AuthError::BadCredentials)
    }

    /// Verifies against a throwaway hash, so an unknown user costs the same time as a known one.
    pub fn verify_dummy(&self, password: &str) {
        verify_password(password, &self.dummy_hash);
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

    pub fn logout(&self, secret: &str) -> Result<bool, AuthError> {
        Ok(self.store.revoke_token(&secret_hash(secret))?)
    }

    pub fn create_user(
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
        Ok(self
            .store
            .create_user(username, &hash_password(password)?, is_admin)?)
    }

    /// Changes a password (one's own, or anyone's for an admin) and signs out its sessions.
    pub fn set_password(
        &self,
        actor: &User,
        target: UserId,
        password: &str,
    ) -> Result<bool, AuthError> {
        if !actor.is_admin && actor.id != target {
            return Err(AuthError::Forbidden);
        }
        validate_new_password(password)?;
        let changed = self.store.set_password(target, &hash_password(password)?)?;
        if changed {
            self.store.revoke_user_tokens(target)?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn throttle_locks_after_max_failures_and_clears() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.fail("k");
        }
        assert_eq!(t.check("k"), None);
        t.fail("k");
        assert!(t.check("k").is_some());
        t.clear("k");
        assert_eq!(t.check("k"), None);
    }

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = new_secret("mt_");
        assert_ne!(a, new_secret("mt_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert!(a.len() > 40);
    }
}
