//! Cover art for Now Playing: the playing track's art comes from the audio cache (fetched from
//! the server when missing), is decoded and downscaled on a thread of its own, and reaches the
//! view as an [`Action::Cover`]. How it is drawn is chosen once, at start, from the environment
//! alone ([`choose`], overridable with `cover_art` in config.toml or `MIXTAPE_COVER_ART`): a real
//! image through the kitty, sixel or iTerm2 protocol (ratatui-image) where the terminal is
//! known to draw it, else half blocks ('▀', the top pixel in the foreground colour, the bottom
//! one in the background) on truecolor terminals, else no art. Inside tmux, half blocks: image
//! protocols do not pass through it reliably.

use super::Msg;
use super::state::{Action, AppState, Cover};
use crate::cache::{AudioCache, Fetcher};
use crate::device::Device;
use ratatui_image::picker::{Picker, ProtocolType};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// How covers are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtMode {
    Off,
    Halfblocks,
    Kitty,
    Sixel,
    Iterm2,
}

impl ArtMode {
    /// The image protocol, for the modes that draw through one.
    pub fn protocol(self) -> Option<ProtocolType> {
        match self {
            ArtMode::Kitty => Some(ProtocolType::Kitty),
            ArtMode::Sixel => Some(ProtocolType::Sixel),
            ArtMode::Iterm2 => Some(ProtocolType::Iterm2),
            ArtMode::Off | ArtMode::Halfblocks => None,
        }
    }
}

/// `cover_art` was not one of the values it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cover_art = {0:?}: use auto, kitty, sixel, iterm2, halfblocks or off (config.toml or MIXTAPE_COVER_ART)"
)]
pub struct ArtModeError(pub String);

/// How to draw covers, from the `cover_art` setting and the environment (`env` looks a variable
/// up), without asking the terminal anything: the same environment always gives the same
/// answer. `auto` (or an empty setting) detects; a mode's name forces it.
pub fn choose(
    setting: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ArtMode, ArtModeError> {
    match setting.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => {}
        "kitty" => return Ok(ArtMode::Kitty),
        "sixel" => return Ok(ArtMode::Sixel),
        "iterm2" | "iterm" => return Ok(ArtMode::Iterm2),
        "halfblocks" | "half-blocks" | "blocks" => return Ok(ArtMode::Halfblocks),
        "off" | "none" | "0" | "false" | "no" => return Ok(ArtMode::Off),
        _ => return Err(ArtModeError(setting.to_string())),
    }
    let var = |k: &str| env(k).unwrap_or_default().to_ascii_lowercase();
    let (term, program, colorterm) = (var("TERM"), var("TERM_PROGRAM"), var("COLORTERM"));
    let truecolor = colorterm == "truecolor"
        || colorterm == "24bit"
        || term.contains("direct")
        || ["kitty", "alacritty", "wezterm", "foot", "ghostty"]
            .iter()
            .any(|t| term.contains(t))
        || ["iterm.app", "wezterm", "vscode", "ghostty"].contains(&program.as_str());
    let in_tmux = env("TMUX").is_some_and(|v| !v.is_empty())
        || term.starts_with("tmux")
        || term.starts_with("screen")
        || program == "tmux";
    let mode = if in_tmux {
        ArtMode::Halfblocks
    } else if env("KITTY_WINDOW_ID").is_some()
        || term.contains("kitty")
        || term.contains("ghostty")
        || program == "ghostty"
    {
        ArtMode::Kitty
    } else if program == "iterm.app" || var("LC_TERMINAL") == "iterm2" || program == "wezterm" {
        ArtMode::Iterm2
    } else if term.starts_with("foot") || term.contains("mlterm") || term.contains("contour") {
        ArtMode::Sixel
    } else {
        ArtMode::Halfblocks
    };
    Ok(if mode == ArtMode::Halfblocks && !truecolor {
        ArtMode::Off
    } else {
        mode
    })
}

/// The terminal's cell size in pixels, from the kernel's window size (no terminal round trip);
/// a common 10x20 when it does not say.
fn font_size() -> (u16, u16) {
    match crossterm::terminal::window_size() {
        Ok(w) if w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0 => {
            ((w.width / w.columns).max(1), (w.height / w.rows).max(1))
        }
        _ => (10, 20),
    }
}

/// Largest side kept for a protocol image: terminals draw real pixels, so more than half blocks.
const PROTOCOL_MAX_SIDE: u32 = 600;

/// The cover ready for `mode`: half blocks draw from the pixels; a protocol gets its encoder.
pub fn prepare(mode: ArtMode, font: (u16, u16), mut cover: Cover) -> Cover {
    if let Some(protocol) = mode.protocol() {
        // ratatui-image's other constructors query the terminal over stdin/stdout, which the
        // TUI owns; the cell size comes from `font_size` instead.
        #[allow(deprecated)]
        let mut picker = Picker::from_fontsize(font);
        picker.set_protocol_type(protocol);
        let image = image::DynamicImage::ImageRgb8(cover.image.clone());
        cover = cover.with_protocol(picker.new_resize_protocol(image));
    }
    cover
}

/// Decodes an image file and downscales it to at most [`Cover::MAX_SIDE`] a side.
pub fn load(hash: &str, path: &Path) -> Option<Cover> {
    load_within(hash, path, Cover::MAX_SIDE)
}

/// Decodes an image file and downscales it to at most `side` pixels a side.
pub fn load_within(hash: &str, path: &Path, side: u32) -> Option<Cover> {
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
    let image = if image.width() > side || image.height() > side {
        image.thumbnail(side, side)
    } else {
        image
    };
    Some(Cover::new(hash.to_string(), image.to_rgb8()))
}

/// Whose art a [`Loader`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The playing track's, for Now Playing ([`Action::Cover`]).
    NowPlaying,
    /// The album shown in the Library's tracks column ([`Action::AlbumCover`]).
    Album,
}

impl Target {
    fn hash(self, state: &AppState) -> Option<String> {
        match self {
            Target::NowPlaying => state.now_playing().and_then(|t| t.cover_art.clone()),
            Target::Album => album_art(state),
        }
    }

    fn action(self, cover: Option<Arc<Cover>>) -> Action {
        match self {
            Target::NowPlaying => Action::Cover(cover),
            Target::Album => Action::AlbumCover(cover),
        }
    }
}

/// The art of the album whose tracks the Library shows: its first track's that has some.
pub fn album_art(state: &AppState) -> Option<String> {
    state
        .library
        .tracks
        .iter()
        .find_map(|t| t.cover_art.clone())
}

/// Follows the playing track (or the Library's album) and loads its art when it changes.
pub(crate) struct Loader {
    target: Target,
    mode: ArtMode,
    /// The terminal's cell size in pixels, for image protocols.
    font: (u16, u16),
    cache: AudioCache,
    /// Server and token, to fetch art that is not cached (the client is made on the loading
    /// thread: building it must not delay the first frame).
    session: Option<(String, String)>,
    /// The hash last asked for (loaded or loading).
    wanted: Option<String>,
}

impl Loader {
    pub fn new(device: &Device, mode: ArtMode, target: Target) -> Self {
        Self {
            target,
            mode,
            font: if mode.protocol().is_some() {
                font_size()
            } else {
                (10, 20)
            },
            cache: device.cache.clone(),
            session: device
                .session()
                .map(|s| (s.server.clone(), s.token.clone())),
            wanted: None,
        }
    }

    /// Called after every batch of actions: starts a load when the playing track's art changed.
    pub fn follow(&mut self, state: &AppState, tx: &Sender<Msg>) {
        if self.mode == ArtMode::Off {
            return;
        }
        let hash = self.target.hash(state);
        if hash == self.wanted {
            return;
        }
        self.wanted = hash.clone();
        let target = self.target;
        let Some(hash) = hash else {
            tx.send(Msg::Action(target.action(None))).ok();
            return;
        };
        let cache = self.cache.clone();
        let session = self.session.clone();
        let tx = tx.clone();
        let (mode, font) = (self.mode, self.font);
        std::thread::spawn(move || {
            let path = cache.art_path(&hash).or_else(|| {
                let (server, token) = session?;
                let fetcher = Fetcher::new(&server, &token).ok()?;
                cache
                    .fetch_art(&fetcher, &hash)
                    .map_err(|e| tracing::debug!("cover art {hash}: {e}"))
                    .ok()
            });
            let side = if mode.protocol().is_some() {
                PROTOCOL_MAX_SIDE
            } else {
                Cover::MAX_SIDE
            };
            let cover = path
                .and_then(|p| load_within(&hash, &p, side))
                .map(|c| Arc::new(prepare(mode, font, c)));
            tx.send(Msg::Action(target.action(cover))).ok();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pick(setting: &str, vars: &[(&str, &str)]) -> Result<ArtMode, ArtModeError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        choose(setting, |k| vars.get(k).cloned())
    }

    #[test]
    fn the_protocol_follows_the_terminal_the_environment_names() {
        use ArtMode::*;
        let cases: &[(&[(&str, &str)], ArtMode)] = &[
            (&[("TERM", "xterm-kitty")], Kitty),
            (
                &[("TERM", "xterm-256color"), ("KITTY_WINDOW_ID", "1")],
                Kitty,
            ),
            (
                &[("TERM", "xterm-ghostty"), ("TERM_PROGRAM", "ghostty")],
                Kitty,
            ),
            (
                &[("TERM_PROGRAM", "iTerm.app"), ("COLORTERM", "truecolor")],
                Iterm2,
            ),
            (
                &[("LC_TERMINAL", "iTerm2"), ("COLORTERM", "truecolor")],
                Iterm2,
            ),
            (
                &[("TERM_PROGRAM", "WezTerm"), ("TERM", "xterm-256color")],
                Iterm2,
            ),
            (&[("TERM", "foot")], Sixel),
            (&[("TERM", "mlterm"), ("COLORTERM", "truecolor")], Sixel),
            // Inside tmux the outer terminal does not matter: half blocks, with truecolor.
            (
                &[
                    ("TERM", "tmux-256color"),
                    ("TMUX", "/tmp/tmux-0/default,1,0"),
                    ("KITTY_WINDOW_ID", "3"),
                    ("COLORTERM", "truecolor"),
                ],
                Halfblocks,
            ),
            (&[("TERM", "screen-256color"), ("TMUX", "x")], Off),
            (
                &[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")],
                Halfblocks,
            ),
            (&[("TERM", "alacritty")], Halfblocks),
            (&[("TERM", "xterm-256color")], Off),
            (&[("TERM", "linux")], Off),
            (&[], Off),
        ];
        for (vars, want) in cases {
            assert_eq!(pick("auto", vars), Ok(*want), "{vars:?}");
            assert_eq!(pick("", vars), Ok(*want), "{vars:?}");
        }
    }

    #[test]
    fn the_setting_overrides_detection_and_bad_values_are_refused() {
        let kitty = [("TERM", "xterm-kitty")];
        assert_eq!(pick("sixel", &kitty), Ok(ArtMode::Sixel));
        assert_eq!(pick("ITerm2", &[]), Ok(ArtMode::Iterm2));
        assert_eq!(pick("halfblocks", &kitty), Ok(ArtMode::Halfblocks));
        assert_eq!(pick("kitty", &[("TMUX", "x")]), Ok(ArtMode::Kitty));
        for off in ["off", "0", "no", "false"] {
            assert_eq!(pick(off, &kitty), Ok(ArtMode::Off));
        }
        let err = pick("jpeg", &kitty).unwrap_err();
        assert!(
            err.to_string()
                .contains("auto, kitty, sixel, iterm2, halfblocks or off")
        );
    }
}
