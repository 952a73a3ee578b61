//! Cover art for Now Playing: the playing track's art comes from the audio cache (fetched from
//! the server when missing), is decoded and downscaled on a thread of its own, and reaches the
//! view as an [`Action::Cover`]. The view draws it with half blocks ('▀', the top pixel in the
//! foreground colour, the bottom one in the background), which every truecolor terminal shows;
//! where the terminal does not say it has truecolor, no art is loaded and Now Playing stays text.

use super::Msg;
use super::state::{Action, AppState, Cover};
use crate::cache::{AudioCache, Fetcher};
use crate::device::Device;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// Does the terminal show 24-bit colour? `COLORTERM` says so in most; a few are known by name.
pub fn terminal_supports_art() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default().to_ascii_lowercase();
    if matches!(
        var("MIXTAPE_COVER_ART").as_str(),
        "0" | "off" | "false" | "no"
    ) {
        return false;
    }
    let colorterm = var("COLORTERM");
    let term = var("TERM");
    let program = var("TERM_PROGRAM");
    colorterm == "truecolor"
        || colorterm == "24bit"
        || term.contains("direct")
        || ["kitty", "alacritty", "wezterm", "foot", "ghostty"]
            .iter()
            .any(|t| term.contains(t))
        || ["iterm.app", "wezterm", "vscode", "ghostty"].contains(&program.as_str())
}

/// Decodes an image file and downscales it to at most [`Cover::MAX_SIDE`] a side.
pub fn load(hash: &str, path: &Path) -> Option<Cover> {
    // Cached art is named by its hash, with no extension: the format comes from the bytes.
    let decoded = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(image::ImageError::IoError)
        .and_then(|r| r.decode());
    let image = match decoded {
        Ok(i) => i,
        Err(e) => {
            tracing::debug!("cover art {}: {e}", path.display());
            return None;
        }
    };
    let side = Cover::MAX_SIDE;
    let image = if image.width() > side || image.height() > side {
        image.thumbnail(side, side)
    } else {
        image
    };
    Some(Cover::new(hash.to_string(), image.to_rgb8()))
}

/// Follows the playing track and loads its art when it changes.
pub(crate) struct Loader {
    enabled: bool,
    cache: AudioCache,
    /// Server and token, to fetch art that is not cached (the client is made on the loading
    /// thread: building it must not delay the first frame).
    session: Option<(String, String)>,
    /// The hash last asked for (loaded or loading).
    wanted: Option<String>,
}

impl Loader {
    pub fn new(device: &Device) -> Self {
        let enabled = terminal_supports_art();
        Self {
            enabled,
            cache: device.cache.clone(),
            session: device
                .session()
                .map(|s| (s.server.clone(), s.token.clone())),
            wanted: None,
        }
    }

    /// Called after every batch of actions: starts a load when the playing track's art changed.
    pub fn follow(&mut self, state: &AppState, tx: &Sender<Msg>) {
        if !self.enabled {
            return;
        }
        let hash = state.now_playing().and_then(|t| t.cover_art.clone());
        if hash == self.wanted {
            return;
        }
        self.wanted = hash.clone();
        let Some(hash) = hash else {
            tx.send(Msg::Action(Action::Cover(None))).ok();
            return;
        };
        let cache = self.cache.clone();
        let session = self.session.clone();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let path = cache.art_path(&hash).or_else(|| {
                let (server, token) = session?;
                let fetcher = Fetcher::new(&server, &token).ok()?;
                cache
                    .fetch_art(&fetcher, &hash)
                    .map_err(|e| tracing::debug!("cover art {hash}: {e}"))
                    .ok()
            });
            let cover = path.and_then(|p| load(&hash, &p)).map(Arc::new);
            tx.send(Msg::Action(Action::Cover(cover))).ok();
        });
    }
}
