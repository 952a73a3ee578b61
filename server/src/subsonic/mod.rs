//! The OpenSubsonic API (Subsonic 1.16.1 plus extensions) over the same core as `/api/v1`: a
//! translation, not a second catalog. `params` reads a request's parameters, `auth` resolves its
//! credentials (API keys, passwords, tokens over a sealed app password), `api` answers each
//! endpoint from the store and the domain modules (`playlists`, `events`, `scanner`), `model`
//! holds the response types and `response` renders them as XML, JSON or JSONP. No HTTP types
//! here: `http::subsonic` routes requests in and bytes out, and serves the binary endpoints
//! (`stream`, `download`, `getCoverArt`) through the existing stream and art code.

pub mod api;
pub mod auth;
pub mod decision;
pub mod error;
pub mod ids;
pub mod info;
pub mod keyring;
pub mod lyrics;
pub mod model;
pub mod params;
pub mod response;
pub mod users;

pub use error::{Code, SubsonicError};
pub use params::Params;
pub use response::{Format, Payload};

/// The Subsonic API version this server speaks.
pub const API_VERSION: &str = "1.16.1";
/// The envelope's `type`.
pub const SERVER_TYPE: &str = "mixtape";
/// The envelope's `serverVersion`.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// State the Subsonic API keeps beside the store: the key that seals app passwords and a cache
/// of recently verified passwords (Subsonic clients send one with every request).
pub struct SubsonicState {
    pub keyring: auth::Keyring,
    pub verified: auth::VerifiedCache,
}

impl SubsonicState {
    /// The key lives in `data_dir/subsonic.key`, created on first use; see `Keyring::open`
    /// for when a missing or malformed key stops the start.
    pub fn open(
        data_dir: &std::path::Path,
        store: &dyn crate::storage::Store,
    ) -> Result<Self, keyring::KeyringError> {
        Ok(Self {
            keyring: auth::Keyring::open(data_dir.join("subsonic.key"), store)?,
            verified: auth::VerifiedCache::default(),
        })
    }

    /// For several nodes: app passwords are sealed with a key derived from the deployment
    /// secret, so one sealed on any node opens on every other.
    pub fn with_secret(secret: &crate::config::DeploySecret) -> Self {
        Self {
            keyring: auth::Keyring::from_key(
                secret.derive_key(crate::config::SUBSONIC_SEALING_CONTEXT),
            ),
            verified: auth::VerifiedCache::default(),
        }
    }
}
