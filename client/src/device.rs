//! A device: one set of XDG directories (config, data, cache) holding the client's settings, its
//! saved login, the local mirror and the audio cache. Two environments on one machine are two
//! devices; everything else in the client works through a [`Device`].

use crate::api::{ApiClient, ApiError};
use crate::cache::{AudioCache, CacheConfig, CacheError, Fetcher, RepairReport};
use crate::mirror::{Mirror, MirrorError};
pub use crate::settings::{FileConfig, Settings, SettingsError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no home directory: set HOME or the XDG_*_HOME variables")]
    NoHome,
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("not logged in: run `mixtape login URL --user NAME` first")]
    NotLoggedIn,
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Where a device keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
    pub cache: PathBuf,
}

impl Dirs {
    /// The XDG directories (`$XDG_CONFIG_HOME/mixtape`, `$XDG_DATA_HOME/mixtape`,
    /// `$XDG_CACHE_HOME/mixtape` on Linux).
    pub fn from_env() -> Result<Self, DeviceError> {
        let dirs = directories::ProjectDirs::from("", "", "mixtape").ok_or(DeviceError::NoHome)?;
        Ok(Self {
            config: dirs.config_dir().to_path_buf(),
            data: dirs.data_dir().to_path_buf(),
            cache: dirs.cache_dir().to_path_buf(),
        })
    }

    /// All three under one folder (tests, portable installs).
    pub fn under(root: &Path) -> Self {
        Self {
            config: root.join("config"),
            data: root.join("data"),
            cache: root.join("cache"),
        }
    }
}

/// The saved login: `session.json` in the data dir, readable by the owner only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub username: String,
    pub token: String,
}

pub struct Device {
    pub dirs: Dirs,
    pub settings: Settings,
    pub mirror: Mirror,
    pub cache: AudioCache,
    /// What the cache found to repair when it opened (crash leftovers).
    pub repaired: RepairReport,
    session: Option<Session>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DeviceError + '_ {
    move |source| DeviceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Device {
    /// Opens the device's files, creating them on first use. Never touches the network.
    pub fn open(dirs: Dirs) -> Result<Self, DeviceError> {
        for dir in [&dirs.config, &dirs.data, &dirs.cache] {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let settings = Settings::load(&dirs.config)?;
        let mirror = Mirror::open(&dirs.data.join("mirror.sqlite"))?;
        let (cache, repaired) =
            AudioCache::open(&dirs.cache, CacheConfig::with_cap(settings.cache_cap_bytes))?;
        let session_path = dirs.data.join("session.json");
        let session = match std::fs::read_to_string(&session_path) {
            Ok(text) => serde_json::from_str(&text).ok(),
            Err(_) => None,
        };
        Ok(Self {
            dirs,
            settings,
            mirror,
            cache,
            repaired,
            session,
        })
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Saves a login with owner-only permissions (the token is a password).
    pub fn save_session(&mut self, session: Session) -> Result<(), DeviceError> {
        let path = self.dirs.data.join("session.json");
        let tmp = self.dirs.data.join("session.json.tmp");
        let json = serde_json::to_vec_pretty(&session).map_err(|e| DeviceError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_private(&tmp, &json).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        self.session = Some(session);
        Ok(())
    }

    /// An API client for the saved login.
    pub fn api(&self) -> Result<ApiClient, DeviceError> {
        let s = self.session.as_ref().ok_or(DeviceError::NotLoggedIn)?;
        Ok(ApiClient::new(&s.server, Some(s.token.clone()))?)
    }

    /// A downloader for the saved login.
    pub fn fetcher(&self) -> Result<Fetcher, DeviceError> {
        let s = self.session.as_ref().ok_or(DeviceError::NotLoggedIn)?;
        let urls = crate::mirror::MirrorMediaUrls::new(self.dirs.data.join("mirror.sqlite"));
        Ok(Fetcher::new(&s.server, &s.token)?.with_media_urls(std::sync::Arc::new(urls)))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_login_is_private_to_the_owner_and_survives_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let mut device = Device::open(Dirs::under(tmp.path())).unwrap();
        assert!(matches!(device.api(), Err(DeviceError::NotLoggedIn)));
        device
            .save_session(Session {
                server: "http://127.0.0.1:4870".into(),
                username: "ann".into(),
                token: "secret".into(),
            })
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tmp.path().join("data/session.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(device);
        let device = Device::open(Dirs::under(tmp.path())).unwrap();
        assert_eq!(device.session().unwrap().username, "ann");
        assert_eq!(device.api().unwrap().token(), Some("secret"));
    }
}
