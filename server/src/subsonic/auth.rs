//! Who a Subsonic request is. Three mechanisms, exactly one per request:
//! - `apiKey` (the apiKeyAuthentication extension): one of our per-device API keys.
//! - `u` + `p`: the login password or the Subsonic app password, plain or `enc:` + hex.
//! - `u` + `t` + `s`: `t = md5(password + s)`. Only possible against a password the server can
//!   read, so only the user's Subsonic app password: it is sealed (XChaCha20-Poly1305) with a key
//!   kept in the data folder, never in the database. Without one the answer is error 41.
//!
//! Password checks go through the login throttle (`Auth::check_credential`); verified passwords
//! are remembered for a while, because Subsonic clients send them with every request.

use super::error::{Code, SubsonicError};
use super::params::Params;
use crate::auth::{Auth, unix_now, validate_new_password, verify_password};
use crate::storage::{SealedSecret, Store, StoredUser};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use md5::{Digest, Md5};
use mixtape_shared::UserId;
use mixtape_shared::api::User;
use rand::RngCore;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const KEY_LEN: usize = 32;
const MAX_APP_PASSWORD_LEN: usize = 128;

/// The server secret that seals app passwords: 32 random bytes in `subsonic.key` (mode 0600),
/// made on first use.
pub struct Keyring {
    path: PathBuf,
    key: Mutex<Option<[u8; KEY_LEN]>>,
}

impl Keyring {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            key: Mutex::new(None),
        }
    }

    fn key(&self) -> Result<[u8; KEY_LEN], SubsonicError> {
        let mut slot = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = *slot {
            return Ok(k);
        }
        let key = match std::fs::read(&self.path) {
            Ok(bytes) => bytes.try_into().map_err(|_| {
                SubsonicError::internal(format!(
                    "{} is not a {KEY_LEN}-byte key",
                    self.path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create()?,
            Err(e) => return Err(SubsonicError::internal(e)),
        };
        *slot = Some(key);
        Ok(key)
    }

    fn create(&self) -> Result<[u8; KEY_LEN], SubsonicError> {
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(SubsonicError::internal)?;
        file.write_all(&key)
            .and_then(|_| file.sync_all())
            .map_err(SubsonicError::internal)?;
        Ok(key)
    }

    /// Seals `secret` for `user` (the user id is bound in, so a row copied to another user
    /// does not open).
    pub fn seal(&self, user: UserId, secret: &str) -> Result<SealedSecret, SubsonicError> {
        let cipher = XChaCha20Poly1305::new(&self.key()?.into());
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = user.0.to_le_bytes();
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SubsonicError::internal("sealing failed"))?;
        Ok(SealedSecret {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    pub fn open(&self, user: UserId, sealed: &SealedSecret) -> Result<String, SubsonicError> {
        if sealed.nonce.len() != 24 {
            return Err(SubsonicError::internal("sealed secret has a bad nonce"));
        }
        let cipher = XChaCha20Poly1305::new(&self.key()?.into());
        let aad = user.0.to_le_bytes();
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                SubsonicError::internal("an app password does not open with subsonic.key")
            })?;
        String::from_utf8(plain).map_err(SubsonicError::internal)
    }
}

/// Passwords verified recently, by blake3(stored hash, password): argon2 once per few minutes,
/// not once per request. A changed password has a new stored hash, so old entries never match.
#[derive(Default)]
pub struct VerifiedCache(Mutex<HashMap<[u8; 32], Instant>>);

const VERIFIED_TTL: Duration = Duration::from_secs(10 * 60);

impl VerifiedCache {
    fn key(stored_hash: &str, password: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(stored_hash.as_bytes());
        h.update(&[0]);
        h.update(password.as_bytes());
        *h.finalize().as_bytes()
    }

    fn verify(&self, stored_hash: &str, password: &str) -> bool {
        let key = Self::key(stored_hash, password);
        {
            let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if map.get(&key).is_some_and(|at| at.elapsed() < VERIFIED_TTL) {
                return true;
            }
        }
        if !verify_password(password, stored_hash) {
            return false;
        }
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.retain(|_, at| at.elapsed() < VERIFIED_TTL);
        }
        map.insert(key, Instant::now());
        true
    }
}

/// `enc:` + hex, or the password itself.
fn decode_password(p: &str) -> Result<String, SubsonicError> {
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

/// Equal in time whatever the contents, for comparing secrets.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `v`: any 1.x from 1.2.0 up is accepted; it may be absent.
pub fn check_version(params: &Params) -> Result<(), SubsonicError> {
    let Some(v) = params.get("v") else {
        return Ok(());
    };
    let parts: Vec<u32> = v
        .trim()
        .split('.')
        .map(|p| p.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| SubsonicError::invalid("v", "a version such as 1.16.1"))?;
    let major = parts.first().copied().unwrap_or(0);
    let minor = parts.get(1).copied().unwrap_or(0);
    if major > 1 {
        return Err(SubsonicError::new(
            Code::ServerTooOld,
            format!("this server speaks Subsonic {}", super::API_VERSION),
        ));
    }
    if major < 1 || minor < 2 {
        return Err(SubsonicError::new(
            Code::ClientTooOld,
            "Subsonic API versions before 1.2.0 are not supported",
        ));
    }
    Ok(())
}

/// Resolves the request's credentials to a user. Blocking (argon2, SQLite).
pub fn authenticate(
    auth: &Auth,
    store: &dyn Store,
    state: &super::SubsonicState,
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
        return match auth.authenticate_api_key(key) {
            Ok(c) => Ok(c.user),
            Err(crate::auth::AuthError::Storage(e)) => Err(e.into()),
            Err(_) => Err(SubsonicError::new(Code::InvalidApiKey, "invalid API key")),
        };
    }
    let u = params.required("u")?;
    if p.is_some() && (t.is_some() || s.is_some()) {
        return Err(SubsonicError::new(
            Code::ConflictingAuth,
            "send either p or t and s, not both",
        ));
    }
    if let Some(p) = p {
        let password = decode_password(p)?;
        let user = auth.check_credential(u, address, |stored| match stored {
            None => {
                auth.verify_dummy(&password);
                false
            }
            Some(s) => {
                state.verified.verify(&s.password_hash, &password)
                    || app_password_matches(store, state, s, |app| {
                        constant_time_eq(app.as_bytes(), password.as_bytes())
                    })
            }
        })?;
        return Ok(user);
    }
    let t = t.ok_or_else(|| SubsonicError::missing("p or t"))?;
    let s = params.required("s")?;
    // Unknown users get the same answer as users without an app password: no probing.
    let no_token = || {
        SubsonicError::new(
            Code::TokenAuthNotSupported,
            "token authentication needs a Subsonic app password: set one with PUT /api/v1/me/subsonic-password, or use an API key",
        )
    };
    let stored = store.user_by_name(u)?.ok_or_else(no_token)?;
    if store.subsonic_app_password(stored.user.id)?.is_none() {
        return Err(no_token());
    }
    let t = t.to_ascii_lowercase();
    Ok(auth.check_credential(u, address, |stored| {
        stored.is_some_and(|st| {
            app_password_matches(store, state, st, |app| {
                constant_time_eq(md5_hex(&format!("{app}{s}")).as_bytes(), t.as_bytes())
            })
        })
    })?)
}

fn app_password_matches(
    store: &dyn Store,
    state: &super::SubsonicState,
    stored: &StoredUser,
    check: impl FnOnce(&str) -> bool,
) -> bool {
    let sealed = match store.subsonic_app_password(stored.user.id) {
        Ok(Some(s)) => s,
        Ok(None) => return false,
        Err(e) => {
            tracing::error!(error = %e, "reading an app password");
            return false;
        }
    };
    match state.keyring.open(stored.user.id, &sealed) {
        Ok(app) => check(&app),
        Err(_) => false,
    }
}

/// Sets (Some) or clears (None) the user's Subsonic app password.
pub fn set_app_password(
    store: &dyn Store,
    state: &super::SubsonicState,
    user: &User,
    password: Option<&str>,
) -> Result<(), SubsonicError> {
    let sealed = match password {
        None => None,
        Some(p) => {
            validate_new_password(p)
                .map_err(|e| SubsonicError::new(Code::Generic, e.to_string()))?;
            if p.len() > MAX_APP_PASSWORD_LEN {
                return Err(SubsonicError::new(
                    Code::Generic,
                    format!("app password must be at most {MAX_APP_PASSWORD_LEN} bytes"),
                ));
            }
            Some(state.keyring.seal(user.id, p)?)
        }
    };
    store.set_subsonic_app_password(user.id, sealed.as_ref(), unix_now())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::new(dir.path().join("subsonic.key"));
        let sealed = ring.seal(UserId(1), "app-password").unwrap();
        assert!(!sealed.ciphertext.windows(12).any(|w| w == b"app-password"));
        assert_eq!(ring.open(UserId(1), &sealed).unwrap(), "app-password");
        assert!(ring.open(UserId(2), &sealed).is_err());
        // The key persists: a new keyring over the same file opens it.
        let again = Keyring::new(dir.path().join("subsonic.key"));
        assert_eq!(again.open(UserId(1), &sealed).unwrap(), "app-password");
        let other = Keyring::new(dir.path().join("other.key"));
        assert!(other.open(UserId(1), &sealed).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("subsonic.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn passwords_decode_from_hex_and_tokens_are_md5() {
        assert_eq!(decode_password("enc:736573616d65").unwrap(), "sesame");
        assert_eq!(decode_password("sesame").unwrap(), "sesame");
        assert!(decode_password("enc:zz").is_err());
        // The example of the Subsonic documentation.
        assert_eq!(md5_hex("sesamec19b2d"), "26719a1196d2a940705a59634eb18eab");
    }

    #[test]
    fn versions_from_1_2_0_are_accepted() {
        let v = |s: &str| check_version(&Params::parse(Some(&format!("v={s}")), None).unwrap());
        assert!(v("1.16.1").is_ok() && v("1.2.0").is_ok() && v("1.13").is_ok());
        assert_eq!(v("1.1.0").unwrap_err().code, Code::ClientTooOld);
        assert_eq!(v("2.0.0").unwrap_err().code, Code::ServerTooOld);
        assert_eq!(v("x").unwrap_err().code, Code::MissingParameter);
        assert!(check_version(&Params::default()).is_ok());
    }
}
