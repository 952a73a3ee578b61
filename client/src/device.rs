//! A device: one set of XDG directories (config, data, cache) holding the client's settings, its
//! saved login, the local mirror and the audio cache. Two environments on one machine are two
//! devices; everything else in the client works through a [`Device`].

use crate::api::{ApiClient, ApiError};
use crate::cache::{AudioCache, CacheConfig, CacheError, Fetcher, RepairReport};
use crate::mirror::{Mirror, MirrorError};
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

/// `config.toml`; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Server URL used when not logged in yet (login saves its own).
    pub server: Option<String>,
    /// Audio cache cap in bytes.
    pub cache_cap_bytes: Option<u64>,
    /// Tracks downloaded at once for offline playlists.
    pub parallel_downloads: Option<usize>,
    /// `auto` (the default device, else a paced null sink), `null`, or `wav:FILE`.
    pub audio_output: Option<String>,
    /// `track`, `album` or `off`.
    pub replay_gain: Option<String>,
    /// TUI key bindings: command name = ["key", ...] (see `?` in the TUI).
    pub keys: Option<std::collections::HashMap<String, Vec<String>>>,
    /// TUI colours.
    pub theme: Option<crate::tui::ThemeConfig>,
}

/// The settings in force: defaults, then `config.toml`, then `MIXTAPE_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub cache_cap_bytes: u64,
    pub parallel_downloads: usize,
    pub audio_output: String,
    pub replay_gain: String,
    pub keys: std::collections::HashMap<String, Vec<String>>,
    pub theme: crate::tui::ThemeConfig,
}

impl Settings {
    pub fn load(dirs: &Dirs) -> Result<Self, DeviceError> {
        let path = dirs.config.join("config.toml");
        let file: FileConfig = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| DeviceError::Config {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(source) => return Err(DeviceError::Io { path, source }),
        };
        let env_u64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Ok(Self {
            cache_cap_bytes: env_u64("MIXTAPE_CACHE_CAP_BYTES")
                .or(file.cache_cap_bytes)
                .unwrap_or(CacheConfig::DEFAULT_CAP_BYTES),
            parallel_downloads: env_u64("MIXTAPE_PARALLEL_DOWNLOADS")
                .map(|n| n as usize)
                .or(file.parallel_downloads)
                .unwrap_or(4)
                .clamp(1, 32),
            audio_output: std::env::var("MIXTAPE_AUDIO_OUTPUT")
                .ok()
                .or(file.audio_output)
                .unwrap_or_else(|| "auto".into()),
            replay_gain: file.replay_gain.unwrap_or_else(|| "track".into()),
            keys: file.keys.unwrap_or_default(),
            theme: file.theme.unwrap_or_default(),
        })
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
        let settings = Settings::load(&dirs)?;
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

    #[test]
    fn settings_come_from_the_config_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(tmp.path());
        std::fs::create_dir_all(&dirs.config).unwrap();
        std::fs::write(
            dirs.config.join("config.toml"),
            "cache_cap_bytes = 1000\nparallel_downloads = 2\n",
        )
        .unwrap();
        let s = Settings::load(&dirs).unwrap();
        assert_eq!(s.parallel_downloads, 2);
        std::fs::write(dirs.config.join("config.toml"), "cache_cap = 1\n").unwrap();
        assert!(matches!(
            Settings::load(&dirs),
            Err(DeviceError::Config { .. })
        ));
    }
}
