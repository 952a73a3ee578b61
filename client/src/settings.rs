//! The client's settings: `config.toml` (every key optional) under `MIXTAPE_*` variables, the
//! TUI's keys and colours included. Plain data: `device` loads them, `tui` reads them, and
//! neither needs the other for it.

use crate::cache::CacheConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {path} is invalid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The `[theme]` table: colour names like "cyan", "lightblue", or "#rrggbb".
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: Option<String>,
    pub selected_bg: Option<String>,
    pub border: Option<String>,
    pub dim: Option<String>,
    pub online: Option<String>,
    pub offline: Option<String>,
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
    pub theme: Option<ThemeConfig>,
    /// How the TUI draws cover art: `auto`, `kitty`, `sixel`, `iterm2`, `halfblocks` or `off`.
    pub cover_art: Option<String>,
    /// Desktop notifications on track change (default on, when there is a session bus).
    pub notifications: Option<bool>,
    /// The profile tracks are streamed in (`original`, `opus-96`, ...; see `/api/v1/profiles`).
    pub stream_quality: Option<String>,
    /// The profile offline playlists are downloaded in unless `--quality` says otherwise.
    pub download_quality: Option<String>,
}

/// The settings in force: defaults, then `config.toml`, then `MIXTAPE_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub cache_cap_bytes: u64,
    pub parallel_downloads: usize,
    pub audio_output: String,
    pub replay_gain: String,
    pub keys: std::collections::HashMap<String, Vec<String>>,
    pub theme: ThemeConfig,
    /// `cover_art` (`MIXTAPE_COVER_ART` first), checked when the TUI starts.
    pub cover_art: String,
    /// `notifications` (`MIXTAPE_NOTIFICATIONS=off` turns them off too).
    pub notifications: bool,
    /// `stream_quality` (`MIXTAPE_STREAM_QUALITY` first): a profile id, checked against the
    /// server's profiles when it is used.
    pub stream_quality: String,
    /// `download_quality` (`MIXTAPE_DOWNLOAD_QUALITY` first).
    pub download_quality: String,
}

impl Settings {
    /// Reads `config.toml` in `config_dir` (a missing file is all defaults).
    pub fn load(config_dir: &Path) -> Result<Self, SettingsError> {
        let path = config_dir.join("config.toml");
        let file: FileConfig = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| SettingsError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(source) => return Err(SettingsError::Io { path, source }),
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
            cover_art: std::env::var("MIXTAPE_COVER_ART")
                .ok()
                .or(file.cover_art)
                .unwrap_or_else(|| "auto".into()),
            notifications: match std::env::var("MIXTAPE_NOTIFICATIONS").ok().as_deref() {
                Some("0" | "off" | "false" | "no") => false,
                Some("1" | "on" | "true" | "yes") => true,
                _ => file.notifications.unwrap_or(true),
            },
            stream_quality: quality_setting(
                &path,
                "stream_quality",
                std::env::var("MIXTAPE_STREAM_QUALITY")
                    .ok()
                    .or(file.stream_quality),
            )?,
            download_quality: quality_setting(
                &path,
                "download_quality",
                std::env::var("MIXTAPE_DOWNLOAD_QUALITY")
                    .ok()
                    .or(file.download_quality),
            )?,
        })
    }
}

/// A quality setting: `original` when unset; a malformed id is refused here (whether the server
/// offers it is checked when it is used, see `quality`).
fn quality_setting(path: &Path, key: &str, value: Option<String>) -> Result<String, SettingsError> {
    let value = value.map_or_else(
        || crate::quality::ORIGINAL.to_owned(),
        |v| v.trim().to_owned(),
    );
    crate::quality::check_syntax(&value).map_err(|e| SettingsError::Invalid {
        path: path.to_owned(),
        message: format!("{key}: {e}"),
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_config_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "cache_cap_bytes = 1000\nparallel_downloads = 2\nnotifications = false\n[theme]\naccent = \"#ff0000\"\n",
        )
        .unwrap();
        let s = Settings::load(tmp.path()).unwrap();
        assert_eq!(s.parallel_downloads, 2);
        assert_eq!(s.theme.accent.as_deref(), Some("#ff0000"));
        assert!(!s.notifications);
        std::fs::write(tmp.path().join("config.toml"), "cache_cap = 1\n").unwrap();
        assert!(matches!(
            Settings::load(tmp.path()),
            Err(SettingsError::Invalid { .. })
        ));
        let missing = Settings::load(&tmp.path().join("nowhere")).unwrap();
        assert_eq!(missing.parallel_downloads, 4);
    }

    #[test]
    fn qualities_default_to_the_original_and_a_malformed_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Settings::load(tmp.path()).unwrap();
        assert_eq!(
            (s.stream_quality.as_str(), s.download_quality.as_str()),
            ("original", "original")
        );
        std::fs::write(
            tmp.path().join("config.toml"),
            "stream_quality = \"opus-96\"\ndownload_quality = \"opus-64\"\n",
        )
        .unwrap();
        let s = Settings::load(tmp.path()).unwrap();
        assert_eq!(
            (s.stream_quality.as_str(), s.download_quality.as_str()),
            ("opus-96", "opus-64")
        );
        std::fs::write(
            tmp.path().join("config.toml"),
            "stream_quality = \"../x\"\n",
        )
        .unwrap();
        let err = Settings::load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("stream_quality"), "{err}");
    }
}
