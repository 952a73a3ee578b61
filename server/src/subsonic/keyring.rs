//! The server secret that seals Subsonic app passwords: 32 random bytes in `subsonic.key`
//! (mode 0600) in the data folder, never in the database. Made on first use, written to a
//! temporary file, synced and moved into place, so a crash or a full disk never leaves a
//! half-written key. At start (`Keyring::open`) a missing or malformed key is replaced only
//! when no app password is sealed; otherwise the start fails with what to do, because a new
//! key would silently break every app password.

use super::error::SubsonicError;
use crate::storage::{SealedSecret, StorageError, Store};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use mixtape_shared::UserId;
use rand::RngCore;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("cannot remove the malformed {0}: {1}")]
    Remove(PathBuf, std::io::Error),
    #[error(
        "{path} is {found}, but {sealed} Subsonic app password(s) are sealed with it: restore the key from a backup; or, to give up those app passwords, stop the server, run `sqlite3 mixtape.db 'DELETE FROM subsonic_app_passwords'`, remove {path} and start again (users then set new app passwords)"
    )]
    Lost {
        path: PathBuf,
        found: String,
        sealed: u64,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct Keyring {
    path: PathBuf,
    key: Mutex<Option<[u8; KEY_LEN]>>,
}

impl Keyring {
    /// A keyring over `path`, not checked: the key is read or made on first use.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            key: Mutex::new(None),
        }
    }

    /// A keyring over a fixed key (derived from the deployment secret); nothing on disk.
    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        Self {
            path: PathBuf::from("<secret file>"),
            key: Mutex::new(Some(key)),
        }
    }

    /// The keyring of a server about to start: a valid key is loaded; a missing, empty or
    /// short one is fine only while `store` holds no sealed app password (a malformed one is
    /// then removed, and a new key is made on first use).
    pub fn open(path: PathBuf, store: &dyn Store) -> Result<Self, KeyringError> {
        let found = match std::fs::read(&path) {
            Ok(bytes) => match <[u8; KEY_LEN]>::try_from(bytes.as_slice()) {
                Ok(key) => {
                    return Ok(Self {
                        path,
                        key: Mutex::new(Some(key)),
                    });
                }
                Err(_) => Some(bytes.len()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(KeyringError::Read(path, e)),
        };
        let sealed = store.sealed_app_password_count()?;
        if sealed > 0 {
            return Err(KeyringError::Lost {
                found: match found {
                    None => "missing".into(),
                    Some(n) => format!("{n} bytes long instead of {KEY_LEN}"),
                },
                path,
                sealed,
            });
        }
        if let Some(len) = found {
            tracing::warn!(path = %path.display(), len, "subsonic.key is malformed and seals nothing; replacing it");
            std::fs::remove_file(&path).map_err(|e| KeyringError::Remove(path.clone(), e))?;
        }
        Ok(Self::new(path))
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create(&self.path).map_err(|e| {
                    SubsonicError::internal(format!("cannot write {}: {e}", self.path.display()))
                })?
            }
            Err(e) => return Err(SubsonicError::internal(e)),
        };
        *slot = Some(key);
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

    pub fn open_secret(
        &self,
        user: UserId,
        sealed: &SealedSecret,
    ) -> Result<String, SubsonicError> {
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
                SubsonicError::internal(format!(
                    "an app password does not open with the key of {}",
                    self.path.display()
                ))
            })?;
        String::from_utf8(plain).map_err(SubsonicError::internal)
    }
}

/// A new key at `path`: written to a temporary file beside it, synced, then linked into place
/// (which fails rather than replace a key another start made meanwhile), and the folder synced.
fn create(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    crate::secret_file::create_new(path, &key)?;
    Ok(key)
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
        assert_eq!(
            ring.open_secret(UserId(1), &sealed).unwrap(),
            "app-password"
        );
        assert!(ring.open_secret(UserId(2), &sealed).is_err());
        // The key persists: a new keyring over the same file opens it.
        let again = Keyring::new(dir.path().join("subsonic.key"));
        assert_eq!(
            again.open_secret(UserId(1), &sealed).unwrap(),
            "app-password"
        );
        let other = Keyring::new(dir.path().join("other.key"));
        assert!(other.open_secret(UserId(1), &sealed).is_err());
        // Nothing but the key is left in the folder (no temporary file).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
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
    fn creating_never_replaces_an_existing_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subsonic.key");
        std::fs::write(&path, [7u8; KEY_LEN]).unwrap();
        assert!(create(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), [7u8; KEY_LEN]);
    }
}
