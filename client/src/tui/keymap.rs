//! Key bindings: every command the TUI understands, the default keys for it (vim keys and arrows),
//! and overrides from `[keys]` in config.toml (`command = ["key", ...]`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

macro_rules! commands {
    ($($name:ident => $config:literal, $help:literal, [$($key:literal),*];)*) => {
        /// What a key can do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Command { $($name),* }

        impl Command {
            pub const ALL: &'static [Command] = &[$(Command::$name),*];

            /// The name used in config.toml.
            pub fn config_name(self) -> &'static str {
                match self { $(Command::$name => $config),* }
            }

            pub fn help(self) -> &'static str {
                match self { $(Command::$name => $help),* }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Command::$name => &[$($key),*]),* }
            }
        }
    };
}

commands! {
    Up => "up", "move up", ["k", "up"];
    Down => "down", "move down", ["j", "down"];
    Left => "left", "previous column", ["h", "left"];
    Right => "right", "next column", ["l", "right"];
    Top => "top", "first item", ["g", "home"];
    Bottom => "bottom", "last item", ["G", "end"];
    PageUp => "page_up", "page up", ["ctrl-u", "pageup"];
    PageDown => "page_down", "page down", ["ctrl-d", "pagedown"];
    Activate => "activate", "open / play", ["enter"];
    Back => "back", "close / cancel", ["esc"];
    NextView => "next_view", "next view", ["tab"];
    PrevView => "prev_view", "previous view", ["backtab"];
    ViewLibrary => "view_library", "Library", ["1"];
    ViewSearch => "view_search", "Search", ["2", "/"];
    ViewPlaylists => "view_playlists", "Playlists", ["3"];
    ViewQueue => "view_queue", "Queue", ["4"];
    ViewNowPlaying => "view_now_playing", "Now Playing", ["5"];
    ViewRecommendations => "view_recommendations", "Recommendations", ["6"];
    ViewDownloads => "view_downloads", "Downloads", ["7"];
    PlayPause => "play_pause", "play / pause", ["space"];
    NextTrack => "next_track", "next track", [">", "n"];
    PrevTrack => "prev_track", "previous track", ["<", "p"];
    SeekForward => "seek_forward", "seek +10 s", ["]"];
    SeekBack => "seek_back", "seek -10 s", ["["];
    VolumeUp => "volume_up", "volume up", ["=", "+"];
    VolumeDown => "volume_down", "volume down", ["-"];
    Shuffle => "shuffle", "shuffle on/off", ["s"];
    Repeat => "repeat", "repeat off / all / one", ["r"];
    Enqueue => "enqueue", "add to the queue", ["e"];
    AddToPlaylist => "add_to_playlist", "add to a playlist", ["a"];
    RemoveEntry => "remove_entry", "remove entry / from queue", ["d", "delete"];
    MoveEntryUp => "move_entry_up", "move entry up", ["K"];
    MoveEntryDown => "move_entry_down", "move entry down", ["J"];
    RenamePlaylist => "rename_playlist", "rename playlist", ["R"];
    NewPlaylist => "new_playlist", "new playlist", ["N"];
    ToggleOffline => "toggle_offline", "keep playlist offline", ["o"];
    Sync => "sync", "sync now", ["S"];
    CycleStreamQuality => "cycle_stream_quality", "next stream quality", ["Q"];
    Help => "help", "show every binding", ["?"];
    Quit => "quit", "quit", ["q", "ctrl-c"];
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Self {
        // Shifted letters arrive as uppercase already, so the code alone says which key.
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    /// Parses `j`, `G`, `ctrl-d`, `space`, `enter`, `esc`, `tab`, `backtab`, `up`, `pageup`, `f5`…
    pub fn parse(s: &str) -> Option<Self> {
        let (ctrl, name) = match s.strip_prefix("ctrl-") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let code = match name.to_ascii_lowercase().as_str() {
            "space" => KeyCode::Char(' '),
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "delete" | "del" => KeyCode::Delete,
            "backspace" => KeyCode::Backspace,
            f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
            _ => {
                let mut chars = name.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(c)
            }
        };
        Some(Key { code, ctrl })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "shift-tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Delete => "del".into(),
            KeyCode::F(n) => format!("f{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("ctrl-{base}")
        } else {
            base
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown command {0:?} in [keys] (see `?` in the TUI for the names)")]
    UnknownCommand(String),
    #[error(
        "cannot read key {key:?} for {command}: use e.g. \"j\", \"ctrl-d\", \"space\", \"pageup\""
    )]
    BadKey { command: String, key: String },
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<Key, Command>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings = HashMap::new();
        for &command in Command::ALL {
            for key in command.default_keys() {
                if let Some(key) = Key::parse(key) {
                    bindings.insert(key, command);
                }
            }
        }
        Self { bindings }
    }
}

impl Keymap {
    /// The defaults with `overrides` (command name → keys) replacing a command's keys.
    pub fn with_overrides(overrides: &HashMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        let mut map = Self::default();
        for (name, keys) in overrides {
            let command = Command::ALL
                .iter()
                .copied()
                .find(|c| c.config_name() == name)
                .ok_or_else(|| KeymapError::UnknownCommand(name.clone()))?;
            map.bindings.retain(|_, c| *c != command);
            for key in keys {
                let parsed = Key::parse(key).ok_or_else(|| KeymapError::BadKey {
                    command: name.clone(),
                    key: key.clone(),
                })?;
                map.bindings.insert(parsed, command);
            }
        }
        Ok(map)
    }

    pub fn command(&self, event: &KeyEvent) -> Option<Command> {
        self.bindings.get(&Key::from_event(event)).copied()
    }

    /// The keys bound to `command`, for the help screen.
    pub fn keys_for(&self, command: Command) -> Vec<String> {
        let mut keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, c)| **c == command)
            .map(|(k, _)| k.label())
            .collect();
        keys.sort();
        keys
    }
}
