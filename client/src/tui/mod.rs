//! The full-screen terminal interface (ratatui + crossterm), Elm-style: [`state::update`] is the
//! only place state changes; this runtime feeds it actions (keys from an input thread, results of
//! background work) and carries out the effects it returns: mirror reads here, sync and
//! downloads on their own threads, playback on the player's thread. It redraws only after
//! something happened, at most [`FRAME`] apart, and never spins.

pub mod keymap;
pub mod lyrics;
mod notify;
pub mod state;
pub mod text;
pub mod theme;
pub mod view;

pub mod art;
#[cfg(target_os = "linux")]
pub mod mpris;
mod playback;

pub use theme::{Theme, ThemeConfig};

use crate::api::ApiClient;
use crate::connectivity::{Connectivity, Link};
use crate::device::{Device, DeviceError};
use crate::mirror::{Mirror, MirrorError};
use crate::offline;
use crate::sync;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use mixtape_shared::api::{Lyrics, Track};
use mixtape_shared::sync::{Anchor, NewEntry, OpKind};
use mixtape_shared::{EntryId, PlaylistId, TrackId};
use state::{Action, AppState, DownloadsInfo, Effect, PlaylistRow, TrackRow};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// The shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the background sync runs while the TUI is open.
const SYNC_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error("config.toml [keys]: {0}")]
    Keys(#[from] keymap::KeymapError),
    #[error("config.toml [theme]: {0}")]
    Theme(#[from] theme::ThemeError),
    #[error("audio: {0}")]
    Audio(String),
    #[error(transparent)]
    Art(#[from] art::ArtModeError),
}

/// Messages to the UI loop.
pub(crate) enum Msg {
    Action(Action),
    Redraw,
    /// The MPRIS server is up on the session bus.
    #[cfg(target_os = "linux")]
    Mpris(mpris::Mpris),
    /// The server's answer for a track's lyrics, to keep in the mirror and show.
    Lyrics(TrackId, Option<Lyrics>),
    /// A pull changed tracks: the search index is built again ahead of the next keystroke.
    CatalogChanged,
}

/// A search result as the lists show it (the same row as [`row`] of its track).
pub(crate) fn summary_row(track: crate::mirror::TrackSummary, cached: bool) -> TrackRow {
    TrackRow {
        id: track.id,
        title: track.title,
        artists: track.artists,
        album: track.album,
        duration_ms: track.duration_ms,
        cached,
        cover_art: track.cover_art,
    }
}

pub(crate) fn row(track: &Track, cached: bool) -> TrackRow {
    TrackRow {
        id: track.id,
        title: track.title.clone(),
        artists: track
            .artists
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        album: track
            .album
            .as_ref()
            .map(|a| a.title.clone())
            .unwrap_or_default(),
        duration_ms: track.duration_ms,
        cached,
        cover_art: track.cover_art.clone(),
    }
}

/// Opens the TUI on `device` until the user quits. The audio output is chosen (and announced on
/// stderr) before the screen is taken.
pub fn run(device: Device) -> Result<(), TuiError> {
    let keymap = keymap::Keymap::with_overrides(&device.settings.keys)?;
    let theme = Theme::from_config(&device.settings.theme)?;
    let art_mode = art::choose(&device.settings.cover_art, |k| std::env::var(k).ok())?;
    let (tx, rx) = mpsc::channel();
    let player = playback::Bridge::start(&device, tx.clone())?;
    if let Some(notice) = player.notice() {
        eprintln!("mixtape: {notice}");
    }
    let server = device
        .session()
        .map(|s| s.server.clone())
        .unwrap_or_else(|| "(not logged in)".into());
    let mut state = AppState::new(keymap, server);
    state.qualities = (
        device.settings.stream_quality.clone(),
        device.settings.download_quality.clone(),
    );
    state.link = device.mirror.connectivity().unwrap_or_default().link;

    let mut terminal = ratatui::init();
    crossterm::execute!(std::io::stdout(), EnableMouseCapture)?;
    let result = Runtime {
        art: art::Loader::new(&device, art_mode, art::Target::NowPlaying),
        album_art: art::Loader::new(&device, art_mode, art::Target::Album),
        notify: if device.settings.notifications {
            notify::start()
        } else {
            None
        },
        lyrics: lyrics::Loader::new(
            device
                .session()
                .map(|s| (s.server.clone(), s.token.clone())),
        ),
        device,
        player,
        tx,
        theme,
        #[cfg(target_os = "linux")]
        mpris: None,
    }
    .run(&mut terminal, &mut state, rx);
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

struct Runtime {
    device: Device,
    player: playback::Bridge,
    tx: Sender<Msg>,
    theme: Theme,
    art: art::Loader,
    album_art: art::Loader,
    lyrics: lyrics::Loader,
    /// Desktop notifications on track change (none without a bus or when turned off).
    notify: Option<notify::Follower>,
    #[cfg(target_os = "linux")]
    mpris: Option<mpris::Mpris>,
}

impl Runtime {
    fn run(
        mut self,
        terminal: &mut ratatui::DefaultTerminal,
        state: &mut AppState,
        rx: Receiver<Msg>,
    ) -> Result<(), TuiError> {
        spawn_input(self.tx.clone());
        // The first frame goes out before anything is loaded: a 100k-track mirror must not delay it.
        self.draw(terminal, state)?;
        let mut pending = self.initial_effects()?;
        // Background work starts once the screen has what it shows first, so on a small machine
        // it does not compete with the first frames.
        spawn_syncer(&self.device, self.tx.clone());
        self.prepare_search();
        #[cfg(target_os = "linux")]
        mpris::spawn(self.tx.clone());
        let mut last_frame = Instant::now();
        loop {
            for effect in std::mem::take(&mut pending) {
                pending.extend(self.execute(state, effect)?);
            }
            if state.quit {
                break;
            }
            let Ok(msg) = rx.recv() else { break };
            let mut redraw = false;
            for msg in std::iter::once(msg).chain(rx.try_iter()) {
                match msg {
                    Msg::Redraw => redraw = true,
                    Msg::Action(action) => {
                        pending.extend(state::update(state, action));
                        redraw = true;
                    }
                    Msg::Lyrics(id, l) => {
                        let action = lyrics::fetched(&self.device.mirror, id, l);
                        pending.extend(state::update(state, action));
                        redraw = true;
                    }
                    #[cfg(target_os = "linux")]
                    Msg::Mpris(m) => self.mpris = Some(m),
                    Msg::CatalogChanged => self.prepare_search(),
                }
            }
            for effect in std::mem::take(&mut pending) {
                pending.extend(self.execute(state, effect)?);
            }
            if redraw && !state.quit {
                let since = last_frame.elapsed();
                if since < FRAME {
                    std::thread::sleep(FRAME - since);
                    // Whatever arrived meanwhile goes into this frame too.
                    for msg in rx.try_iter() {
                        match msg {
                            Msg::Action(action) => pending.extend(state::update(state, action)),
                            Msg::Lyrics(id, l) => {
                                let action = lyrics::fetched(&self.device.mirror, id, l);
                                pending.extend(state::update(state, action));
                            }
                            Msg::Redraw => {}
                            #[cfg(target_os = "linux")]
                            Msg::Mpris(m) => self.mpris = Some(m),
                            Msg::CatalogChanged => self.prepare_search(),
                        }
                    }
                    for effect in std::mem::take(&mut pending) {
                        pending.extend(self.execute(state, effect)?);
                    }
                }
                self.draw(terminal, state)?;
                last_frame = Instant::now();
            }
            self.art.follow(state, &self.tx);
            self.album_art.follow(state, &self.tx);
            self.lyrics.follow(state, &self.device.mirror, &self.tx);
            if let Some(n) = &mut self.notify {
                n.follow(state);
            }
            #[cfg(target_os = "linux")]
            if let Some(m) = &mut self.mpris {
                m.update(state);
            }
        }
        self.player.shutdown();
        Ok(())
    }

    fn draw(
        &self,
        terminal: &mut ratatui::DefaultTerminal,
        state: &mut AppState,
    ) -> Result<(), TuiError> {
        let size = terminal.size()?;
        state.page_rows = view::page_rows(size.height);
        terminal.draw(|frame| view::draw(frame, state, &self.theme))?;
        Ok(())
    }

    fn initial_effects(&mut self) -> Result<Vec<Effect>, TuiError> {
        let mut actions = vec![
            Action::Artists(load_artists(&self.device.mirror)?),
            Action::Playlists(load_playlists(&self.device.mirror)?),
            Action::Downloads(downloads_info(&self.device)?),
        ];
        if let Some(restored) = self.player.restored_queue(&self.device.mirror)? {
            actions.push(restored);
        }
        let mut effects = Vec::new();
        for a in actions {
            self.tx.send(Msg::Action(a)).ok();
        }
        effects.push(Effect::RefreshDownloads);
        Ok(effects)
    }

    fn cached(&self, track: &Track) -> bool {
        self.device.cache.contains(&track.content_hash)
    }

    /// The search index built on a thread of its own, so the first keystroke finds it ready.
    fn prepare_search(&self) {
        if let Err(e) = self.device.mirror.prepare_search() {
            tracing::warn!(error = %e, "could not start building the search index");
        }
    }

    fn rows(&self, tracks: &[Track]) -> Vec<TrackRow> {
        tracks.iter().map(|t| row(t, self.cached(t))).collect()
    }

    /// Carries out one effect; mirror reads answer at once with follow-up effects.
    fn execute(&mut self, state: &mut AppState, effect: Effect) -> Result<Vec<Effect>, TuiError> {
        let mirror = &self.device.mirror;
        let follow = match effect {
            Effect::LoadAlbums(artist) => {
                let albums = mirror
                    .albums_of(artist)?
                    .into_iter()
                    .map(|(id, title, year, tracks)| state::AlbumRow {
                        id,
                        title,
                        year,
                        tracks,
                    })
                    .collect();
                state::update(state, Action::Albums(albums))
            }
            Effect::LoadAlbumTracks(album) => {
                let tracks = self.rows(&mirror.album_tracks(album)?);
                state::update(state, Action::Tracks(tracks))
            }
            Effect::Search(query) => {
                let results = mirror
                    .search_rows(&query, 200)?
                    .into_iter()
                    .map(|t| {
                        let cached = self.device.cache.contains(&t.content_hash);
                        summary_row(t, cached)
                    })
                    .collect();
                state::update(state, Action::SearchResults(query, results))
            }
            Effect::LoadPlaylist(id) => {
                let p = mirror.find_playlist(&id.to_string());
                let entries = match p {
                    Ok(p) => {
                        let ids: Vec<TrackId> = p.entries.iter().map(|e| e.track_id).collect();
                        let tracks = mirror.tracks(&ids)?;
                        p.entries
                            .iter()
                            .filter_map(|e| {
                                tracks
                                    .iter()
                                    .find(|t| t.id == e.track_id)
                                    .map(|t| (e.entry_id, row(t, self.cached(t))))
                            })
                            .collect()
                    }
                    Err(_) => Vec::new(),
                };
                state::update(state, Action::PlaylistEntries(id, entries))
            }
            Effect::PlayQueue(tracks, index) => {
                self.player.play_queue(mirror, &tracks, index)?;
                state.queue = tracks;
                state.queue_cursor.selected = index;
                vec![]
            }
            Effect::Enqueue(tracks) => {
                self.player.enqueue(mirror, &tracks)?;
                state.queue.extend(tracks);
                vec![]
            }
            Effect::PlayIndex(i) => {
                self.player.play_index(i);
                vec![]
            }
            Effect::RemoveFromQueue(i) => {
                if i < state.queue.len() {
                    state.queue.remove(i);
                    if let Some(c) = state.playback.current.filter(|c| *c > i) {
                        state.playback.current = Some(c - 1);
                    }
                    self.player.remove(i);
                }
                vec![]
            }
            Effect::TogglePause => {
                self.player.toggle_pause();
                vec![]
            }
            Effect::Stop => {
                self.player.stop();
                vec![]
            }
            Effect::NextTrack => {
                self.player.next();
                vec![]
            }
            Effect::PrevTrack => {
                self.player.prev();
                vec![]
            }
            Effect::SeekBy(delta) => {
                let to = (state.playback.position_ms as i64 + delta).max(0) as u64;
                self.player.seek(to);
                vec![]
            }
            Effect::SetVolume(v) => {
                self.player.set_volume(v);
                vec![]
            }
            Effect::SetShuffle(on) => {
                self.player.set_shuffle(on);
                vec![]
            }
            Effect::SetRepeat(r) => {
                self.player.set_repeat(r);
                vec![]
            }
            Effect::CreatePlaylist(name) => {
                let id = PlaylistId::new_v7();
                self.device.mirror.enqueue_op(
                    id,
                    OpKind::Create {
                        name: name.clone(),
                        public: false,
                    },
                )?;
                self.after_edit(state, &format!("created {name}"))?
            }
            Effect::RenamePlaylist(id, name) => {
                self.device
                    .mirror
                    .enqueue_op(id, OpKind::Rename { name: name.clone() })?;
                self.after_edit(state, &format!("renamed to {name}"))?
            }
            Effect::AddToPlaylist(id, tracks) => {
                let entries = tracks
                    .iter()
                    .map(|t| NewEntry {
                        id: EntryId::new_v7(),
                        track_id: *t,
                    })
                    .collect();
                self.device.mirror.enqueue_op(
                    id,
                    OpKind::Add {
                        entries,
                        at: Anchor::End,
                    },
                )?;
                self.after_edit(state, &format!("added {} track(s)", tracks.len()))?
            }
            Effect::RemoveEntry(id, entry) => {
                self.device
                    .mirror
                    .enqueue_op(id, OpKind::Remove { entry })?;
                self.after_edit(state, "removed")?
            }
            Effect::MoveEntry(id, entry, position) => {
                let p = self.device.mirror.find_playlist(&id.to_string())?;
                let view = mixtape_shared::sync::PlaylistState::from_entries(
                    p.id,
                    p.name.clone(),
                    p.public,
                    0,
                    p.entries.iter().map(|e| (e.entry_id, e.track_id)),
                );
                let to = view.anchor_at(position, Some(entry));
                self.device
                    .mirror
                    .enqueue_op(id, OpKind::Move { entry, to })?;
                self.after_edit(state, "moved")?
            }
            Effect::SetOffline(id, on) => {
                let p = self.device.mirror.find_playlist(&id.to_string())?;
                if on {
                    let quality = self.device.settings.download_quality.clone();
                    match offline::mark(&self.device.mirror, &self.device.cache, &p, &quality) {
                        Ok(()) => {
                            spawn_download(&self.device, self.tx.clone());
                            state.message =
                                Some(format!("{} will be kept offline at {quality}", p.name));
                        }
                        Err(e) => state.message = Some(e.to_string()),
                    }
                } else {
                    offline::unmark(&self.device.mirror, &self.device.cache, id)
                        .map_err(|e| TuiError::Audio(e.to_string()))?;
                    state.message = Some(format!("{} is no longer kept offline", p.name));
                }
                state::update(
                    state,
                    Action::Playlists(load_playlists(&self.device.mirror)?),
                )
            }
            Effect::LoadRecommendations => {
                spawn_recommendations(&self.device, self.tx.clone());
                vec![]
            }
            Effect::RefreshDownloads => {
                state::update(state, Action::Downloads(downloads_info(&self.device)?))
            }
            Effect::Sync => {
                spawn_sync_once(&self.device, self.tx.clone());
                vec![]
            }
            Effect::CycleStreamQuality => {
                // The server's profiles, asked each time (one small GET): they are the server's.
                let profiles = self
                    .device
                    .api()
                    .map_err(|e| e.to_string())
                    .and_then(|api| {
                        api.profiles()
                            .map(|p| p.into_iter().map(|p| p.id).collect::<Vec<_>>())
                            .map_err(|e| e.to_string())
                    });
                match profiles {
                    Ok(ids) => {
                        let next = next_quality(&state.qualities.0, &ids);
                        self.player.stream_quality.set(&next);
                        state.message = Some(format!("streaming at {next} from the next track"));
                        state.qualities.0 = next;
                    }
                    Err(e) => {
                        state.message = Some(format!("stream quality unchanged: {e}"));
                    }
                }
                vec![]
            }
            Effect::Quit => vec![],
        };
        Ok(follow)
    }

    /// After a local edit: show it, and push it if the server is there.
    fn after_edit(&mut self, state: &mut AppState, message: &str) -> Result<Vec<Effect>, TuiError> {
        state.message = Some(message.to_string());
        let mut follow = state::update(
            state,
            Action::Playlists(load_playlists(&self.device.mirror)?),
        );
        follow.push(Effect::RefreshDownloads);
        if state.link == Link::Online {
            spawn_sync_once(&self.device, self.tx.clone());
        }
        Ok(follow)
    }
}

fn load_artists(mirror: &Mirror) -> Result<Vec<state::ArtistRow>, TuiError> {
    Ok(mirror
        .album_artists()?
        .into_iter()
        .map(|(id, name, albums)| state::ArtistRow { id, name, albums })
        .collect())
}

fn load_playlists(mirror: &Mirror) -> Result<Vec<PlaylistRow>, TuiError> {
    Ok(mirror
        .playlists()?
        .into_iter()
        .map(|p| PlaylistRow {
            id: p.id,
            name: p.name,
            entries: p.entries.len(),
            offline: p.offline,
            pending_ops: p.pending_ops,
            mine: p.owner.is_none() || p.local_only || p.pending_ops > 0 || !p.public,
        })
        .collect())
}

/// The profile after `current` in the server's list (`original` first), wrapping around; the
/// first when `current` is not offered.
fn next_quality(current: &str, offered: &[String]) -> String {
    let at = offered.iter().position(|p| p == current);
    let next = at.map_or(0, |i| (i + 1) % offered.len().max(1));
    offered
        .get(next)
        .cloned()
        .unwrap_or_else(|| crate::quality::ORIGINAL.to_owned())
}

#[cfg(test)]
#[test]
fn stream_quality_cycles_through_the_servers_profiles() {
    let ids: Vec<String> = ["original", "opus-64", "opus-96"]
        .map(String::from)
        .to_vec();
    assert_eq!(next_quality("original", &ids), "opus-64");
    assert_eq!(next_quality("opus-96", &ids), "original");
    assert_eq!(next_quality("mp3-128", &ids), "original");
    assert_eq!(next_quality("opus-64", &[]), "original");
}

fn downloads_info(device: &Device) -> Result<DownloadsInfo, TuiError> {
    let stats = device
        .cache
        .stats()
        .map_err(|e| TuiError::Audio(e.to_string()))?;
    Ok(DownloadsInfo {
        cache_used: stats.used_bytes,
        cache_cap: stats.cap_bytes,
        cached_files: stats.files,
        pinned_files: stats.pinned_files,
        partial_bytes: stats.partial_bytes,
        pending_ops: device.mirror.pending_op_count()?,
        pending_events: device.mirror.pending_event_count()?,
        progress: None,
    })
}

/// Reads terminal input on its own thread, so the UI loop only ever blocks on its channel.
fn spawn_input(tx: Sender<Msg>) {
    std::thread::spawn(move || {
        loop {
            let msg = match event::read() {
                Ok(Event::Key(k)) => Msg::Action(Action::Key(k)),
                Ok(Event::Mouse(m)) => Msg::Action(Action::Mouse(m)),
                Ok(Event::Resize(..)) => Msg::Redraw,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}

fn open_mirror(device: &Device) -> Option<Mirror> {
    Mirror::open(&device.dirs.data.join("mirror.sqlite")).ok()
}

/// One sync now, on a thread of its own (with its own mirror connection).
fn spawn_sync_once(device: &Device, tx: Sender<Msg>) {
    spawn_sync(device, tx, None);
}

/// Syncs every [`SYNC_EVERY`] while the TUI is open.
fn spawn_syncer(device: &Device, tx: Sender<Msg>) {
    spawn_sync(device, tx, Some(SYNC_EVERY));
}

/// Sync rounds on a thread of their own (with their own mirror connection), once or every
/// `every`; each reports the link state and what changed.
fn spawn_sync(device: &Device, tx: Sender<Msg>, every: Option<Duration>) {
    let (Some(mut mirror), Ok(api)) = (open_mirror(device), device.api()) else {
        return;
    };
    let cache = device.cache.clone();
    let fetcher = device.fetcher().ok();
    let parallel = device.settings.parallel_downloads;
    std::thread::spawn(move || {
        let mut link = mirror.connectivity().unwrap_or_default();
        loop {
            sync_round(
                &mut mirror,
                &api,
                &cache,
                fetcher.as_ref(),
                parallel,
                &mut link,
                &tx,
            );
            match every {
                Some(pause) => std::thread::sleep(pause),
                None => return,
            }
        }
    });
}

fn sync_round(
    mirror: &mut Mirror,
    api: &ApiClient,
    cache: &crate::cache::AudioCache,
    fetcher: Option<&crate::cache::Fetcher>,
    parallel: usize,
    link: &mut Connectivity,
    tx: &Sender<Msg>,
) {
    let send = |a: Action| {
        tx.send(Msg::Action(a)).ok();
    };
    let result = sync::sync(mirror, api);
    link.record(!matches!(&result, Err(e) if e.is_offline()));
    let _ = mirror.set_connectivity(link);
    send(Action::Link(link.link));
    match result {
        Ok(report) => {
            let changed = report.tracks_changed
                + report.tracks_deleted
                + report.playlists_changed
                + report.playlists_deleted;
            send(Action::SyncStatus("synced".into()));
            if report.tracks_changed + report.tracks_deleted > 0 {
                tx.send(Msg::CatalogChanged).ok();
            }
            if changed > 0 {
                if let Ok(p) = load_playlists(mirror) {
                    send(Action::Playlists(p));
                }
                if let Ok(a) = load_artists(mirror) {
                    send(Action::Artists(a));
                }
            }
            if let (Some(fetcher), Ok(playlists)) = (fetcher, offline::refresh_pins(mirror, cache))
                && !playlists.is_empty()
            {
                let _ = offline::download(
                    mirror,
                    cache,
                    fetcher,
                    &playlists,
                    parallel,
                    &offline::Quiet,
                );
            }
        }
        Err(e) if e.is_offline() => send(Action::SyncStatus("offline: edits wait".into())),
        Err(e) => send(Action::SyncStatus(format!("sync failed: {e}"))),
    }
}

/// Downloads offline playlists on a thread, reporting progress to the Downloads view.
fn spawn_download(device: &Device, tx: Sender<Msg>) {
    let (Some(mirror), Ok(fetcher)) = (open_mirror(device), device.fetcher()) else {
        return;
    };
    let cache = device.cache.clone();
    let parallel = device.settings.parallel_downloads;
    std::thread::spawn(move || {
        struct Report<'a> {
            tx: &'a Sender<Msg>,
            total: std::sync::atomic::AtomicU64,
            base: DownloadsInfo,
        }
        impl offline::Progress for Report<'_> {
            fn start(&self, total: u64, _: u64) {
                self.total
                    .store(total, std::sync::atomic::Ordering::Relaxed);
            }
            fn advance(&self, done: u64) {
                let mut info = self.base.clone();
                let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
                info.progress = Some(("offline playlists".into(), done, total));
                self.tx.send(Msg::Action(Action::Downloads(info))).ok();
            }
        }
        let Ok(playlists) = offline::refresh_pins(&mirror, &cache) else {
            return;
        };
        let stats = cache.stats().ok();
        let base = DownloadsInfo {
            cache_used: stats.as_ref().map_or(0, |s| s.used_bytes),
            cache_cap: cache.cap_bytes(),
            ..Default::default()
        };
        let report = Report {
            tx: &tx,
            total: Default::default(),
            base,
        };
        let outcome = offline::download(&mirror, &cache, &fetcher, &playlists, parallel, &report);
        let message = match outcome {
            Ok(r) if r.failed.is_empty() => {
                format!("offline: {} tracks cached", r.already_cached + r.downloaded)
            }
            Ok(r) => format!("offline: {} tracks could not be fetched", r.failed.len()),
            Err(e) => format!("offline: {e}"),
        };
        tx.send(Msg::Action(Action::Message(message))).ok();
        if let Ok(p) = load_playlists(&mirror) {
            tx.send(Msg::Action(Action::Playlists(p))).ok();
        }
    });
}

/// Fetches "for you" from the server when online; says why not otherwise.
fn spawn_recommendations(device: &Device, tx: Sender<Msg>) {
    let (Some(mirror), Ok(api)) = (open_mirror(device), device.api()) else {
        tx.send(Msg::Action(Action::Recommendations(
            vec![],
            "Log in to get recommendations.".into(),
        )))
        .ok();
        return;
    };
    let cache = device.cache.clone();
    std::thread::spawn(move || {
        let action = match api.recommendations(50) {
            Ok(tracks) => {
                let rows = tracks
                    .iter()
                    .map(|t| row(t, cache.contains(&t.content_hash)))
                    .collect();
                Action::Recommendations(rows, "from your listening".into())
            }
            Err(e) if e.is_offline() => Action::Recommendations(
                vec![],
                "Offline: recommendations come from the server; they return when it does.".into(),
            ),
            Err(e) => Action::Recommendations(vec![], format!("No recommendations: {e}")),
        };
        drop(mirror);
        tx.send(Msg::Action(action)).ok();
    });
}

#[cfg(test)]
mod tests;
