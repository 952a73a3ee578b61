//! The TUI's state and its one pure `update`: an [`Action`] (a key, a mouse click, a result from
//! background work) changes [`AppState`] and returns the [`Effect`]s the runtime must carry out
//! (mirror reads, playback, playlist edits, sync). Nothing here does IO, so every key can be
//! tested without a terminal.

use super::keymap::{Command, Keymap};
pub use super::lyrics::LyricsPane;
use crate::connectivity::Link;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use mixtape_shared::api::Lyrics;
use mixtape_shared::{AlbumId, ArtistId, EntryId, PlaylistId, TrackId};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Library,
    Search,
    Playlists,
    Queue,
    NowPlaying,
    Recommendations,
    Downloads,
}

impl View {
    pub const ALL: [View; 7] = [
        View::Library,
        View::Search,
        View::Playlists,
        View::Queue,
        View::NowPlaying,
        View::Recommendations,
        View::Downloads,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Library => "Library",
            View::Search => "Search",
            View::Playlists => "Playlists",
            View::Queue => "Queue",
            View::NowPlaying => "Playing",
            View::Recommendations => "For You",
            View::Downloads => "Downloads",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// A track as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRow {
    pub id: TrackId,
    pub title: String,
    pub artists: String,
    pub album: String,
    pub duration_ms: u64,
    pub cached: bool,
    /// Content hash of the cover art, when the track has some.
    pub cover_art: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtistRow {
    pub id: ArtistId,
    pub name: String,
    pub albums: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbumRow {
    pub id: AlbumId,
    pub title: String,
    pub year: Option<i32>,
    pub tracks: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaylistRow {
    pub id: PlaylistId,
    pub name: String,
    pub entries: usize,
    pub offline: bool,
    pub pending_ops: usize,
    pub mine: bool,
}

/// A cursor in a list: which row is selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
}

impl Cursor {
    fn step(&mut self, len: usize, delta: isize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let next = self.selected as isize + delta;
        self.selected = next.clamp(0, len as isize - 1) as usize;
    }

    fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibraryState {
    pub artists: Vec<ArtistRow>,
    pub albums: Vec<AlbumRow>,
    pub tracks: Vec<TrackRow>,
    /// 0 artists, 1 albums, 2 tracks.
    pub column: usize,
    pub cursors: [Cursor; 3],
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchState {
    pub input: String,
    pub results: Vec<TrackRow>,
    pub cursor: Cursor,
    /// Typing goes to the input; otherwise keys navigate the results.
    pub editing: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaylistsState {
    pub list: Vec<PlaylistRow>,
    pub entries: Vec<(EntryId, TrackRow)>,
    /// 0 the list, 1 the entries.
    pub column: usize,
    pub cursors: [Cursor; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repeat {
    #[default]
    Off,
    All,
    One,
}

impl Repeat {
    pub fn next(self) -> Self {
        match self {
            Repeat::Off => Repeat::All,
            Repeat::All => Repeat::One,
            Repeat::One => Repeat::Off,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Repeat::Off => "off",
            Repeat::All => "all",
            Repeat::One => "one",
        }
    }
}

/// What the player reports, as the TUI shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Playback {
    pub current: Option<usize>,
    pub position_ms: u64,
    pub paused: bool,
    pub volume: u8,
    pub shuffle: bool,
    pub repeat: Repeat,
    /// e.g. "FLAC 44.1 kHz 2 ch 905 kbit/s".
    pub format: String,
    pub buffering: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownloadsInfo {
    pub cache_used: u64,
    pub cache_cap: u64,
    pub cached_files: u64,
    pub pinned_files: u64,
    pub partial_bytes: u64,
    pub pending_ops: u64,
    pub pending_events: u64,
    /// (playlist name, bytes done, bytes total) of a download in progress.
    pub progress: Option<(String, u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    NewPlaylist,
    Rename(PlaylistId),
    /// Choose a playlist to add these tracks to.
    PickPlaylist(Vec<TrackId>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    pub cursor: Cursor,
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub keymap: Keymap,
    pub view: View,
    pub library: LibraryState,
    pub search: SearchState,
    pub playlists: PlaylistsState,
    pub queue: Vec<TrackRow>,
    pub queue_cursor: Cursor,
    pub playback: Playback,
    pub recommendations: Vec<TrackRow>,
    pub recommendations_note: String,
    pub downloads: DownloadsInfo,
    pub link: Link,
    /// "synced", "syncing…", or what went wrong.
    pub sync_status: String,
    pub server: String,
    /// The `stream_quality` and `download_quality` settings, shown in Downloads.
    pub qualities: (String, String),
    pub prompt: Option<Prompt>,
    pub show_help: bool,
    /// A one-line message in the status bar (last action's outcome).
    pub message: Option<String>,
    /// Rows of the list area, for page up/down and mouse hits (set by the renderer).
    pub page_rows: usize,
    /// The playing track's cover art, when loaded (and the terminal can show it).
    pub cover: Option<Arc<Cover>>,
    /// The lyrics of the playing track (or of the last one, until the new one's arrive).
    pub lyrics: Option<LyricsPane>,
    /// The cover of the album the Library's tracks column shows, when loaded.
    pub album_cover: Option<Arc<Cover>>,
    pub quit: bool,
}

/// Something that happened: input, or the result of background work.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Artists(Vec<ArtistRow>),
    Albums(Vec<AlbumRow>),
    Tracks(Vec<TrackRow>),
    SearchResults(String, Vec<TrackRow>),
    Playlists(Vec<PlaylistRow>),
    PlaylistEntries(PlaylistId, Vec<(EntryId, TrackRow)>),
    Recommendations(Vec<TrackRow>, String),
    Downloads(DownloadsInfo),
    Playback(Playback),
    /// The queue the player restored at start, with where it stands.
    Queue(Vec<TrackRow>, Playback),
    Link(Link),
    SyncStatus(String),
    Message(String),
    /// A command from outside the terminal (MPRIS: media keys, desktop widgets).
    Remote(RemoteCommand),
    /// The current track's cover art, loaded and downscaled off the UI thread (`None`: none).
    Cover(Option<Arc<Cover>>),
    /// A track's lyrics, from the mirror or the server (`None`: it has none).
    Lyrics(TrackId, Option<Arc<Lyrics>>),
    /// The Library album's cover art, loaded off the UI thread (`None`: none).
    AlbumCover(Option<Arc<Cover>>),
}

/// What a remote control (MPRIS) asks; [`update`] turns it into the effects the keys produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteCommand {
    PlayPause,
    Play,
    Pause,
    Stop,
    Next,
    Previous,
    /// Move by this many milliseconds (negative: back).
    SeekBy(i64),
    /// Go to this position in the current track, in milliseconds.
    SetPosition(u64),
    /// 0..=100.
    SetVolume(u8),
    SetShuffle(bool),
    SetRepeat(Repeat),
}

/// A track's cover art, downscaled (at most [`Cover::MAX_SIDE`] pixels a side) and ready to be
/// drawn with half blocks at any size.
pub struct Cover {
    /// The art's content hash: the track it belongs to.
    pub hash: String,
    pub image: image::RgbImage,
    /// The last rendering: (width, height in cells) and its pixels (height × 2 rows).
    rendered: Mutex<Option<((u16, u16), image::RgbImage)>>,
    /// The image encoded for the terminal's image protocol (kitty, sixel, iTerm2), when it has
    /// one; re-encoded by ratatui-image when the area changes size.
    pub protocol: Option<Mutex<ratatui_image::protocol::StatefulProtocol>>,
}

impl Cover {
    pub const MAX_SIDE: u32 = 128;

    pub fn new(hash: String, image: image::RgbImage) -> Self {
        Self {
            hash,
            image,
            rendered: Mutex::new(None),
            protocol: None,
        }
    }

    /// Drawn through an image protocol instead of half blocks.
    pub fn with_protocol(mut self, protocol: ratatui_image::protocol::StatefulProtocol) -> Self {
        self.protocol = Some(Mutex::new(protocol));
        self
    }

    /// The art resized to `cols` × `rows` cells (two pixels a cell, one above the other),
    /// computed once per size.
    pub fn pixels(&self, cols: u16, rows: u16) -> image::RgbImage {
        let mut last = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((size, pixels)) = last.as_ref()
            && *size == (cols, rows)
        {
            return pixels.clone();
        }
        let pixels = image::imageops::resize(
            &self.image,
            cols.max(1) as u32,
            rows.max(1) as u32 * 2,
            image::imageops::FilterType::Triangle,
        );
        *last = Some(((cols, rows), pixels.clone()));
        pixels
    }
}

impl std::fmt::Debug for Cover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cover({} {}x{})",
            self.hash,
            self.image.width(),
            self.image.height()
        )
    }
}

impl PartialEq for Cover {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.image == other.image
    }
}

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadAlbums(ArtistId),
    LoadAlbumTracks(AlbumId),
    Search(String),
    LoadPlaylist(PlaylistId),
    /// Replace the queue with these tracks and play from `index`.
    PlayQueue(Vec<TrackRow>, usize),
    /// Append to the queue.
    Enqueue(Vec<TrackRow>),
    PlayIndex(usize),
    RemoveFromQueue(usize),
    TogglePause,
    /// Stop playing (the queue stays).
    Stop,
    NextTrack,
    PrevTrack,
    SeekBy(i64),
    SetVolume(u8),
    SetShuffle(bool),
    SetRepeat(Repeat),
    CreatePlaylist(String),
    RenamePlaylist(PlaylistId, String),
    AddToPlaylist(PlaylistId, Vec<TrackId>),
    RemoveEntry(PlaylistId, EntryId),
    MoveEntry(PlaylistId, EntryId, usize),
    SetOffline(PlaylistId, bool),
    LoadRecommendations,
    RefreshDownloads,
    Sync,
    /// Stream at the server's next profile after the current one.
    CycleStreamQuality,
    Quit,
}

impl AppState {
    pub fn new(keymap: Keymap, server: String) -> Self {
        Self {
            keymap,
            view: View::Library,
            library: LibraryState::default(),
            search: SearchState::default(),
            playlists: PlaylistsState::default(),
            queue: Vec::new(),
            queue_cursor: Cursor::default(),
            playback: Playback {
                volume: 100,
                ..Default::default()
            },
            recommendations: Vec::new(),
            recommendations_note: String::new(),
            downloads: DownloadsInfo::default(),
            link: Link::Online,
            sync_status: String::new(),
            server,
            qualities: (
                crate::quality::ORIGINAL.to_owned(),
                crate::quality::ORIGINAL.to_owned(),
            ),
            prompt: None,
            show_help: false,
            message: None,
            page_rows: 10,
            cover: None,
            lyrics: None,
            album_cover: None,
            quit: false,
        }
    }

    pub fn now_playing(&self) -> Option<&TrackRow> {
        self.playback.current.and_then(|i| self.queue.get(i))
    }

    fn selected_track(&self) -> Option<&TrackRow> {
        match self.view {
            View::Library if self.library.column == 2 => {
                self.library.tracks.get(self.library.cursors[2].selected)
            }
            View::Search => self.search.results.get(self.search.cursor.selected),
            View::Playlists if self.playlists.column == 1 => self
                .playlists
                .entries
                .get(self.playlists.cursors[1].selected)
                .map(|(_, t)| t),
            View::Queue => self.queue.get(self.queue_cursor.selected),
            View::Recommendations => self.recommendations.get(self.queue_cursor.selected),
            _ => None,
        }
    }

    /// The tracks an "add"/"enqueue" acts on: the selected track, or all of the selected
    /// album's or playlist's when a container is selected.
    fn selected_tracks(&self) -> Vec<TrackRow> {
        match self.view {
            View::Library if self.library.column < 2 => self.library.tracks.clone(),
            View::Playlists if self.playlists.column == 0 => self
                .playlists
                .entries
                .iter()
                .map(|(_, t)| t.clone())
                .collect(),
            _ => self.selected_track().cloned().into_iter().collect(),
        }
    }

    fn selected_playlist(&self) -> Option<&PlaylistRow> {
        self.playlists.list.get(self.playlists.cursors[0].selected)
    }
}

/// Applies one action; returns the work it asks for.
pub fn update(state: &mut AppState, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(state, key),
        Action::Mouse(mouse) => on_mouse(state, mouse),
        Action::Artists(rows) => {
            state.library.artists = rows;
            state.library.cursors[0].clamp(state.library.artists.len());
            state
                .library
                .artists
                .get(state.library.cursors[0].selected)
                .map(|a| vec![Effect::LoadAlbums(a.id)])
                .unwrap_or_default()
        }
        Action::Albums(rows) => {
            state.library.albums = rows;
            state.library.cursors[1] = Cursor::default();
            state
                .library
                .albums
                .first()
                .map(|a| vec![Effect::LoadAlbumTracks(a.id)])
                .unwrap_or_default()
        }
        Action::Tracks(rows) => {
            state.library.tracks = rows;
            state.library.cursors[2].clamp(state.library.tracks.len());
            vec![]
        }
        Action::SearchResults(query, rows) => {
            // A late answer to an older query is dropped.
            if query == state.search.input {
                state.search.results = rows;
                state.search.cursor.clamp(state.search.results.len());
            }
            vec![]
        }
        Action::Playlists(rows) => {
            state.playlists.list = rows;
            state.playlists.cursors[0].clamp(state.playlists.list.len());
            state
                .selected_playlist()
                .map(|p| vec![Effect::LoadPlaylist(p.id)])
                .unwrap_or_default()
        }
        Action::PlaylistEntries(id, entries) => {
            if state.selected_playlist().is_some_and(|p| p.id == id) {
                state.playlists.entries = entries;
                state.playlists.cursors[1].clamp(state.playlists.entries.len());
            }
            vec![]
        }
        Action::Recommendations(rows, note) => {
            state.recommendations = rows;
            state.recommendations_note = note;
            vec![]
        }
        Action::Downloads(info) => {
            state.downloads = info;
            vec![]
        }
        Action::Playback(p) => {
            state.playback = p;
            vec![]
        }
        Action::Queue(rows, p) => {
            state.queue = rows;
            state.queue_cursor.selected = p.current.unwrap_or(0);
            state.playback = p;
            vec![]
        }
        Action::Link(link) => {
            state.link = link;
            vec![]
        }
        Action::SyncStatus(s) => {
            state.sync_status = s;
            vec![]
        }
        Action::Message(m) => {
            state.message = Some(m);
            vec![]
        }
        Action::Remote(command) => on_remote(state, command),
        Action::Cover(cover) => {
            // Art that arrives after its track has gone is dropped.
            let current = state.now_playing().and_then(|t| t.cover_art.as_deref());
            state.cover = cover.filter(|c| Some(c.hash.as_str()) == current);
            vec![]
        }
        Action::AlbumCover(cover) => {
            // Art of an album no longer shown is dropped.
            let shown = super::art::album_art(state);
            state.album_cover = cover.filter(|c| Some(&c.hash) == shown.as_ref());
            vec![]
        }
        Action::Lyrics(track, lyrics) => {
            // Lyrics that arrive after their track has gone are dropped.
            if state.now_playing().map(|t| t.id) == Some(track) {
                state.lyrics = Some(LyricsPane {
                    track,
                    lyrics,
                    scroll: 0,
                });
            }
            vec![]
        }
    }
}

/// A remote command: the same effects as the keys that do the same.
fn on_remote(state: &mut AppState, command: RemoteCommand) -> Vec<Effect> {
    let playing = state.now_playing().is_some() && !state.playback.paused;
    match command {
        RemoteCommand::PlayPause => on_command(state, Command::PlayPause),
        RemoteCommand::Play if !playing && !state.queue.is_empty() => {
            on_command(state, Command::PlayPause)
        }
        RemoteCommand::Pause if playing => on_command(state, Command::PlayPause),
        RemoteCommand::Play | RemoteCommand::Pause => vec![],
        RemoteCommand::Stop => vec![Effect::Stop],
        RemoteCommand::Next => on_command(state, Command::NextTrack),
        RemoteCommand::Previous => on_command(state, Command::PrevTrack),
        RemoteCommand::SeekBy(delta) => vec![Effect::SeekBy(delta)],
        RemoteCommand::SetPosition(ms) => {
            vec![Effect::SeekBy(
                ms as i64 - state.playback.position_ms as i64,
            )]
        }
        RemoteCommand::SetVolume(v) => {
            state.playback.volume = v.min(100);
            vec![Effect::SetVolume(state.playback.volume)]
        }
        RemoteCommand::SetShuffle(on) => {
            state.playback.shuffle = on;
            vec![Effect::SetShuffle(on)]
        }
        RemoteCommand::SetRepeat(r) => {
            state.playback.repeat = r;
            vec![Effect::SetRepeat(r)]
        }
    }
}

fn on_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    if key.kind == crossterm::event::KeyEventKind::Release {
        return vec![];
    }
    if state.prompt.is_some() {
        return on_prompt_key(state, key);
    }
    if state.view == View::Search && state.search.editing {
        return on_search_input(state, key);
    }
    let Some(command) = state.keymap.command(&key) else {
        return vec![];
    };
    if state.show_help {
        state.show_help = false;
        if matches!(command, Command::Help | Command::Back) {
            return vec![];
        }
    }
    state.message = None;
    on_command(state, command)
}

fn switch_to(state: &mut AppState, view: View) -> Vec<Effect> {
    state.view = view;
    match view {
        View::Search => {
            state.search.editing = true;
            vec![]
        }
        View::Playlists => state
            .selected_playlist()
            .map(|p| vec![Effect::LoadPlaylist(p.id)])
            .unwrap_or_default(),
        View::Recommendations => vec![Effect::LoadRecommendations],
        View::Downloads => vec![Effect::RefreshDownloads],
        _ => vec![],
    }
}

fn on_command(state: &mut AppState, command: Command) -> Vec<Effect> {
    let page = state.page_rows.max(1) as isize;
    match command {
        Command::Quit => {
            state.quit = true;
            vec![Effect::Quit]
        }
        Command::Help => {
            state.show_help = true;
            vec![]
        }
        Command::Back => {
            if state.view == View::Library && state.library.column > 0 {
                state.library.column -= 1;
            } else if state.view == View::Playlists && state.playlists.column > 0 {
                state.playlists.column = 0;
            }
            vec![]
        }
        Command::NextView => {
            let next = View::ALL[(state.view.index() + 1) % View::ALL.len()];
            switch_to(state, next)
        }
        Command::PrevView => {
            let prev = View::ALL[(state.view.index() + View::ALL.len() - 1) % View::ALL.len()];
            switch_to(state, prev)
        }
        Command::ViewLibrary => switch_to(state, View::Library),
        Command::ViewSearch => switch_to(state, View::Search),
        Command::ViewPlaylists => switch_to(state, View::Playlists),
        Command::ViewQueue => switch_to(state, View::Queue),
        Command::ViewNowPlaying => switch_to(state, View::NowPlaying),
        Command::ViewRecommendations => switch_to(state, View::Recommendations),
        Command::ViewDownloads => switch_to(state, View::Downloads),
        Command::Up => move_cursor(state, -1),
        Command::Down => move_cursor(state, 1),
        Command::PageUp => move_cursor(state, -page),
        Command::PageDown => move_cursor(state, page),
        Command::Top => move_cursor(state, isize::MIN / 2),
        Command::Bottom => move_cursor(state, isize::MAX / 2),
        Command::Left => {
            match state.view {
                View::Library => state.library.column = state.library.column.saturating_sub(1),
                View::Playlists => state.playlists.column = 0,
                _ => {}
            }
            vec![]
        }
        Command::Right => {
            match state.view {
                View::Library => state.library.column = (state.library.column + 1).min(2),
                View::Playlists if !state.playlists.entries.is_empty() => {
                    state.playlists.column = 1
                }
                _ => {}
            }
            vec![]
        }
        Command::Activate => activate(state),
        Command::PlayPause => vec![Effect::TogglePause],
        Command::NextTrack => vec![Effect::NextTrack],
        Command::PrevTrack => vec![Effect::PrevTrack],
        Command::SeekForward => vec![Effect::SeekBy(10_000)],
        Command::SeekBack => vec![Effect::SeekBy(-10_000)],
        Command::VolumeUp => {
            state.playback.volume = state.playback.volume.saturating_add(5).min(100);
            vec![Effect::SetVolume(state.playback.volume)]
        }
        Command::VolumeDown => {
            state.playback.volume = state.playback.volume.saturating_sub(5);
            vec![Effect::SetVolume(state.playback.volume)]
        }
        Command::Shuffle => {
            state.playback.shuffle = !state.playback.shuffle;
            vec![Effect::SetShuffle(state.playback.shuffle)]
        }
        Command::Repeat => {
            state.playback.repeat = state.playback.repeat.next();
            vec![Effect::SetRepeat(state.playback.repeat)]
        }
        Command::Enqueue => {
            let tracks = state.selected_tracks();
            if tracks.is_empty() {
                return vec![];
            }
            state.message = Some(format!("{} track(s) queued", tracks.len()));
            vec![Effect::Enqueue(tracks)]
        }
        Command::AddToPlaylist => {
            let ids: Vec<TrackId> = state.selected_tracks().iter().map(|t| t.id).collect();
            if ids.is_empty() {
                state.message = Some("select a track, an album or a playlist first".into());
                return vec![];
            }
            state.prompt = Some(Prompt {
                kind: PromptKind::PickPlaylist(ids),
                input: String::new(),
                cursor: Cursor::default(),
            });
            vec![]
        }
        Command::RemoveEntry => match state.view {
            View::Playlists if state.playlists.column == 1 => {
                let (Some(p), Some((entry, _))) = (
                    state.selected_playlist(),
                    state
                        .playlists
                        .entries
                        .get(state.playlists.cursors[1].selected),
                ) else {
                    return vec![];
                };
                vec![Effect::RemoveEntry(p.id, *entry)]
            }
            View::Queue if !state.queue.is_empty() => {
                if state.playback.current == Some(state.queue_cursor.selected) {
                    state.message = Some("the track playing stays in the queue".into());
                    return vec![];
                }
                vec![Effect::RemoveFromQueue(state.queue_cursor.selected)]
            }
            _ => vec![],
        },
        Command::MoveEntryUp | Command::MoveEntryDown => {
            if state.view != View::Playlists || state.playlists.column != 1 {
                return vec![];
            }
            let at = state.playlists.cursors[1].selected;
            let target = if command == Command::MoveEntryUp {
                at.checked_sub(1)
            } else {
                (at + 1 < state.playlists.entries.len()).then_some(at + 1)
            };
            let (Some(target), Some(p)) = (target, state.selected_playlist()) else {
                return vec![];
            };
            let id = p.id;
            let entry = state.playlists.entries[at].0;
            // Show the move at once; the reload after the edit confirms it.
            state.playlists.entries.swap(at, target);
            state.playlists.cursors[1].selected = target;
            vec![Effect::MoveEntry(id, entry, target)]
        }
        Command::RenamePlaylist => {
            if state.view != View::Playlists {
                return vec![];
            }
            let Some(p) = state.selected_playlist() else {
                return vec![];
            };
            state.prompt = Some(Prompt {
                kind: PromptKind::Rename(p.id),
                input: p.name.clone(),
                cursor: Cursor::default(),
            });
            vec![]
        }
        Command::NewPlaylist => {
            state.prompt = Some(Prompt {
                kind: PromptKind::NewPlaylist,
                input: String::new(),
                cursor: Cursor::default(),
            });
            vec![]
        }
        Command::ToggleOffline => {
            if state.view != View::Playlists {
                return vec![];
            }
            state
                .selected_playlist()
                .map(|p| vec![Effect::SetOffline(p.id, !p.offline)])
                .unwrap_or_default()
        }
        Command::CycleStreamQuality => vec![Effect::CycleStreamQuality],
        Command::Sync => {
            state.sync_status = "syncing…".into();
            vec![Effect::Sync]
        }
    }
}

fn move_cursor(state: &mut AppState, delta: isize) -> Vec<Effect> {
    match state.view {
        View::Library => {
            let col = state.library.column;
            let len = [
                state.library.artists.len(),
                state.library.albums.len(),
                state.library.tracks.len(),
            ][col];
            let before = state.library.cursors[col].selected;
            state.library.cursors[col].step(len, delta);
            if state.library.cursors[col].selected == before {
                return vec![];
            }
            match col {
                0 => state
                    .library
                    .artists
                    .get(state.library.cursors[0].selected)
                    .map(|a| vec![Effect::LoadAlbums(a.id)])
                    .unwrap_or_default(),
                1 => state
                    .library
                    .albums
                    .get(state.library.cursors[1].selected)
                    .map(|a| vec![Effect::LoadAlbumTracks(a.id)])
                    .unwrap_or_default(),
                _ => vec![],
            }
        }
        View::Search => {
            state.search.cursor.step(state.search.results.len(), delta);
            vec![]
        }
        View::Playlists => {
            let col = state.playlists.column;
            let len = [state.playlists.list.len(), state.playlists.entries.len()][col];
            let before = state.playlists.cursors[col].selected;
            state.playlists.cursors[col].step(len, delta);
            if col == 0 && state.playlists.cursors[0].selected != before {
                state.playlists.entries.clear();
                state.playlists.cursors[1] = Cursor::default();
                return state
                    .selected_playlist()
                    .map(|p| vec![Effect::LoadPlaylist(p.id)])
                    .unwrap_or_default();
            }
            vec![]
        }
        View::Queue => {
            state.queue_cursor.step(state.queue.len(), delta);
            vec![]
        }
        View::Recommendations => {
            state.queue_cursor.step(state.recommendations.len(), delta);
            vec![]
        }
        View::NowPlaying => {
            if let Some(pane) = &mut state.lyrics {
                pane.scroll_by(delta);
            }
            vec![]
        }
        View::Downloads => vec![],
    }
}

fn activate(state: &mut AppState) -> Vec<Effect> {
    match state.view {
        View::Library => {
            if state.library.column < 2 {
                state.library.column += 1;
                return vec![];
            }
            play_list(
                state.library.tracks.clone(),
                state.library.cursors[2].selected,
            )
        }
        View::Search => play_list(state.search.results.clone(), state.search.cursor.selected),
        View::Playlists => {
            if state.playlists.column == 0 {
                if !state.playlists.entries.is_empty() {
                    state.playlists.column = 1;
                }
                return vec![];
            }
            let tracks = state
                .playlists
                .entries
                .iter()
                .map(|(_, t)| t.clone())
                .collect();
            play_list(tracks, state.playlists.cursors[1].selected)
        }
        View::Queue if !state.queue.is_empty() => {
            vec![Effect::PlayIndex(state.queue_cursor.selected)]
        }
        View::Recommendations => {
            play_list(state.recommendations.clone(), state.queue_cursor.selected)
        }
        _ => vec![],
    }
}

fn play_list(tracks: Vec<TrackRow>, index: usize) -> Vec<Effect> {
    if index >= tracks.len() {
        return vec![];
    }
    vec![Effect::PlayQueue(tracks, index)]
}

fn on_search_input(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('c') if ctrl => {
            state.quit = true;
            vec![Effect::Quit]
        }
        KeyCode::Char('u') if ctrl => {
            state.search.input.clear();
            state.search.results.clear();
            vec![]
        }
        KeyCode::Char(c) => {
            state.search.input.push(c);
            vec![Effect::Search(state.search.input.clone())]
        }
        KeyCode::Backspace => {
            state.search.input.pop();
            if state.search.input.is_empty() {
                state.search.results.clear();
                return vec![];
            }
            vec![Effect::Search(state.search.input.clone())]
        }
        KeyCode::Enter | KeyCode::Down => {
            state.search.editing = false;
            if key.code == KeyCode::Enter && !state.search.results.is_empty() {
                return vec![];
            }
            vec![]
        }
        KeyCode::Esc | KeyCode::Tab => {
            state.search.editing = false;
            if key.code == KeyCode::Tab {
                return on_command(state, Command::NextView);
            }
            vec![]
        }
        _ => vec![],
    }
}

fn on_prompt_key(state: &mut AppState, key: KeyEvent) -> Vec<Effect> {
    let Some(prompt) = state.prompt.as_mut() else {
        return vec![];
    };
    if let PromptKind::PickPlaylist(tracks) = &prompt.kind {
        let mine: Vec<&PlaylistRow> = state.playlists.list.iter().filter(|p| p.mine).collect();
        match key.code {
            KeyCode::Esc => state.prompt = None,
            KeyCode::Up | KeyCode::Char('k') => prompt.cursor.step(mine.len(), -1),
            KeyCode::Down | KeyCode::Char('j') => prompt.cursor.step(mine.len(), 1),
            KeyCode::Enter => {
                let effect = mine
                    .get(prompt.cursor.selected)
                    .map(|p| Effect::AddToPlaylist(p.id, tracks.clone()));
                state.prompt = None;
                return effect.into_iter().collect();
            }
            _ => {}
        }
        return vec![];
    }
    match key.code {
        KeyCode::Esc => state.prompt = None,
        KeyCode::Backspace => {
            prompt.input.pop();
        }
        KeyCode::Enter => {
            let name = prompt.input.trim().to_string();
            if name.is_empty() {
                return vec![];
            }
            let effect = match &prompt.kind {
                PromptKind::NewPlaylist => Effect::CreatePlaylist(name),
                PromptKind::Rename(id) => Effect::RenamePlaylist(*id, name),
                PromptKind::PickPlaylist(_) => return vec![],
            };
            state.prompt = None;
            return vec![effect];
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => prompt.input.push(c),
        _ => {}
    }
    vec![]
}

/// Layout facts the mouse handler needs: where the tab bar and list rows are.
pub const TAB_ROW: u16 = 0;
pub const LIST_TOP: u16 = 2;

fn on_mouse(state: &mut AppState, mouse: MouseEvent) -> Vec<Effect> {
    match mouse.kind {
        MouseEventKind::ScrollDown => move_cursor(state, 3),
        MouseEventKind::ScrollUp => move_cursor(state, -3),
        MouseEventKind::Down(MouseButton::Left) => {
            if mouse.row == TAB_ROW {
                // Tabs are drawn as " N Title " one after another.
                let mut x = 0u16;
                for view in View::ALL {
                    let width = (view.title().len() + 4) as u16;
                    if mouse.column >= x && mouse.column < x + width {
                        return switch_to(state, view);
                    }
                    x += width;
                }
                return vec![];
            }
            if mouse.row < LIST_TOP {
                return vec![];
            }
            // A click on a list row selects it (the row index within the visible page).
            let row = (mouse.row - LIST_TOP) as isize;
            let current = match state.view {
                View::Library => state.library.cursors[state.library.column].selected,
                View::Search => state.search.cursor.selected,
                View::Playlists => state.playlists.cursors[state.playlists.column].selected,
                _ => state.queue_cursor.selected,
            } as isize;
            let page = state.page_rows.max(1) as isize;
            let first_visible = (current / page) * page;
            move_cursor(state, first_visible + row - current)
        }
        _ => vec![],
    }
}
