//! Who a Subsonic request is. Three mechanisms, exactly one per request:
//! - `apiKey` (the apiKeyAuthentication extension): one of our per-device API keys.
//! - `u` + `p`: the login password or the Subsonic app password, plain or `enc:` + hex.
//! - `u` + `t` + `s`: `t = md5(password + s)`. Only possible against a password the server can
//!   read, so only the user's Subsonic app password: it is sealed (XChaCha20-Poly1305) with a key
//!   kept in the data folder (`keyring`), never in the database.
//!
//! Every check of a password or token goes through the login throttle
//! (`Auth::check_credential`). A wrong token, an unknown user and a user without an app
//! password all get the same answer (40), so tokens cannot probe who has an app password.
//! Verified passwords are remembered for a while, because Subsonic clients send them with
//! every request: a remembered one is accepted without argon2 and without the throttle.

use super::error::{Code, SubsonicError};
use super::params::Params;
use crate::auth::throttle::Mechanism;
use crate::auth::{Auth, AuthError, unix_now, validate_new_password};
use crate::storage::{StorageError, Store, StoredUser};
use md5::{Digest, Md5};
use mixtape_shared::api::User;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use super::keyring::Keyring;

const MAX_APP_PASSWORD_LEN: usize = 128;

/// Passwords verified recently, by blake3(what they matched, password): argon2 once per few
/// minutes, not once per request. What they matched is the stored login hash or the sealed app
/// password, so a changed or cleared password never matches an old entry.
#[derive(Default)]
pub struct VerifiedCache(Mutex<HashMap<[u8; 32], Instant>>);

const VERIFIED_TTL: Duration = Duration::from_secs(10 * 60);

impl VerifiedCache {
    fn key(matched: &[u8], password: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(matched);
        h.update(&[0]);
        h.update(password.as_bytes());
        *h.finalize().as_bytes()
    }

    fn hit(&self, matched: &[u8], password: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&Self::key(matched, password))
            .is_some_and(|at| at.elapsed() < VERIFIED_TTL)
    }

    fn remember(&self, matched: &[u8], password: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.retain(|_, at| at.elapsed() < VERIFIED_TTL);
        }
        map.insert(Self::key(matched, password), Instant::now());
    }
}

/// `enc:` + hex, or the password itself.
pub(crate) fn decode_password(p: &str) -> Result<String, SubsonicError> {
    match p.strip_prefix("enc:") {
        None => Ok(p.to_string()),
        Some(h) => hex::decode(h)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(SubsonicError::wrong_credentials),
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Checks `v`: never refuses a client for its version. Apps send what they like there
/// (stmps sends its own release, `0.9.9`); the answers are 1.16.1's, which older clients
/// read too, so `v` only has to be present where the spec needs it, and it may be absent.
pub fn check_version(_params: &Params) -> Result<(), SubsonicError> {
    Ok(())
}

/// Resolves the request's credentials to a user.
pub async fn authenticate(
    auth: &Arc<Auth>,
    store: Arc<dyn Store>,
    state: Arc<super::SubsonicState>,
    params: &Params,
    address: &str,
) -> Result<User, SubsonicError> {
    let (u, p, t, s) = (
        params.get("u"),
        params.get("p"),
        params.get("t"),
        params.get("s"),
    );
    if let Some(key) = params.get("apiKey") {
        if u.is_some() || p.is_some() || t.is_some() || s.is_some() {
            return Err(SubsonicError::new(
                Code::ConflictingAuth,
                "send either apiKey or u with p or t and s, not both",
            ));
        }
        let (auth, key) = (auth.clone(), key.to_string());
        return match blocking(move || Ok(auth.authenticate_api_key(&key))).await? {
            Ok(c) => Ok(c.user),
            Err(AuthError::Storage(e)) => Err(e.into()),
            Err(_) => Err(SubsonicError::new(Code::InvalidApiKey, "invalid API key")),
        };
    }
    let u = params.required("u")?.to_string();
    if p.is_some() && (t.is_some() || s.is_some()) {
        return Err(SubsonicError::new(
            Code::ConflictingAuth,
            "send either p or t and s, not both",
        ));
    }
    if let Some(p) = p {
        let password = decode_password(p)?;
        if let Some(user) = remembered(store.clone(), state.clone(), &u, &password).await? {
            return Ok(user);
        }
        let verify: crate::auth::Verify = Box::new(move |auth, stored, slot| {
            let Some(slot) = slot else { return false };
            let Some(s) = stored else {
                return auth.verify_dummy(slot, &password);
            };
            // The app password first: it costs no argon2.
            let app = app_password_matches(store.as_ref(), &state, s, |app| {
                crate::auth::password::constant_time_eq(app.as_bytes(), password.as_bytes())
            });
            if let Some(sealed) = app {
                state.verified.remember(&sealed, &password);
                return true;
            }
            if slot.verify(&password, &s.password_hash) {
                state
                    .verified
                    .remember(s.password_hash.as_bytes(), &password);
                return true;
            }
            false
        });
        return Ok(auth
            .check_credential(&u, address, Mechanism::SubsonicPassword, verify)
            .await?);
    }
    let t = t
        .ok_or_else(|| SubsonicError::missing("p or t"))?
        .to_ascii_lowercase();
    let s = params.required("s")?.to_string();
    let verify: crate::auth::Verify = Box::new(move |_, stored, _| {
        stored.is_some_and(|st| {
            app_password_matches(store.as_ref(), &state, st, |app| {
                crate::auth::password::constant_time_eq(
                    md5_hex(&format!("{app}{s}")).as_bytes(),
                    t.as_bytes(),
                )
            })
            .is_some()
        })
    });
    // Unknown users, users without an app password and wrong tokens: one answer, throttled.
    auth.check_credential(&u, address, Mechanism::SubsonicToken, verify)
        .await
        .map_err(|e| match e {
            AuthError::BadCredentials => SubsonicError::new(
                Code::WrongCredentials,
                "wrong username or token (token authentication needs a Subsonic app password: set one with `mixtape subsonic-password set` or PUT /api/v1/me/subsonic-password, or use an API key)",
            ),
            other => other.into(),
        })
}

/// The user, when `password` is one that matched recently (its login or app password).
async fn remembered(
    store: Arc<dyn Store>,
    state: Arc<super::SubsonicState>,
    username: &str,
    password: &str,
) -> Result<Option<User>, SubsonicError> {
    let (username, password) = (username.to_string(), password.to_string());
    blocking(move || {
        let Some(stored) = store.user_by_name(&username)? else {
            return Ok(None);
        };
        if state
            .verified
            .hit(stored.password_hash.as_bytes(), &password)
        {
            return Ok(Some(stored.user));
        }
        let sealed = store.subsonic_app_password(stored.user.id)?;
        Ok(sealed
            .filter(|s| state.verified.hit(&s.ciphertext, &password))
            .map(|_| stored.user))
    })
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SubsonicError> + Send + 'static,
) -> Result<T, SubsonicError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(SubsonicError::internal)?
}

/// Whether the user's app password passes `check`; the sealed bytes when it does.
fn app_password_matches(
    store: &dyn Store,
    state: &super::SubsonicState,
    stored: &StoredUser,
    check: impl FnOnce(&str) -> bool,
) -> Option<Vec<u8>> {
    let sealed = match store.subsonic_app_password(stored.user.id) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(error = %e, "reading an app password");
            return None;
        }
    };
    match state.keyring.open_secret(stored.user.id, &sealed) {
        Ok(app) if check(&app) => Some(sealed.ciphertext),
        _ => None,
    }
}

/// Why an app password was not set: the request (422) or the server (500).
#[derive(Debug, thiserror::Error)]
pub enum AppPasswordError {
    #[error("{0}")]
    Invalid(String),
    #[error("the Subsonic key ring failed: {0}")]
    Keyring(SubsonicError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Sets (Some) or clears (None) the user's Subsonic app password. Blocking.
pub fn set_app_password(
    store: &dyn Store,
    state: &super::SubsonicState,
    user: &User,
    password: Option<&str>,
) -> Result<(), AppPasswordError> {
    let sealed = match password {
        None => None,
        Some(p) => {
            validate_new_password(p).map_err(|e| AppPasswordError::Invalid(e.to_string()))?;
            if p.len() > MAX_APP_PASSWORD_LEN {
                return Err(AppPasswordError::Invalid(format!(
                    "app password must be at most {MAX_APP_PASSWORD_LEN} bytes"
                )));
            }
            Some(
                state
                    .keyring
                    .seal(user.id, p)
                    .map_err(AppPasswordError::Keyring)?,
            )
        }
    };
    store.set_subsonic_app_password(user.id, sealed.as_ref(), unix_now())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_decode_from_hex_and_tokens_are_md5() {
        assert_eq!(decode_password("enc:736573616d65").unwrap(), "sesame");
        assert_eq!(decode_password("sesame").unwrap(), "sesame");
        assert!(decode_password("enc:zz").is_err());
        // The example of the Subsonic documentation.
        assert_eq!(md5_hex("sesamec19b2d"), "26719a1196d2a940705a59634eb18eab");
    }

    #[test]
    fn any_version_is_accepted() {
        let v = |s: &str| check_version(&Params::parse(Some(&format!("v={s}")), None).unwrap());
        for version in ["1.16.1", "1.2.0", "1.13", "1.1.0", "2.0.0", "0.9.9", "x"] {
            assert!(v(version).is_ok(), "v={version} refused");
        }
        assert!(check_version(&Params::default()).is_ok());
    }
}
