//! MPRIS on the session bus (Linux): media keys, desktop widgets and `playerctl` see and drive
//! the TUI as `org.mpris.MediaPlayer2.mixtape.instance<pid>`.
//!
//! The server (mpris-server, on zbus) runs on a thread of its own. Calls from the bus become
//! [`RemoteCommand`]s, handed to the UI loop as [`Action::Remote`], so they go through the same
//! pure `update` (and produce the same effects) as the keys. The UI loop hands back a
//! [`Snapshot`] of what plays after each batch of actions; the server answers property reads
//! from the latest one and signals what changed (`PropertiesChanged`, `Seeked` on a jump).
//!
//! Without a session bus, or when connecting fails, there is no MPRIS and nothing is said but a
//! debug log line.

use super::Msg;
use super::state::{Action, AppState, RemoteCommand, Repeat};
use mpris_server::zbus::{Result as ZResult, fdo};
use mpris_server::{
    LoopStatus, Metadata, PlaybackRate, PlaybackStatus, PlayerInterface, Property, RootInterface,
    Server, Signal, Time, TrackId, Volume,
};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The object path prefix of track ids in `mpris:trackid`.
const TRACK_PATH: &str = "/org/mixtape/track/";
/// How long `start` waits for the bus.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The playing track as MPRIS shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackMeta {
    pub id: i64,
    pub title: String,
    pub artists: Vec<String>,
    pub album: String,
    pub duration_ms: u64,
}

/// What the UI knows about playback, as MPRIS needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub status: PlaybackStatus,
    pub track: Option<TrackMeta>,
    pub position_ms: u64,
    /// 0..=100.
    pub volume: u8,
    pub shuffle: bool,
    pub repeat: Repeat,
    pub can_next: bool,
    pub can_previous: bool,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            status: PlaybackStatus::Stopped,
            track: None,
            position_ms: 0,
            volume: 100,
            shuffle: false,
            repeat: Repeat::Off,
            can_next: false,
            can_previous: false,
        }
    }
}

impl Snapshot {
    pub fn of(state: &AppState) -> Self {
        let p = &state.playback;
        let track = state.now_playing().map(|t| TrackMeta {
            id: t.id.0,
            title: t.title.clone(),
            artists: t
                .artists
                .split(", ")
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
            album: t.album.clone(),
            duration_ms: t.duration_ms,
        });
        let status = match (&track, p.paused) {
            (None, _) => PlaybackStatus::Stopped,
            (Some(_), true) => PlaybackStatus::Paused,
            (Some(_), false) => PlaybackStatus::Playing,
        };
        let many = state.queue.len() > 1 || p.repeat != Repeat::Off;
        Self {
            status,
            track,
            position_ms: p.position_ms,
            volume: p.volume,
            shuffle: p.shuffle,
            repeat: p.repeat,
            can_next: many,
            can_previous: !state.queue.is_empty(),
        }
    }

    fn metadata(&self) -> Metadata {
        let Some(t) = &self.track else {
            return Metadata::builder().trackid(TrackId::NO_TRACK).build();
        };
        let id = TrackId::try_from(format!("{TRACK_PATH}{}", t.id)).unwrap_or(TrackId::NO_TRACK);
        Metadata::builder()
            .trackid(id)
            .title(t.title.clone())
            .artist(t.artists.clone())
            .album(t.album.clone())
            .length(Time::from_millis(t.duration_ms as i64))
            .build()
    }

    fn loop_status(&self) -> LoopStatus {
        match self.repeat {
            Repeat::Off => LoopStatus::None,
            Repeat::All => LoopStatus::Playlist,
            Repeat::One => LoopStatus::Track,
        }
    }

    /// The properties that differ from `before`, for `PropertiesChanged`.
    fn changes(&self, before: &Snapshot) -> Vec<Property> {
        let mut out = Vec::new();
        if self.status != before.status {
            out.push(Property::PlaybackStatus(self.status));
        }
        if self.track != before.track {
            out.push(Property::Metadata(self.metadata()));
        }
        if self.volume != before.volume {
            out.push(Property::Volume(self.volume as f64 / 100.0));
        }
        if self.shuffle != before.shuffle {
            out.push(Property::Shuffle(self.shuffle));
        }
        if self.repeat != before.repeat {
            out.push(Property::LoopStatus(self.loop_status()));
        }
        if self.can_next != before.can_next {
            out.push(Property::CanGoNext(self.can_next));
        }
        if self.can_previous != before.can_previous {
            out.push(Property::CanGoPrevious(self.can_previous));
        }
        if self.track.is_some() != before.track.is_some() {
            let some = self.track.is_some();
            out.extend([
                Property::CanPlay(some),
                Property::CanPause(some),
                Property::CanSeek(some),
            ]);
        }
        out
    }
}

type OnCommand = Box<dyn Fn(RemoteCommand) + Send + Sync>;

/// The bus side: answers from the latest snapshot, sends commands to the UI.
struct Imp {
    snapshot: Arc<Mutex<Snapshot>>,
    on_command: OnCommand,
}

impl Imp {
    fn snap(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn send(&self, c: RemoteCommand) -> fdo::Result<()> {
        (self.on_command)(c);
        Ok(())
    }
}

impl RootInterface for Imp {
    async fn raise(&self) -> fdo::Result<()> {
        Ok(())
    }
    async fn quit(&self) -> fdo::Result<()> {
        Ok(())
    }
    async fn can_quit(&self) -> fdo::Result<bool> {
        Ok(false)
    }
    async fn fullscreen(&self) -> fdo::Result<bool> {
        Ok(false)
    }
    async fn set_fullscreen(&self, _: bool) -> ZResult<()> {
        Ok(())
    }
    async fn can_set_fullscreen(&self) -> fdo::Result<bool> {
        Ok(false)
    }
    async fn can_raise(&self) -> fdo::Result<bool> {
        Ok(false)
    }
    async fn has_track_list(&self) -> fdo::Result<bool> {
        Ok(false)
    }
    async fn identity(&self) -> fdo::Result<String> {
        Ok("Mixtape".into())
    }
    async fn desktop_entry(&self) -> fdo::Result<String> {
        Ok("mixtape".into())
    }
    async fn supported_uri_schemes(&self) -> fdo::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn supported_mime_types(&self) -> fdo::Result<Vec<String>> {
        Ok(vec![])
    }
}

impl PlayerInterface for Imp {
    async fn next(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::Next)
    }
    async fn previous(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::Previous)
    }
    async fn pause(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::Pause)
    }
    async fn play_pause(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::PlayPause)
    }
    async fn stop(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::Stop)
    }
    async fn play(&self) -> fdo::Result<()> {
        self.send(RemoteCommand::Play)
    }
    async fn seek(&self, offset: Time) -> fdo::Result<()> {
        self.send(RemoteCommand::SeekBy(offset.as_millis()))
    }
    async fn set_position(&self, track_id: TrackId, position: Time) -> fdo::Result<()> {
        // The spec: ignored unless it names the current track and lies within it.
        let snap = self.snap();
        let current = snap.metadata().trackid();
        let length = snap.track.as_ref().map_or(0, |t| t.duration_ms as i64);
        let ms = position.as_millis();
        if current.as_ref() == Some(&track_id) && (0..=length).contains(&ms) {
            self.send(RemoteCommand::SetPosition(ms as u64))?;
        }
        Ok(())
    }
    async fn open_uri(&self, _: String) -> fdo::Result<()> {
        Err(fdo::Error::NotSupported("OpenUri".into()))
    }
    async fn playback_status(&self) -> fdo::Result<PlaybackStatus> {
        Ok(self.snap().status)
    }
    async fn loop_status(&self) -> fdo::Result<LoopStatus> {
        Ok(self.snap().loop_status())
    }
    async fn set_loop_status(&self, loop_status: LoopStatus) -> ZResult<()> {
        let r = match loop_status {
            LoopStatus::None => Repeat::Off,
            LoopStatus::Track => Repeat::One,
            LoopStatus::Playlist => Repeat::All,
        };
        (self.on_command)(RemoteCommand::SetRepeat(r));
        Ok(())
    }
    async fn rate(&self) -> fdo::Result<PlaybackRate> {
        Ok(1.0)
    }
    async fn set_rate(&self, _: PlaybackRate) -> ZResult<()> {
        Ok(())
    }
    async fn shuffle(&self) -> fdo::Result<bool> {
        Ok(self.snap().shuffle)
    }
    async fn set_shuffle(&self, shuffle: bool) -> ZResult<()> {
        (self.on_command)(RemoteCommand::SetShuffle(shuffle));
        Ok(())
    }
    async fn metadata(&self) -> fdo::Result<Metadata> {
        Ok(self.snap().metadata())
    }
    async fn volume(&self) -> fdo::Result<Volume> {
        Ok(self.snap().volume as f64 / 100.0)
    }
    async fn set_volume(&self, volume: Volume) -> ZResult<()> {
        let v = (volume.clamp(0.0, 1.0) * 100.0).round() as u8;
        (self.on_command)(RemoteCommand::SetVolume(v));
        Ok(())
    }
    async fn position(&self) -> fdo::Result<Time> {
        Ok(Time::from_millis(self.snap().position_ms as i64))
    }
    async fn minimum_rate(&self) -> fdo::Result<PlaybackRate> {
        Ok(1.0)
    }
    async fn maximum_rate(&self) -> fdo::Result<PlaybackRate> {
        Ok(1.0)
    }
    async fn can_go_next(&self) -> fdo::Result<bool> {
        Ok(self.snap().can_next)
    }
    async fn can_go_previous(&self) -> fdo::Result<bool> {
        Ok(self.snap().can_previous)
    }
    async fn can_play(&self) -> fdo::Result<bool> {
        Ok(self.snap().track.is_some())
    }
    async fn can_pause(&self) -> fdo::Result<bool> {
        Ok(self.snap().track.is_some())
    }
    async fn can_seek(&self) -> fdo::Result<bool> {
        Ok(self.snap().track.is_some())
    }
    async fn can_control(&self) -> fdo::Result<bool> {
        Ok(true)
    }
}

/// A running MPRIS server; dropping it ends the server thread and leaves the bus.
pub struct Mpris {
    bus_name: String,
    updates: tokio::sync::mpsc::UnboundedSender<Snapshot>,
    last: Option<Snapshot>,
}

impl Mpris {
    /// `org.mpris.MediaPlayer2.mixtape.instance<pid>`.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// Hands the server what plays now (nothing is sent when nothing changed).
    pub fn update(&mut self, state: &AppState) {
        let snap = Snapshot::of(state);
        if self.last.as_ref() == Some(&snap) {
            return;
        }
        self.last = Some(snap.clone());
        self.updates.send(snap).ok();
    }
}

/// Starts the server on the session bus, calling `on_command` for every command from the bus.
/// `None` (logged at debug level) without a session bus or when connecting fails.
pub fn start(on_command: impl Fn(RemoteCommand) + Send + Sync + 'static) -> Option<Mpris> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
        tracing::debug!("mpris: no session bus (DBUS_SESSION_BUS_ADDRESS is unset)");
        return None;
    }
    let suffix = format!("mixtape.instance{}", std::process::id());
    let bus_name = format!("org.mpris.MediaPlayer2.{suffix}");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (updates, mut rx) = tokio::sync::mpsc::unbounded_channel::<Snapshot>();
    let on_command: OnCommand = Box::new(on_command);
    let spawned = std::thread::Builder::new()
        .name("mpris".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    ready_tx.send(Err(e.to_string())).ok();
                    return;
                }
            };
            runtime.block_on(async move {
                let snapshot = Arc::new(Mutex::new(Snapshot::default()));
                let imp = Imp {
                    snapshot: snapshot.clone(),
                    on_command,
                };
                let server = match Server::new(&suffix, imp).await {
                    Ok(s) => s,
                    Err(e) => {
                        ready_tx.send(Err(e.to_string())).ok();
                        return;
                    }
                };
                ready_tx.send(Ok(())).ok();
                let mut at = Instant::now();
                while let Some(next) = rx.recv().await {
                    let before = {
                        let mut s = snapshot.lock().unwrap_or_else(|e| e.into_inner());
                        std::mem::replace(&mut *s, next.clone())
                    };
                    let changes = next.changes(&before);
                    if !changes.is_empty()
                        && let Err(e) = server.properties_changed(changes).await
                    {
                        tracing::debug!("mpris: {e}");
                    }
                    // A jump within the same track (a seek) is signalled; playing on is not.
                    let elapsed = at.elapsed().as_millis() as i64;
                    at = Instant::now();
                    let expected = before.position_ms as i64
                        + if before.status == PlaybackStatus::Playing {
                            elapsed
                        } else {
                            0
                        };
                    if next.track.is_some()
                        && next.track == before.track
                        && (next.position_ms as i64 - expected).abs() > 2_000
                    {
                        let position = Time::from_millis(next.position_ms as i64);
                        if let Err(e) = server.emit(Signal::Seeked { position }).await {
                            tracing::debug!("mpris: {e}");
                        }
                    }
                }
            });
        });
    if let Err(e) = spawned {
        tracing::debug!("mpris: {e}");
        return None;
    }
    match ready_rx.recv_timeout(CONNECT_TIMEOUT) {
        Ok(Ok(())) => {
            tracing::debug!("mpris: serving as {bus_name}");
            Some(Mpris {
                bus_name,
                updates,
                last: None,
            })
        }
        Ok(Err(e)) => {
            tracing::debug!("mpris: not available: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("mpris: the session bus did not answer");
            None
        }
    }
}

/// Starts MPRIS off the UI thread (the first frame does not wait for the bus); the server
/// reaches the UI loop as [`Msg::Mpris`] when it is up.
pub(crate) fn spawn(tx: Sender<Msg>) {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return;
    }
    std::thread::spawn(move || {
        let commands = tx.clone();
        let on_command = move |c: RemoteCommand| {
            commands.send(Msg::Action(Action::Remote(c))).ok();
        };
        if let Some(m) = start(on_command) {
            tx.send(Msg::Mpris(m)).ok();
        }
    });
}

#[cfg(test)]
mod tests;
